"""The idempotency table: one record per `Idempotency-Key`, kept for 24 hours.

A request with a key first *claims* its record: a conditional put that only one request can win.
The record then says what became of the request:

- in progress, under a lease: the claimant is working; another request with the key gets `409`;
- completed, with the answer's body, or only the id of the resource it answered with (an
  enrollment, whose personal data the record must not copy: `complete_by_reference`): written in
  the same transaction as the resource the request created (`complete` adds it to the request's
  unit of work), so a resource never exists without its answer, nor an answer without its
  resource, and a retry after a lost answer finds it;
- completed with a refusal (a `4xx` the request earned): remembered by `remember`;
- gone, after a failure (`release`): a retry executes afresh.

A claimant that dies without a word (a Lambda timeout) leaves a lease that runs out, and the next
request with the key takes the record over. The first request with a key costs one extra call:
the claim; its completion rides in the write the request makes anyway.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING
from uuid import uuid4

from botocore.exceptions import ClientError

from app.adapters.claims import (
    BODY_ATTRIBUTE,
    COMPLETED,
    HELD,
    HELD_NAMES,
    IN_PROGRESS,
    LEASE_SECONDS,
    RESOURCE_ID_ATTRIBUTE,
    RETENTION_SECONDS,
    Answer,
    Claim,
    Item,
)
from app.adapters.errors import CONDITION_FAILED, error_code, translate_aws_errors
from app.adapters.tables import EXPIRY_ATTRIBUTE, IDEMPOTENCY
from app.adapters.unit_of_work import DynamoDBUnitOfWork
from app.domain.errors import DependencyError, IdempotencyKeyReusedError, RequestInProgressError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class IdempotencyRepository:
    """Idempotency records, keyed by `request_key` (a hash of the caller, operation and key)."""

    def __init__(self, client: "DynamoDBClient", table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def claim(self, request_key: str, fingerprint: str) -> Claim | Answer:
        """Claim the record of `request_key`, or return the answer it already holds.

        Raises `IdempotencyKeyReusedError` if the key was used for a request with another
        `fingerprint`, and `RequestInProgressError` while another request holds the claim.
        """
        now = int(time.time())
        claim = Claim(self._table_name, request_key, uuid4().hex)
        item: Item = {
            "request_key": {"S": request_key},
            "fingerprint": {"S": fingerprint},
            "state": {"S": IN_PROGRESS},
            "token": {"S": claim.token},
            "lease_expires_at": {"N": str(now + LEASE_SECONDS)},
            EXPIRY_ATTRIBUTE: {"N": str(now + RETENTION_SECONDS)},
        }
        try:
            # An expired record that TTL has not deleted yet is as good as none.
            previous = self._put(
                item,
                "attribute_not_exists(request_key) OR #expires_at < :now",
                {"#expires_at": EXPIRY_ATTRIBUTE},
                {":now": {"N": str(now)}},
            )
        except DependencyError:
            # The put may have taken effect unseen: give the claim up, or its lease would turn
            # the retries away. If that fails too, the lease runs out.
            with suppress(DependencyError):
                self.release(claim)
            raise
        if previous is None or previous["token"]["S"] == claim.token:
            # Claimed; or this call's own earlier attempt claimed it and its answer was lost.
            return claim
        if previous["fingerprint"]["S"] != fingerprint:
            raise IdempotencyKeyReusedError
        if previous["state"]["S"] == COMPLETED:
            if RESOURCE_ID_ATTRIBUTE in previous:
                return Answer(resource_id=previous[RESOURCE_ID_ATTRIBUTE]["S"])
            status = previous.get("response_status", {}).get("N")
            return Answer(previous[BODY_ATTRIBUTE]["S"], int(status) if status else None)
        if int(previous["lease_expires_at"]["N"]) > now:
            raise RequestInProgressError
        # The claimant's lease ran out: it died. Take over, unless another request just did.
        if self._put(
            item, "#token = :previous", {"#token": "token"}, {":previous": previous["token"]}
        ):
            raise RequestInProgressError
        return claim

    def complete(self, claim: Claim, body: str, unit: DynamoDBUnitOfWork) -> None:
        """Complete the claim with `body`, in the same commit as the resource `unit` stores."""
        unit.add_write(claim.completion(BODY_ATTRIBUTE, body))

    def complete_by_reference(
        self, claim: Claim, resource_id: str, unit: DynamoDBUnitOfWork
    ) -> None:
        """Complete the claim with only the id of the resource `unit` stores, in the same commit:
        the record keeps no copy of it, and a replay reads it again."""
        unit.add_write(claim.completion(RESOURCE_ID_ATTRIBUTE, resource_id))

    def remember(self, claim: Claim, status: int, body: str) -> None:
        """Complete the claim with a refusal, so that a retry gets the same answer."""
        with _unless_lost():
            self._client.update_item(
                TableName=self._table_name,
                Key=claim.key,
                UpdateExpression="SET #state = :completed, response_status = :status, "
                f"{BODY_ATTRIBUTE} = :body",
                ConditionExpression=HELD,
                ExpressionAttributeNames=HELD_NAMES,
                ExpressionAttributeValues=claim.held_values()
                | {
                    ":completed": {"S": COMPLETED},
                    ":status": {"N": str(status)},
                    ":body": {"S": body},
                },
            )

    def release(self, claim: Claim) -> None:
        """Give up the claim of a request that failed, so that a retry executes afresh."""
        with _unless_lost():
            self._client.delete_item(
                TableName=self._table_name,
                Key=claim.key,
                ConditionExpression=HELD,
                ExpressionAttributeNames=HELD_NAMES,
                ExpressionAttributeValues=claim.held_values(),
            )

    def _put(
        self,
        item: Item,
        condition: str,
        names: dict[str, str],
        values: Item,
    ) -> Item | None:
        """Put `item` if `condition` holds; otherwise return the item that stands in its way."""
        with translate_aws_errors(IDEMPOTENCY.dependency):
            try:
                self._client.put_item(
                    TableName=self._table_name,
                    Item=item,
                    ConditionExpression=condition,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as exc:
                if error_code(exc) != CONDITION_FAILED:
                    raise
                previous: Item = exc.response["Item"]  # type: ignore[typeddict-item]
                return previous
        return None


@contextmanager
def _unless_lost() -> Iterator[None]:
    """Write to the claim's record only while the claim holds it: completed already, or taken over
    after its lease, it is not this claim's to settle."""
    with translate_aws_errors(IDEMPOTENCY.dependency):
        try:
            yield
        except ClientError as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise
