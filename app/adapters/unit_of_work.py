"""A unit of work over DynamoDB: the new items a use case staged, and the writes that must go with
them, stored by one `PutItem` or, when there is more than one write, one `TransactWriteItems`."""

from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from app.adapters.errors import (
    CONDITION_FAILED,
    RETRYABLE_CODES,
    cancellation_reasons,
    error_code,
    failed_on_retry,
    translate_aws_errors,
)
from app.adapters.tables import Table
from app.domain.errors import DependencyUnavailableError, RequestInProgressError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        PutTypeDef,
        TransactWriteItemTypeDef,
    )

TRANSACTION_CANCELED = "TransactionCanceledException"
# The reason a cancelled transaction gives for an item whose condition failed.
CONDITION_CHECK_FAILED = "ConditionalCheckFailed"
# Reasons a transaction is cancelled that a later attempt may not meet.
TRANSIENT_REASONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
)


class DynamoDBUnitOfWork:
    """What one request writes: one new item, plus the writes that must succeed with it."""

    def __init__(self, client: "DynamoDBClient") -> None:
        self._client = client
        self._put: PutTypeDef | None = None
        self._dependency = ""
        self._alongside: list[TransactWriteItemTypeDef] = []
        self._callbacks: list[Callable[[], None]] = []

    def put_new(self, table: Table, item: dict[str, "AttributeValueTypeDef"]) -> None:
        """Stage a new item of `table`; its key is new, so the put is conditional on its absence.

        A repository calls it for the resource a use case adds (`AgeGroupRepository.add`).
        """
        if self._put is not None:
            raise ValueError("A unit of work stores one new resource")
        self._dependency = table.spec.dependency
        self._put = {
            "TableName": table.name,
            "Item": item,
            "ConditionExpression": f"attribute_not_exists({table.spec.key})",
        }

    def add_write(self, write: "TransactWriteItemTypeDef") -> None:
        """A write that must succeed with the new item, or neither is stored (a completion)."""
        self._alongside.append(write)

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the commit has stored what was staged."""
        self._callbacks.append(callback)

    def commit(self) -> None:
        """Store the new item and the writes alongside it, all or none.

        The item's key is new, so only this call's own earlier attempt can have written it: when
        the SDK's retry fails the condition, the first attempt took effect and its answer was
        lost. A transaction whose write alongside fails its condition (and not on a retry) lost
        its idempotency claim to a later request with the same key: `RequestInProgressError`.
        """
        if self._put is None:
            raise ValueError("Nothing to commit")
        with translate_aws_errors(self._dependency):
            try:
                if self._alongside:
                    self._client.transact_write_items(
                        TransactItems=[{"Put": self._put}, *self._alongside]
                    )
                else:
                    self._client.put_item(**self._put)
            except ClientError as exc:
                if not self._took_effect_before(exc):
                    raise
        for callback in self._callbacks:
            callback()

    def _took_effect_before(self, exc: ClientError) -> bool:
        """Whether `exc` only says that an earlier attempt of this commit took effect; raise the
        domain error it means otherwise (False: re-raise it as it is)."""
        code = error_code(exc)
        if code == CONDITION_FAILED:
            return failed_on_retry(exc)
        if code != TRANSACTION_CANCELED:
            return False
        reasons = cancellation_reasons(exc)
        if reasons and reasons[0] == CONDITION_CHECK_FAILED and failed_on_retry(exc):
            return True
        if TRANSIENT_REASONS.intersection(reasons) or RETRYABLE_CODES.intersection(reasons):
            raise DependencyUnavailableError(self._dependency) from exc
        if CONDITION_CHECK_FAILED in reasons[1:]:
            raise RequestInProgressError from exc
        return False
