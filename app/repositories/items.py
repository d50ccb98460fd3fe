"""The write both tables make to create an item, with or without an idempotency claim."""

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from app.errors import (
    CONDITION_FAILED,
    RETRYABLE_CODES,
    DependencyUnavailableError,
    RequestInProgressError,
    error_code,
    failed_on_retry,
    translate_aws_errors,
)

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


def put_new_item(
    client: "DynamoDBClient",
    table_name: str,
    item: dict[str, "AttributeValueTypeDef"],
    key: str,
    dependency: str,
    completion: "TransactWriteItemTypeDef | None" = None,
) -> None:
    """Store `item`, whose `key` attribute is new; with `completion`, in one transaction with it.

    The key is new, so only this call's own earlier attempt can have written it: when the SDK's
    retry fails the condition, the first attempt took effect and its answer was lost. A
    transaction whose completion fails (and not on a retry) lost its idempotency claim to a later
    request with the same key: `RequestInProgressError`.
    """
    put: PutTypeDef = {
        "TableName": table_name,
        "Item": item,
        "ConditionExpression": f"attribute_not_exists({key})",
    }
    with translate_aws_errors(dependency):
        try:
            if completion is None:
                client.put_item(**put)
            else:
                client.transact_write_items(TransactItems=[{"Put": put}, completion])
        except ClientError as exc:
            code = error_code(exc)
            if code == CONDITION_FAILED and failed_on_retry(exc):
                return
            if code != TRANSACTION_CANCELED:
                raise
            cancelled: list[dict[str, str]] = exc.response.get("CancellationReasons", [])  # type: ignore[assignment]
            reasons = [reason.get("Code", "None") for reason in cancelled]
            if reasons and reasons[0] == CONDITION_CHECK_FAILED and failed_on_retry(exc):
                return
            if TRANSIENT_REASONS.intersection(reasons) or RETRYABLE_CODES.intersection(reasons):
                raise DependencyUnavailableError(dependency) from exc
            if reasons[1:] == [CONDITION_CHECK_FAILED]:
                raise RequestInProgressError from exc
            raise
