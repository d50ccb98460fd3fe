"""`Retry-After` on a PENDING enrollment: when it is likely PROCESSED, so clients read it once."""

import math
from datetime import UTC, datetime
from typing import Any

from fastapi import Response

from app.config import get_api_settings
from app.domain.models.enrollments import Enrollment, EnrollmentStatus

RETRY_AFTER_HEADER: dict[str, Any] = {
    "Retry-After": {
        "schema": {"type": "integer", "minimum": 1},
        "description": (
            "While the enrollment is PENDING: seconds until it is likely PROCESSED, when to read "
            "it (again). A PROCESSED enrollment carries none."
        ),
    }
}


def retry_after(enrollment: Enrollment, now: datetime | None = None) -> str | None:
    """`Retry-After` for a PENDING enrollment: whole seconds, at least 1, until likely PROCESSED.

    An enrollment is processed one processing delay after its batch starts, and its batch starts
    within the event source's batching window; the margin covers the batch's own work and the
    poll. Clients that wait this long read it once or twice instead of every second.
    """
    if enrollment.status is not EnrollmentStatus.PENDING:
        return None
    settings = get_api_settings()
    expected = (
        settings.processing_delay_seconds
        + settings.batching_window_seconds
        + settings.retry_after_margin_seconds
    )
    elapsed = ((now or datetime.now(UTC)) - enrollment.created_at).total_seconds()
    return str(max(1, math.ceil(expected - max(0.0, elapsed))))


def set_retry_after(response: Response, enrollment: Enrollment) -> None:
    """Tell the client when to read a PENDING enrollment again."""
    if (seconds := retry_after(enrollment)) is not None:
        response.headers["Retry-After"] = seconds
