"""AWS SDK failures, translated into the domain's dependency errors."""

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from app.domain.errors import DependencyError, DependencyUnavailableError

CONDITION_FAILED = "ConditionalCheckFailedException"

# Error codes that mean "the dependency is overloaded or briefly down: try again later".
RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "LimitExceededException",
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "TransactionInProgressException",
        "RequestThrottled",
        "KMS.ThrottlingException",
    }
)


def error_code(exc: ClientError) -> str:
    """The AWS error code of a `ClientError`."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def cancellation_reasons(exc: ClientError) -> list[str]:
    """The reason a cancelled transaction gives for each of its items, in their order."""
    reasons: list[dict[str, str]] = exc.response.get("CancellationReasons", [])  # type: ignore[assignment]
    return [reason.get("Code", "None") for reason in reasons]


def failed_on_retry(exc: ClientError) -> bool:
    """Whether the SDK had retried the call before this error.

    A conditional write whose first attempt took effect but whose answer was lost (a read
    timeout) is retried by the SDK, and the retry then fails its own condition.
    """
    return int(exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)) > 0


@contextmanager
def translate_aws_errors(dependency: str) -> Iterator[None]:
    """Re-raise AWS SDK failures inside the block as `DependencyError`s naming `dependency`."""
    try:
        yield
    except ClientError as exc:
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        # A 5xx, whatever its code, is the service failing, not the request.
        if error_code(exc) in RETRYABLE_CODES or status >= 500:
            raise DependencyUnavailableError(dependency) from exc
        raise DependencyError(dependency) from exc
    except (ConnectionError, HTTPClientError) as exc:
        # Connection refused or reset, and connect/read timeouts, after the SDK's own retries.
        raise DependencyUnavailableError(dependency) from exc
    except BotoCoreError as exc:
        raise DependencyError(dependency) from exc
