"""The errors this service raises on purpose. They know nothing of HTTP or of AWS.

`app.api.errors` maps them to responses; `app.adapters.errors` turns AWS SDK failures into the
dependency errors below.
"""


class ServiceError(Exception):
    """Base of the errors this service raises on purpose."""


class RefusalError(ServiceError):
    """A request refused for what it asks: a retry of it gets the same answer."""


class NotFoundError(RefusalError):
    """The resource asked for does not exist."""

    def __init__(self, resource: str, resource_id: object) -> None:
        super().__init__(f"{resource} {resource_id} not found")
        self.resource = resource
        self.resource_id = resource_id


class AgeNotAllowedError(RefusalError):
    """No registered age group admits the age of an enrollment."""

    def __init__(self, age: int) -> None:
        super().__init__(f"Age {age} is not in any registered age group")
        self.age = age


class TooManyAgeGroupsError(RefusalError):
    """As many age groups as may be registered exist already."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"At most {limit} age groups may be registered: delete one before adding another"
        )
        self.limit = limit


class UnsafeWebhookUrlError(ServiceError):
    """A webhook URL a delivery must not go to; the message names the rule it breaks."""

    def __init__(self, rule: str) -> None:
        super().__init__(rule)
        self.rule = rule


class InvalidCursorError(RefusalError):
    """A list's `cursor` that this API did not give for this caller and these filters: made for
    another caller or other filters, edited, cut short, or not a cursor at all."""

    def __init__(self) -> None:
        super().__init__(
            "cursor is not a next_cursor given for this caller and these filters: "
            "start again from the first page, without it"
        )


class UnknownCallerError(ServiceError):
    """The request's API key belongs to no enabled client: denied, as by default."""

    def __init__(self) -> None:
        super().__init__("Forbidden")


class MissingScopeError(ServiceError):
    """The caller's key lacks the scope the operation needs."""

    def __init__(self, scope: str) -> None:
        super().__init__(f"This API key lacks the scope {scope}")
        self.scope = scope


class IdempotencyKeyInvalidError(ServiceError):
    """An `Idempotency-Key` that is not 1 to 255 printable ASCII characters."""

    def __init__(self) -> None:
        super().__init__("Idempotency-Key must be 1 to 255 printable ASCII characters")


class IdempotencyKeyRepeatedError(IdempotencyKeyInvalidError):
    """More than one `Idempotency-Key` in a request: which one the client meant is unknown."""

    def __init__(self) -> None:
        ServiceError.__init__(self, "Idempotency-Key must be sent once")


class IdempotencyKeyReusedError(ServiceError):
    """An `Idempotency-Key` already used for a request with another body."""

    def __init__(self) -> None:
        super().__init__("This Idempotency-Key was used for another request")


class RequestInProgressError(ServiceError):
    """The first request with this `Idempotency-Key` has not finished yet."""

    def __init__(self) -> None:
        super().__init__("A request with this Idempotency-Key is still in progress")


class DependencyError(ServiceError):
    """A dependency (a table, the queue) failed in a way a retry will not fix.

    Its message names the dependency, for the log; answers to clients do not repeat it.
    """

    def __init__(self, dependency: str, problem: str = "failed") -> None:
        super().__init__(f"{dependency} {problem}")
        self.dependency = dependency


class DependencyUnavailableError(DependencyError):
    """A dependency is throttling or unavailable; the same call may succeed later."""

    def __init__(self, dependency: str) -> None:
        super().__init__(dependency, "is unavailable")
