"""The webhook deliveries table: each client's recent attempts, newest first, kept 30 days."""

from datetime import datetime
from typing import TYPE_CHECKING

from app.adapters.errors import translate_aws_errors
from app.adapters.tables import DELIVERIES, Table
from app.domain.errors import NotFoundError
from app.domain.models.webhooks import NOT_DELIVERED, DeliveryAttempt, DeliveryOutcome

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

Item = dict[str, "AttributeValueTypeDef"]
# DynamoDB's TTL deletes an attempt this long after it was made.
KEPT_SECONDS = 30 * 24 * 60 * 60
# A filtered listing reads at most this many pages of the table to fill its own.
MAX_PAGES_READ = 5


class DeliveryRepository:
    """Attempts, keyed by the client's `api_key_id` and the attempt's time-ordered id."""

    def __init__(self, client: "DynamoDBClient", table_name: str) -> None:
        self._client = client
        self._table = Table(DELIVERIES, table_name)

    def record(self, api_key_id: str, attempt: DeliveryAttempt) -> None:
        """Keep an attempt for its client to see, `KEPT_SECONDS`."""
        with translate_aws_errors(DELIVERIES.dependency):
            self._client.put_item(TableName=self._table.name, Item=to_item(api_key_id, attempt))

    def get(self, api_key_id: str, delivery_id: str) -> DeliveryAttempt:
        """One of the client's attempts, or `NotFoundError`."""
        with translate_aws_errors(DELIVERIES.dependency):
            response = self._client.get_item(
                TableName=self._table.name, Key=_key(api_key_id, delivery_id)
            )
        if "Item" not in response:
            raise NotFoundError("Delivery", delivery_id)
        return from_item(response["Item"])

    def recent(self, api_key_id: str, limit: int, failed_only: bool) -> list[DeliveryAttempt]:
        """The client's latest attempts, newest first: all, or those not delivered."""
        found: list[DeliveryAttempt] = []
        start: Item | None = None
        for _ in range(MAX_PAGES_READ):
            with translate_aws_errors(DELIVERIES.dependency):
                response = self._client.query(
                    TableName=self._table.name,
                    KeyConditionExpression="api_key_id = :owner",
                    ExpressionAttributeValues={":owner": {"S": api_key_id}},
                    ScanIndexForward=False,
                    Limit=limit,
                    **({"ExclusiveStartKey": start} if start else {}),  # type: ignore[arg-type]
                )
            found += [
                attempt
                for attempt in map(from_item, response.get("Items", []))
                if not failed_only or attempt.outcome in NOT_DELIVERED
            ]
            start = response.get("LastEvaluatedKey")
            if len(found) >= limit or start is None:
                break
        return found[:limit]


def _key(api_key_id: str, delivery_id: str) -> Item:
    return {DELIVERIES.key: {"S": api_key_id}, "delivery_id": {"S": delivery_id}}


def to_item(api_key_id: str, attempt: DeliveryAttempt) -> Item:
    """The attempt as an item, with its expiry."""
    item: Item = {
        **_key(api_key_id, attempt.delivery_id),
        "webhook_id": {"S": attempt.webhook_id},
        "event_type": {"S": attempt.event_type},
        "enrollment_id": {"S": str(attempt.enrollment_id)},
        "attempt": {"N": str(attempt.attempt)},
        "outcome": {"S": attempt.outcome},
        "attempted_at": {"S": attempt.attempted_at.isoformat()},
        "expires_at": {"N": str(int(attempt.attempted_at.timestamp()) + KEPT_SECONDS)},
    }
    if attempt.status_code is not None:
        item["status_code"] = {"N": str(attempt.status_code)}
    if attempt.error is not None:
        item["error"] = {"S": attempt.error}
    if attempt.next_attempt_at is not None:
        item["next_attempt_at"] = {"S": attempt.next_attempt_at.isoformat()}
    return item


def from_item(item: Item) -> DeliveryAttempt:
    """The attempt an item holds."""
    return DeliveryAttempt(
        delivery_id=item["delivery_id"]["S"],
        webhook_id=item["webhook_id"]["S"],
        event_type=item["event_type"]["S"],
        enrollment_id=item["enrollment_id"]["S"],  # type: ignore[arg-type]
        attempt=int(item["attempt"]["N"]),
        outcome=DeliveryOutcome(item["outcome"]["S"]),
        status_code=int(item["status_code"]["N"]) if "status_code" in item else None,
        error=item["error"]["S"] if "error" in item else None,
        attempted_at=datetime.fromisoformat(item["attempted_at"]["S"]),
        next_attempt_at=(
            datetime.fromisoformat(item["next_attempt_at"]["S"])
            if "next_attempt_at" in item
            else None
        ),
    )
