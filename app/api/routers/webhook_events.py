"""The events a client's webhook endpoint receives, for the OpenAPI document's `webhooks`
(OpenAPI 3.1): documented, not served (`app.webhooks` in `create_app`)."""

from typing import Annotated

from fastapi import APIRouter, Header, status

from app.domain.models.webhooks import EnrollmentProcessedEvent

events = APIRouter()


@events.post(
    "enrollment.processed",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        status.HTTP_204_NO_CONTENT: {
            "description": (
                "Any 2xx: delivered. Any other answer, or none within 15 s, is a failure, tried "
                "again on the schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h; later if "
                "`Retry-After` says so); a 3xx is a failure, never followed; a 410 disables the "
                "endpoint."
            )
        }
    },
)
def enrollment_processed(
    event: EnrollmentProcessedEvent,
    webhook_id: Annotated[
        str,
        Header(
            alias="webhook-id",
            description="The event's id: the same on every attempt. Drop the repeats.",
        ),
    ],
    webhook_timestamp: Annotated[
        int,
        Header(
            alias="webhook-timestamp",
            description="When this attempt was sent, in seconds since the epoch.",
        ),
    ],
    webhook_signature: Annotated[
        str,
        Header(
            alias="webhook-signature",
            description=(
                "`v1,` and the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` "
                "under the secret; two, space-separated, for a day after a rotation."
            ),
        ),
    ],
) -> None:
    """An enrollment of the client became PROCESSED: read it for its details (the event carries
    no name and no CPF). Signed as Standard Webhooks specifies (docs/webhooks.md)."""
