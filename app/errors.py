"""Domain errors, and the translation of AWS SDK failures into them.

This module knows nothing of HTTP; `app.exception_handlers` maps these errors to responses.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

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


class ServiceError(Exception):
    """Base of the errors this service raises on purpose."""


class NotFoundError(ServiceError):
    """The resource asked for does not exist."""

    def __init__(self, resource: str, resource_id: object) -> None:
        super().__init__(f"{resource} {resource_id} not found")
        self.resource = resource
        self.resource_id = resource_id


class AgeNotAllowedError(ServiceError):
    """No registered age group admits the age of an enrollment."""

    def __init__(self, age: int) -> None:
        super().__init__(f"Age {age} is not in any registered age group")
        self.age = age


class IdempotencyKeyInvalidError(ServiceError):
    """An `Idempotency-Key` that is not 1 to 255 printable ASCII characters."""

    def __init__(self) -> None:
        super().__init__("Idempotency-Key must be 1 to 255 printable ASCII characters")


class IdempotencyKeyReusedError(ServiceError):
    """An `Idempotency-Key` already used for a request with another body."""

    def __init__(self) -> None:
        super().__init__("This Idempotency-Key was used for another request")


class RequestInProgressError(ServiceError):
    """The first request with this `Idempotency-Key` has not finished yet."""

    def __init__(self) -> None:
        super().__init__("A request with this Idempotency-Key is still in progress")


class DependencyError(ServiceError):
    """An AWS dependency failed in a way a retry will not fix."""

    def __init__(self, dependency: str, problem: str = "failed") -> None:
        super().__init__(f"{dependency} {problem}")
        self.dependency = dependency


class DependencyUnavailableError(DependencyError):
    """An AWS dependency is throttling or unavailable; the same call may succeed later."""

    def __init__(self, dependency: str) -> None:
        super().__init__(dependency, "is unavailable")


def error_code(exc: ClientError) -> str:
    """The AWS error code of a `ClientError`."""
    return str(exc.response.get("Error", {}).get("Code", ""))


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
