"""The processor's use case: an enrollment's work, done once, and the messages that never will be.

A message names an enrollment to process. Its enrollment may not be written yet (the API
publishes the message just before it writes the enrollment), may be processed already (SQS
delivers at least once), or may never be written: the request that published the message failed
after it (docs/adr/0002-publish-then-write.md). Such a message is an orphan once it is older than
any request that could still write its enrollment: it is dropped and counted, not retried into
the dead-letter queue, whose alarm is kept for real failures.
"""

import asyncio
import logging
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING
from uuid import UUID

from app.domain.errors import NotFoundError
from app.domain.models.enrollments import Enrollment, EnrollmentStatus
from app.domain.personal_data import expires_at
from app.observability.metrics import Metric

if TYPE_CHECKING:
    from app.domain.ports import EnrollmentRecords, MetricsRecorder

logger = logging.getLogger(__name__)

# How long a message may wait for its enrollment's write (which follows the publish by a few ms).
NOT_YET_WRITTEN_GRACE_SECONDS = 1.0
# A request writes its enrollment within the API function's timeout of publishing the message, or
# never. Beyond it, this margin covers the clocks of SQS and Lambda, which stamp and read the
# message's age, and a write's last retry landing at the very end.
ORPHAN_MARGIN_SECONDS = 60.0


class Outcome(StrEnum):
    """What became of a message."""

    PROCESSED = "processed"
    ALREADY_PROCESSED = "already processed"
    # Its enrollment was erased, before the work or during it: it stays a tombstone.
    ERASED = "erased"
    ORPHAN = "orphan"


def orphan_age_seconds(api_timeout_seconds: float) -> float:
    """The age past which a message without its enrollment will never have one."""
    return api_timeout_seconds + ORPHAN_MARGIN_SECONDS


async def simulate_work(delay: float) -> None:
    """Stand in for the real work an enrollment needs."""
    await asyncio.sleep(delay)


async def find_enrollment(enrollments: "EnrollmentRecords", enrollment_id: UUID) -> Enrollment:
    """The enrollment, giving a write that is still on its way one more chance.

    Rather than wait a whole visibility timeout for a write a few milliseconds late, look again a
    moment later.
    """
    try:
        return await asyncio.to_thread(enrollments.get, enrollment_id)
    except NotFoundError:
        await asyncio.sleep(NOT_YET_WRITTEN_GRACE_SECONDS)
        return await asyncio.to_thread(enrollments.get, enrollment_id)


async def process_enrollment(
    enrollment_id: UUID,
    *,
    message_age_seconds: float | None,
    enrollments: "EnrollmentRecords",
    metrics: "MetricsRecorder",
    work_seconds: float,
    api_timeout_seconds: float,
    retention_days: int = 0,
) -> Outcome:
    """Do the work of a `PENDING` enrollment, then mark it `PROCESSED` (idempotently), to expire
    `retention_days` later (0: kept).

    Raises `NotFoundError` while the enrollment may still be written (the message is retried),
    and whatever a dependency raises. Redeliveries, erased enrollments and orphans are settled
    before the work, which they would waste. The update is conditional on `PENDING`, so an
    enrollment erased during the work stays a tombstone, whatever order the two come in.
    """
    try:
        enrollment = await find_enrollment(enrollments, enrollment_id)
    except NotFoundError:
        age = message_age_seconds
        if age is None or age <= orphan_age_seconds(api_timeout_seconds):
            raise
        metrics.add(Metric.ORPHAN_MESSAGE)
        logger.warning(
            "Orphan message deleted: its enrollment was never written",
            extra={"message_age_seconds": round(age, 1)},
        )
        return Outcome.ORPHAN
    if enrollment.status is not EnrollmentStatus.PENDING:
        return _settled(enrollment.status)
    await simulate_work(work_seconds)
    now = datetime.now(UTC)
    previous = await asyncio.to_thread(
        enrollments.mark_processed, enrollment, expires_at(now, retention_days)
    )
    if previous is not EnrollmentStatus.PENDING:
        return _settled(previous)
    lag = now - enrollment.created_at
    metrics.add(Metric.ENROLLMENT_PROCESSED)
    metrics.add(Metric.PROCESSING_LAG, lag.total_seconds() * 1000)
    return Outcome.PROCESSED


def _settled(status: EnrollmentStatus) -> Outcome:
    """What became of a message whose enrollment another message or an erasure settled."""
    return Outcome.ERASED if status is EnrollmentStatus.ERASED else Outcome.ALREADY_PROCESSED
