"""The SQS-triggered Lambda that processes enrollments: SQS records, adapted to the use case.

Each record carries `{"enrollment_id": "<uuid>"}`, and the id of the request that published it
as its `request_id` message attribute. The records of a batch are processed concurrently, each by
`app.domain.processing.process_enrollment`, so a batch costs about one processing delay, not one
per record. Only the records that fail are reported back (`batchItemFailures`), so only those are
retried; after the queue's `maxReceiveCount` they move to the dead-letter queue.

Each record's log lines carry its request id, enrollment id and message id. Its metrics
(`app.observability.metrics.Metric`) are printed once per invocation, in CloudWatch's embedded
metric format.
"""

import json
import logging
import time
from functools import lru_cache
from typing import Any
from uuid import UUID

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
from app.config import check_at_init, get_processor_settings
from app.domain import processing
from app.domain.processing import Outcome
from app.observability.logs import bind, install_log_context
from app.observability.metrics import Metric, MetricsEmitter

logger = logging.getLogger(__name__)
# The function's init: on Lambda, a missing setting stops it here, not on a message.
check_at_init(get_processor_settings)
install_log_context()


# The line each record's outcome logs (an orphan logs its own warning).
_OUTCOME_LINES = {
    Outcome.PROCESSED: "Enrollment processed",
    Outcome.ALREADY_PROCESSED: "Enrollment was already processed",
    Outcome.ERASED: "Enrollment was erased: left as it is",
}


class InvalidMessageError(ValueError):
    """A message body that is not `{"enrollment_id": "<uuid>"}`."""


@lru_cache
def get_enrollment_repository() -> EnrollmentRepository:
    """The enrollments repository of this process."""
    return EnrollmentRepository(get_dynamodb_client(), get_processor_settings().enrollments_table)


def parse_enrollment_id(body: str) -> UUID:
    """The enrollment id carried by a message body, or `InvalidMessageError`."""
    try:
        message = json.loads(body)
        return UUID(message["enrollment_id"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidMessageError(f"Malformed message body: {body[:200]!r}") from exc


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


async def process_record(record: SQSRecord, metrics: MetricsEmitter) -> None:
    """One record: its enrollment processed, or an exception that reports it for a retry."""
    # Each record runs in its own asyncio task: the ids bound here are this record's alone.
    request_id = request_id_of(record)
    bind(message_id=record.message_id, **({"request_id": request_id} if request_id else {}))
    settings = get_processor_settings()
    try:
        enrollment_id = parse_enrollment_id(record.body)
        bind(enrollment_id=str(enrollment_id))
        outcome = await processing.process_enrollment(
            enrollment_id,
            message_age_seconds=age_seconds(record),
            enrollments=get_enrollment_repository(),
            metrics=metrics,
            work_seconds=settings.processing_delay_seconds,
            api_timeout_seconds=settings.api_timeout_seconds,
            retention_days=settings.retention_days,
        )
    except Exception:
        # Reported as a batch item failure, so it is retried and, failing on, dead-lettered.
        metrics.add(Metric.RECORD_FAILED)
        logger.exception("Record failed")
        raise
    if outcome is not Outcome.ORPHAN:
        logger.info(_OUTCOME_LINES[outcome])


def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    """Lambda entry point for the SQS event source mapping."""
    # Metrics and a batch processor per invocation: they hold this batch's results, and the
    # local event source mapping may run several invocations at once in one process.
    metrics = MetricsEmitter(get_processor_settings().service_name)

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
        metrics.flush()
