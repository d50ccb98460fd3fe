"""The notifier's use cases: an enrollment's change becomes a delivery job; a job, one attempt.

`schedule_processed` runs on each change of an enrollment (the table's stream) and queues its
`enrollment.processed` job, once it is PROCESSED and its owner has an enabled endpoint. `deliver`
runs on each job: it reads the enrollment and the endpoint as they are now, signs the event, POSTs
it once, and says what follows: nothing (delivered, or nothing to deliver), the next attempt on
the schedule (failed), or none (exhausted, or the endpoint disabled).

The next attempt is queued before the attempt is recorded: a crash between the two loses a line
of the client's log, never an attempt; a crash before the queueing leaves the job's message to
SQS, which delivers it again. Either way a receiver may get an event twice, with the same
`webhook-id`, which is how it tells.
"""

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from app.domain.destinations import Resolver, check_url
from app.domain.errors import NotFoundError, UnsafeWebhookUrlError
from app.domain.models.enrollments import Enrollment, EnrollmentStatus
from app.domain.models.webhooks import (
    DeliveryAttempt,
    DeliveryJob,
    DeliveryOutcome,
    WebhookEndpoint,
)
from app.domain.notification import event_body, signed_headers
from app.domain.ports import (
    DeliveryLog,
    DeliveryScheduler,
    EnrollmentRecords,
    MetricsRecorder,
    WebhookEndpoints,
    WebhookSender,
)
from app.domain.webhooks import (
    FAILING_FOR_SECONDS,
    RETRY_DELAYS,
    TIMEOUT_SECONDS,
    Answer,
    delivery_id,
    event_id,
)
from app.domain.webhooks import next_delay as scheduled_delay
from app.observability.metrics import Metric

logger = logging.getLogger(__name__)

GONE = 410
# A job received this early is attempted now: SQS's delays are whole seconds.
EARLY_TOLERANCE_SECONDS = 1.0
# A receiver's `Retry-After` is honoured up to the schedule's longest delay.
MAX_RETRY_AFTER_SECONDS = max(RETRY_DELAYS)
GONE_REASON = "the endpoint answered 410 Gone"
FAILING_REASON = "every delivery failed for 3 days"


@dataclass
class Notifier:
    """What the use cases need: the stores, the queue, the network, and the schedule."""

    enrollments: EnrollmentRecords
    endpoints: WebhookEndpoints
    log: DeliveryLog
    scheduler: DeliveryScheduler
    sender: WebhookSender
    resolver: Resolver
    metrics: MetricsRecorder
    delays: Sequence[float] = RETRY_DELAYS
    # Only `make run` sets it: `http` to a loopback address.
    allow_loopback_http: bool = False
    clock: Callable[[], float] = field(default=time.time)


def schedule_processed(enrollment_id: UUID, notifier: Notifier) -> DeliveryJob | None:
    """Queue the `enrollment.processed` job of a changed enrollment, if it is due one."""
    enrollment = _current(notifier, enrollment_id)
    if enrollment is None or enrollment.status is not EnrollmentStatus.PROCESSED:
        return None
    if enrollment.owner is None:
        return None
    endpoint = notifier.endpoints.get(enrollment.owner, consistent=False)
    if endpoint is None or not endpoint.enabled:
        return None
    job = DeliveryJob(owner=enrollment.owner, enrollment_id=enrollment.enrollment_id)
    notifier.scheduler.schedule(job, 0)
    return job


