"""Models of the webhook resource: a client's endpoint, its secret, its deliveries, the event."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from app.domain.destinations import MAX_URL_LENGTH
from app.domain.models.common import REQUEST_CONFIG

WebhookUrl = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        description=(
            "Where each event is POSTed: an https URL whose host resolves to public addresses "
            "only (no loopback, private, link-local, unique-local or multicast address), without "
            "credentials or a fragment."
        ),
        examples=["https://partner.example/webhooks/enrollments"],
        json_schema_extra={"format": "uri", "pattern": "^https://"},
    ),
]


class WebhookEndpointSet(BaseModel):
    """The body of `PUT /webhook`."""

    model_config = REQUEST_CONFIG | {
        "json_schema_extra": {"examples": [{"url": "https://partner.example/webhooks/enrollments"}]}
    }

    url: WebhookUrl


class WebhookSecret(BaseModel):
    """An endpoint and the secret its deliveries are signed with: shown when set and rotated."""

    url: str
    secret: str = Field(
        description="`whsec_` and 32 random bytes in base64: verify each delivery with it.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class WebhookEndpoint(BaseModel):
    """A client's endpoint, without its secret."""

    url: str
    enabled: bool
    # Why deliveries stopped: the endpoint answered 410, or failed every delivery for 3 days.
    disabled_reason: str | None = None
    created_at: datetime
    updated_at: datetime
    # Since when every delivery has failed; none while they succeed.
    failing_since: datetime | None = None
    # The current secret, and the previous one while it still signs (a day after a rotation).
    # Never part of an answer.
    secret: str = Field(exclude=True)
    previous_secret: str | None = Field(default=None, exclude=True)
    previous_secret_until: datetime | None = Field(default=None, exclude=True)


class DeliveryOutcome(StrEnum):
    """What became of one attempt."""

    DELIVERED = "delivered"  # the endpoint answered 2xx
    FAILED = "failed"  # and is tried again later
    EXHAUSTED = "exhausted"  # failed, and the schedule is over
    DISABLED = "disabled"  # failed, and disabled the endpoint: a 410, or 3 days of failures
    ABANDONED = "abandoned"  # not sent: the endpoint is disabled, or the event is no longer so


# What the failed ones are, to a client that asks for them.
NOT_DELIVERED = frozenset(
    {DeliveryOutcome.FAILED, DeliveryOutcome.EXHAUSTED, DeliveryOutcome.DISABLED}
)


class DeliveryAttempt(BaseModel):
    """One attempt to deliver an event to a client's endpoint."""

    delivery_id: str = Field(description="This attempt's id, to ask for its event again.")
    webhook_id: str = Field(description="The event's `webhook-id`, the same on every attempt.")
    event_type: str
    enrollment_id: UUID
    attempt: int
    outcome: DeliveryOutcome
    status_code: int | None = Field(default=None, description="The endpoint's answer, if any.")
    error: str | None = Field(default=None, description="Why it failed, without an answer.")
    attempted_at: datetime
    next_attempt_at: datetime | None = None


class DeliveryAttempts(BaseModel):
    """A page of a client's recent delivery attempts, newest first."""

    items: list[DeliveryAttempt]


class Redelivery(BaseModel):
    """An event queued to be delivered again."""

    webhook_id: str
    enrollment_id: UUID


class EnrollmentProcessedData(BaseModel):
    """What an `enrollment.processed` event says: thin, no name and no CPF; read the enrollment
    for the rest."""

    enrollment_id: UUID
    status: Literal["PROCESSED"] = "PROCESSED"
    processed_at: datetime


class EnrollmentProcessedEvent(BaseModel):
    """The body of the `enrollment.processed` webhook."""

    type: Literal["enrollment.processed"] = "enrollment.processed"
    timestamp: datetime = Field(description="When the enrollment became PROCESSED.")
    data: EnrollmentProcessedData


class DeliveryJob(BaseModel):
    """One attempt to come: an event of an enrollment, to its owner's endpoint.

    A message of the delivery queue carries it. A later attempt is a new job, with the next
    attempt's number and when it is due.
    """

    owner: str
    enrollment_id: UUID
    event_type: Literal["enrollment.processed"] = "enrollment.processed"
    attempt: int = Field(default=1, ge=1)
    # Seconds since the epoch; a job received before it is sent on, delayed again.
    due_at: float = 0.0

    def retry(self, due_at: float) -> "DeliveryJob":
        """The job of the next attempt."""
        return self.model_copy(update={"attempt": self.attempt + 1, "due_at": due_at})
