"""The webhooks table: each client's endpoint, by its API key's id, with its signing secrets."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from app.adapters.errors import CONDITION_FAILED, error_code, translate_aws_errors
from app.adapters.tables import WEBHOOKS, Table
from app.domain.errors import NotFoundError
from app.domain.models.webhooks import WebhookEndpoint
from app.domain.webhooks import ROTATION_OVERLAP_SECONDS, new_secret

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

Item = dict[str, "AttributeValueTypeDef"]
# What a client without an endpoint is told it lacks.
NO_ENDPOINT = ("Webhook endpoint", "of this API key")


class WebhookRepository:
    """Endpoints, one item per client, keyed by `api_key_id`."""

    def __init__(self, client: "DynamoDBClient", table_name: str) -> None:
        self._client = client
        self._table = Table(WEBHOOKS, table_name)

    def get(self, api_key_id: str, consistent: bool = True) -> WebhookEndpoint | None:
        """The client's endpoint, or None."""
        with translate_aws_errors(WEBHOOKS.dependency):
            response = self._client.get_item(
                TableName=self._table.name, Key=_key(api_key_id), ConsistentRead=consistent
            )
        item = response.get("Item")
        return None if item is None else from_item(item)

    def put(self, api_key_id: str, url: str) -> WebhookEndpoint:
        """Set the client's endpoint, enabled again; its secret is made on the first put, and
        kept by the next."""
        now = _now()
        with translate_aws_errors(WEBHOOKS.dependency):
            response = self._client.update_item(
                TableName=self._table.name,
                Key=_key(api_key_id),
                UpdateExpression=(
                    "SET #url = :url, enabled = :true, updated_at = :now, "
                    "created_at = if_not_exists(created_at, :now), "
                    "secret = if_not_exists(secret, :secret) "
                    "REMOVE disabled_reason, failing_since"
                ),
                ExpressionAttributeNames={"#url": "url"},
                ExpressionAttributeValues={
                    ":url": {"S": url},
                    ":true": {"BOOL": True},
                    ":now": {"S": now.isoformat()},
                    ":secret": {"S": new_secret()},
                },
                ReturnValues="ALL_NEW",
            )
        return from_item(response["Attributes"])

    def delete(self, api_key_id: str) -> None:
        """Remove the client's endpoint; `NotFoundError` if it has none."""
        with _unless_missing():
            self._client.delete_item(
                TableName=self._table.name,
                Key=_key(api_key_id),
                ConditionExpression="attribute_exists(api_key_id)",
            )

    def rotate(self, api_key_id: str) -> WebhookEndpoint:
        """A new secret; the current one still signs for `ROTATION_OVERLAP_SECONDS`."""
        until = _now() + timedelta(seconds=ROTATION_OVERLAP_SECONDS)
        return self._update_existing(
            api_key_id,
            "SET previous_secret = secret, previous_secret_until = :until, secret = :secret, "
            "updated_at = :now",
            {":until": {"S": until.isoformat()}, ":secret": {"S": new_secret()}},
        )

    def record_success(self, api_key_id: str) -> None:
        """A delivery succeeded: the endpoint is no longer failing."""
        with translate_aws_errors(WEBHOOKS.dependency):
            self._client.update_item(
                TableName=self._table.name,
                Key=_key(api_key_id),
                UpdateExpression="REMOVE failing_since",
                ConditionExpression="attribute_exists(api_key_id)",
            )

    def record_failure(self, api_key_id: str) -> WebhookEndpoint:
        """A delivery failed: the endpoint has been failing since its first failure in a row."""
        return self._update_existing(
            api_key_id, "SET failing_since = if_not_exists(failing_since, :now)", {}
        )

    def disable(self, api_key_id: str, reason: str) -> None:
        """Stop delivering to the client's endpoint, saying why."""
        self._update_existing(
            api_key_id,
            "SET enabled = :false, disabled_reason = :reason, updated_at = :now",
            {":false": {"BOOL": False}, ":reason": {"S": reason}},
        )

    def _update_existing(self, api_key_id: str, expression: str, values: Item) -> WebhookEndpoint:
        """Update the client's endpoint if it has one (`:now` given), else `NotFoundError`."""
        with _unless_missing():
            response = self._client.update_item(
                TableName=self._table.name,
                Key=_key(api_key_id),
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(api_key_id)",
                ExpressionAttributeValues={":now": {"S": _now().isoformat()}, **values},
                ReturnValues="ALL_NEW",
            )
        return from_item(response["Attributes"])


@contextmanager
def _unless_missing() -> Iterator[None]:
    """A write conditional on the endpoint's existence: `NotFoundError` if it has none."""
    with translate_aws_errors(WEBHOOKS.dependency):
        try:
            yield
        except ClientError as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise
            raise NotFoundError(*NO_ENDPOINT) from exc


def _now() -> datetime:
    return datetime.now(UTC)


def _key(api_key_id: str) -> Item:
    return {WEBHOOKS.key: {"S": api_key_id}}


def from_item(item: Item) -> WebhookEndpoint:
    """The endpoint an item holds."""

    def text(name: str) -> str | None:
        value = item.get(name, {}).get("S")
        return value if isinstance(value, str) else None

    def moment(name: str) -> datetime | None:
        value = text(name)
        return datetime.fromisoformat(value) if value else None

    created = moment("created_at") or _now()
    return WebhookEndpoint(
        url=text("url") or "",
        enabled=item.get("enabled", {}).get("BOOL") is True,
        disabled_reason=text("disabled_reason"),
        created_at=created,
        updated_at=moment("updated_at") or created,
        failing_since=moment("failing_since"),
        secret=text("secret") or "",
        previous_secret=text("previous_secret"),
        previous_secret_until=moment("previous_secret_until"),
    )


def to_item(api_key_id: str, endpoint: WebhookEndpoint) -> Item:
    """The endpoint as an item of its client's."""
    item: Item = {
        **_key(api_key_id),
        "url": {"S": endpoint.url},
        "enabled": {"BOOL": endpoint.enabled},
        "created_at": {"S": endpoint.created_at.isoformat()},
        "updated_at": {"S": endpoint.updated_at.isoformat()},
        "secret": {"S": endpoint.secret},
    }
    if endpoint.disabled_reason is not None:
        item["disabled_reason"] = {"S": endpoint.disabled_reason}
    return item
