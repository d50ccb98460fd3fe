"""The notification a webhook receiver gets: the event's body, and the headers that sign it."""

from app.domain.models.enrollments import Enrollment
from app.domain.models.webhooks import (
    EnrollmentProcessedData,
    EnrollmentProcessedEvent,
    WebhookEndpoint,
)
from app.domain.webhooks import signatures


def event_body(enrollment: Enrollment) -> bytes:
    """The `enrollment.processed` event of a PROCESSED enrollment: no name, no CPF."""
    event = EnrollmentProcessedEvent(
        timestamp=enrollment.updated_at,
        data=EnrollmentProcessedData(
            enrollment_id=enrollment.enrollment_id, processed_at=enrollment.updated_at
        ),
    )
    return event.model_dump_json().encode()


def signing_secrets(endpoint: WebhookEndpoint, now: float) -> list[str]:
    """The secrets a delivery is signed with: the current one, and the previous one for a day
    after a rotation."""
    until = endpoint.previous_secret_until
    if endpoint.previous_secret and until is not None and until.timestamp() > now:
        return [endpoint.secret, endpoint.previous_secret]
    return [endpoint.secret]


def signed_headers(
    endpoint: WebhookEndpoint, webhook_id: str, body: bytes, now: float
) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt, sent `now`."""
    timestamp = int(now)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures(
            signing_secrets(endpoint, now), webhook_id, timestamp, body
        ),
    }
