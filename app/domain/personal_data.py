"""A person's data over its life: how long an enrollment is kept, and its erasure.

An enrollment holds a person's name, age and CPF. It is kept until it is erased, or, with a
retention (the template's `RetentionDays`), that many days after it was processed; a tombstone
is kept as long after its erasure. DynamoDB's TTL deletes an item some time after its
`expires_at`; until then the service treats it as gone. docs/personal-data.md says what is kept
where, and for how long.
"""

from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import UUID

if TYPE_CHECKING:
    from app.domain.models.enrollments import Enrollment
    from app.domain.ports import EnrollmentEraser

SECONDS_PER_DAY = 24 * 60 * 60


def expires_at(moment: datetime, retention_days: int) -> int | None:
    """The epoch second an item kept `retention_days` after `moment` expires; None to keep it
    (a retention of 0)."""
    if retention_days <= 0:
        return None
    return int(moment.timestamp()) + retention_days * SECONDS_PER_DAY


def erase_enrollment(
    enrollment_id: UUID,
    enrollments: "EnrollmentEraser",
    *,
    owner: str | None,
    retention_days: int,
) -> "Enrollment":
    """Erase the enrollment's personal data; its tombstone, the same when erased before.

    `owner`: only that caller's enrollment is erased, another's is `NotFoundError` as an unknown
    one; None for the operator's tool, which erases a person's enrollments whoever requested them.
    """
    now = datetime.now(UTC)
    return enrollments.erase(enrollment_id, now, expires_at(now, retention_days), owner=owner)
