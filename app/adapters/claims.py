"""An `Idempotency-Key`'s record: the claim a request holds on it, and the answer it keeps.

`app.adapters.idempotency` claims, completes and releases the records; this module says what a
record holds and how a claim's completion is written in the resource's own transaction.
"""

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

# How long an answer is remembered; DynamoDB's TTL deletes the record some time after.
RETENTION_SECONDS = 24 * 60 * 60
# What a completed record holds: the answer's body, or only the id of the resource it answered
# with, which a replay reads again as it is then (an enrollment: no copy of its personal data).
BODY_ATTRIBUTE = "response_body"
RESOURCE_ID_ATTRIBUTE = "resource_id"
# Longer than any request can run: API Gateway gives up after 29 s, and the function's timeout
# (the template's ApiTimeoutSeconds, at most 28) is shorter still.
LEASE_SECONDS = 30

IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"

Item = dict[str, "AttributeValueTypeDef"]

# The condition of every write that settles a claim: the record is still in progress under it.
HELD = "#state = :in_progress AND #token = :token"
HELD_NAMES = {"#state": "state", "#token": "token"}


class Claim(NamedTuple):
    """The right to execute the request with one key, held under `token`."""

    table_name: str
    request_key: str
    token: str

    @property
    def key(self) -> Item:
        return {"request_key": {"S": self.request_key}}

    def held_values(self) -> Item:
        """The values of the `HELD` condition for this claim."""
        return {":in_progress": {"S": IN_PROGRESS}, ":token": {"S": self.token}}

    def completion(self, attribute: str, value: str) -> "TransactWriteItemTypeDef":
        """The write that completes this claim with its answer, in the resource's transaction:
        its body (`BODY_ATTRIBUTE`) or its resource's id (`RESOURCE_ID_ATTRIBUTE`).

        It fails (and with it the transaction) if the claim was lost: taken over after its lease.
        """
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": self.key,
                "UpdateExpression": f"SET #state = :completed, {attribute} = :answer",
                "ConditionExpression": HELD,
                "ExpressionAttributeNames": HELD_NAMES,
                "ExpressionAttributeValues": self.held_values()
                | {":completed": {"S": COMPLETED}, ":answer": {"S": value}},
            }
        }


class Answer(NamedTuple):
    """The remembered answer to the first request with a key: a body, and a status if refused;
    or the id of the resource it answered with, to read again."""

    body: str = ""
    status: int | None = None
    resource_id: str | None = None