def deliver(job: DeliveryJob, notifier: Notifier) -> DeliveryOutcome | None:
    """One attempt of `job`; None when it is not due yet and was sent on to wait."""
    now = notifier.clock()
    if job.due_at > now + EARLY_TOLERANCE_SECONDS:
        notifier.scheduler.schedule(job, job.due_at - now)
        return None
    endpoint = notifier.endpoints.get(job.owner)
    if endpoint is None:
        # Removed since: there is no one to tell, and no log to show it to.
        return DeliveryOutcome.ABANDONED
    attempt = _Attempt(job, notifier, now)
    if not endpoint.enabled:
        return attempt.record(DeliveryOutcome.ABANDONED, error="the endpoint is disabled")
    enrollment = _current(notifier, job.enrollment_id)
    if (
        enrollment is None
        or enrollment.owner != job.owner
        or enrollment.status is not EnrollmentStatus.PROCESSED
    ):
        return attempt.record(DeliveryOutcome.ABANDONED, error="the enrollment is not PROCESSED")
    answer = _send(job, endpoint, enrollment, notifier, now)
    if answer.status is not None and 200 <= answer.status < 300:
        if endpoint.failing_since is not None:
            notifier.endpoints.record_success(job.owner)
        notifier.metrics.add(Metric.WEBHOOK_DELIVERED)
        return attempt.record(DeliveryOutcome.DELIVERED, answer)
    notifier.metrics.add(Metric.WEBHOOK_ATTEMPT_FAILED)
    if answer.status == GONE:
        notifier.endpoints.disable(job.owner, GONE_REASON)
        return attempt.record(DeliveryOutcome.DISABLED, answer)
    failing = notifier.endpoints.record_failure(job.owner).failing_since
    if failing is not None and now - failing.timestamp() >= FAILING_FOR_SECONDS:
        notifier.endpoints.disable(job.owner, FAILING_REASON)
        return attempt.record(DeliveryOutcome.DISABLED, answer)
    retry_after = min(answer.retry_after or 0.0, MAX_RETRY_AFTER_SECONDS)
    delay = scheduled_delay(job.attempt, retry_after, notifier.delays)
    if delay is None:
        notifier.metrics.add(Metric.WEBHOOK_EXHAUSTED)
        logger.warning("Webhook delivery exhausted its schedule", extra={"attempt": job.attempt})
        return attempt.record(DeliveryOutcome.EXHAUSTED, answer)
    notifier.scheduler.schedule(job.retry(now + delay), delay)
    return attempt.record(DeliveryOutcome.FAILED, answer, next_attempt_at=now + delay)


def _send(
    job: DeliveryJob,
    endpoint: WebhookEndpoint,
    enrollment: Enrollment,
    notifier: Notifier,
    now: float,
) -> Answer:
    """Sign the event and POST it, if the URL is still safe where its host resolves now."""
    try:
        destination = check_url(endpoint.url, notifier.resolver, notifier.allow_loopback_http)
    except UnsafeWebhookUrlError as exc:
        return Answer(error=f"not sent: {exc.rule}")
    body = event_body(enrollment)
    headers = signed_headers(endpoint, event_id(job.enrollment_id, job.event_type), body, now)
    return notifier.sender.post(destination, body, headers, TIMEOUT_SECONDS)


def _current(notifier: Notifier, enrollment_id: UUID) -> Enrollment | None:
    try:
        return notifier.enrollments.get(enrollment_id)
    except NotFoundError:
        return None


class _Attempt:
    """An attempt's line in its client's delivery log."""

    def __init__(self, job: DeliveryJob, notifier: Notifier, now: float) -> None:
        self._job = job
        self._notifier = notifier
        self._now = now

    def record(
        self,
        outcome: DeliveryOutcome,
        answer: Answer | None = None,
        *,
        error: str | None = None,
        next_attempt_at: float | None = None,
    ) -> DeliveryOutcome:
        job = self._job
        self._notifier.log.record(
            job.owner,
            DeliveryAttempt(
                delivery_id=delivery_id(self._now),
                webhook_id=event_id(job.enrollment_id, job.event_type),
                event_type=job.event_type,
                enrollment_id=job.enrollment_id,
                attempt=job.attempt,
                outcome=outcome,
                status_code=answer.status if answer else None,
                error=error or (answer.error if answer else None),
                attempted_at=_moment(self._now),
                next_attempt_at=None if next_attempt_at is None else _moment(next_attempt_at),
            ),
        )
        return outcome


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
