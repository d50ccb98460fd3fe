"""The SQS-triggered Lambda that processes enrollments.

Each record carries `{"enrollment_id": "<uuid>"}`, and the id of the request that published it
as its `request_id` message attribute. The records of a batch are processed concurrently, so a
batch costs about one processing delay, not one per record. Only the records that fail are
reported back (`batchItemFailures`), so only those are retried; after the queue's
`maxReceiveCount` they move to the dead-letter queue.

A message whose enrollment was never written (the API published it, then failed to write) is an
orphan: once it is older than any request that could still write its enrollment, it is deleted
and counted (`OrphanMessage`), not retried into the dead-letter queue.

Each record's log lines carry its request id, enrollment id and message id. Its metrics
(`app.observability.metrics.Metric`) are printed once per invocation, in CloudWatch's embedded
metric format.
"""

import asyncio
import json
import logging
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from app.adapters.aws import get_dynamodb_client
from app.adapters.enrollments import EnrollmentRepository
from app.adapters.queue import REQUEST_ID_ATTRIBUTE
from app.config import PROCESSOR_FUNCTION_SETTINGS, check_lambda_settings, get_settings
from app.domain.errors import NotFoundError
from app.domain.models.enrollments import Enrollment, EnrollmentStatus
from app.observability.logs import bind, install_log_context
from app.observability.metrics import NAMESPACE, UNITS, Metric

logger = logging.getLogger(__name__)
# The function's init: on Lambda, a missing setting stops it here, not on a message.
check_lambda_settings(PROCESSOR_FUNCTION_SETTINGS)
install_log_context()

# How long a message may wait for its enrollment's write (which follows the publish by a few ms).
NOT_YET_WRITTEN_GRACE_SECONDS = 1.0
# A request writes its enrollment within the API function's timeout of publishing the message, or
# never (API_TIMEOUT_SECONDS). Beyond it, this margin covers the clocks of SQS and Lambda, which
# stamp and read the message's age, and a write's last retry landing at the very end.
ORPHAN_MARGIN_SECONDS = 60.0


class InvalidMessageError(ValueError):
    """A message body that is not `{"enrollment_id": "<uuid>"}`."""


@lru_cache
def get_enrollment_repository() -> EnrollmentRepository:
    """The enrollments repository of this process."""
    return EnrollmentRepository(get_dynamodb_client(), get_settings().enrollments_table)


def parse_enrollment_id(body: str) -> UUID:
    """The enrollment id carried by a message body, or `InvalidMessageError`."""
    try:
        message = json.loads(body)
        return UUID(message["enrollment_id"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidMessageError(f"Malformed message body: {body[:200]!r}") from exc


async def simulate_work(delay: float) -> None:
    """Stand in for the real work an enrollment needs."""
    await asyncio.sleep(delay)


async def find_enrollment(repository: EnrollmentRepository, enrollment_id: UUID) -> Enrollment:
    """The enrollment, giving a write that is still on its way one more chance.

    The API publishes the message just before it writes the enrollment, so a message can
    arrive first. Rather than wait a whole visibility timeout, look again a moment later.
    """
    try:
        return await asyncio.to_thread(repository.get, enrollment_id)
    except NotFoundError:
        await asyncio.sleep(NOT_YET_WRITTEN_GRACE_SECONDS)
        return await asyncio.to_thread(repository.get, enrollment_id)


def orphan_age_seconds() -> float:
    """The age past which a message without its enrollment will never have one."""
    timeout = get_settings().api_timeout_seconds
    if timeout is None:
        # Off Lambda without the template's value: no message is ever taken for an orphan.
        return float("inf")
    return timeout + ORPHAN_MARGIN_SECONDS


def age_seconds(record: SQSRecord) -> float | None:
    """How long ago SQS accepted the record's message; None if the record does not say."""
    sent_ms = record.attributes.get("SentTimestamp")
    if sent_ms is None:
        return None
    return time.time() - int(sent_ms) / 1000


def request_id_of(record: SQSRecord) -> str | None:
    """The id of the request that published the record's message, if it carries one."""
    attribute = record.message_attributes[REQUEST_ID_ATTRIBUTE]
    return attribute.string_value if attribute is not None else None


def add_metric(metrics: EphemeralMetrics, metric: Metric, value: float = 1) -> None:
    """Add a value to one of the service's metrics, in its unit."""
    metrics.add_metric(name=metric, unit=MetricUnit(UNITS[metric]), value=value)


async def process_record(record: SQSRecord, metrics: EphemeralMetrics) -> None:
    """Do the work for one `PENDING` enrollment, then mark it `PROCESSED` (idempotently)."""
    # Each record runs in its own asyncio task: the ids bound here are this record's alone.
    request_id = request_id_of(record)
    bind(message_id=record.message_id, **({"request_id": request_id} if request_id else {}))
    try:
        enrollment_id = parse_enrollment_id(record.body)
        bind(enrollment_id=str(enrollment_id))
        repository = get_enrollment_repository()
        # Redeliveries and unknown ids are settled before the work, which they would waste.
        try:
            enrollment = await find_enrollment(repository, enrollment_id)
        except NotFoundError:
            age = age_seconds(record)
            if age is None or age <= orphan_age_seconds():
                # Its request may still be writing it: retried after the visibility timeout.
                raise
            add_metric(metrics, Metric.ORPHAN_MESSAGE)
            logger.warning(
                "Orphan message deleted: its enrollment was never written",
                extra={"message_age_seconds": round(age, 1)},
            )
            return
        changed = enrollment.status is EnrollmentStatus.PENDING
        if changed:
            await simulate_work(get_settings().processing_delay_seconds)
            changed = await asyncio.to_thread(repository.mark_processed, enrollment_id)
    except Exception:
        # Reported as a batch item failure, so it is retried and, failing on, dead-lettered.
        add_metric(metrics, Metric.RECORD_FAILED)
        logger.exception("Record failed")
        raise
    if changed:
        lag = datetime.now(UTC) - enrollment.created_at
        add_metric(metrics, Metric.ENROLLMENT_PROCESSED)
        add_metric(metrics, Metric.PROCESSING_LAG, lag.total_seconds() * 1000)
    logger.info("Enrollment processed" if changed else "Enrollment was already processed")


def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    """Lambda entry point for the SQS event source mapping."""
    # Metrics and a batch processor per invocation: they hold this batch's results, and the
    # local event source mapping may run several invocations at once in one process.
    # (Powertools' `Metrics` shares one set across instances; `EphemeralMetrics` does not.)
    metrics = EphemeralMetrics(namespace=NAMESPACE, service=get_settings().service_name)

    async def record_handler(record: SQSRecord) -> None:
        await process_record(record, metrics)

    # It reports every failed record instead of raising when all fail: to Lambda both mean the
    # same.
    processor = AsyncBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    try:
        return async_process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        # An invocation whose records were all redeliveries has nothing to report.
        if metrics.metric_set:
            metrics.flush_metrics()
