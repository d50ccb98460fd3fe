"""The webhook notifier: stream records become delivery jobs, and jobs become attempts.

One function, two event sources (template.yaml, NotifierFunction):

- the enrollments table's stream (keys only, modifications only): each record names an enrollment
  that changed; `app.domain.delivery.schedule_processed` queues its `enrollment.processed` job
  once it is PROCESSED. A record that fails is reported (`batchItemFailures`, by sequence
  number), retried, and after the mapping's retries sent to the stream's failure queue.
- the delivery queue: each message a job; `app.domain.delivery.deliver` makes one attempt. The
  records of a batch run concurrently, each in a thread of its own, so one slow endpoint (up to
  the 15 s timeout) holds up no other client's delivery. A record that fails unexpectedly is
  reported and retried; after the queue's `maxReceiveCount`, dead-lettered.

Metrics (`WebhookDelivered`, `WebhookAttemptFailed`, `WebhookExhausted`) are printed once per
invocation, in CloudWatch's embedded metric format.
"""

import asyncio
import logging
from functools import lru_cache
from typing import Any, NamedTuple
from uuid import UUID

from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from app.adapters import webhook_http
from app.adapters.aws import get_dynamodb_client, get_sqs_client
from app.adapters.deliveries import DeliveryRepository
from app.adapters.delivery_queue import DeliveryQueue
from app.adapters.enrollments import EnrollmentRepository
from app.adapters.queue import REQUEST_ID_ATTRIBUTE
from app.adapters.tables import ENROLLMENTS
from app.adapters.webhooks import WebhookRepository
from app.config import check_at_init, get_notifier_settings
from app.domain import delivery
from app.domain.destinations import Destination
from app.domain.models.webhooks import DeliveryJob
from app.domain.webhooks import RETRY_DELAYS, Answer
from app.observability.logs import bind, install_log_context
from app.observability.metrics import MetricsEmitter

logger = logging.getLogger(__name__)
check_at_init(get_notifier_settings)
install_log_context()

STREAM_SOURCE = "aws:dynamodb"


class HttpSender:
    """The network, as `app.adapters.webhook_http` reaches it."""

    def post(
        self, destination: Destination, body: bytes, headers: dict[str, str], timeout: float
    ) -> Answer:
        """POST `body` to the destination; the answer, never an exception."""
        return webhook_http.post(destination, body, headers, timeout)


class Stores(NamedTuple):
    """The tables and the queue the use cases read and write."""

    enrollments: EnrollmentRepository
    endpoints: WebhookRepository
    log: DeliveryRepository
    queue: DeliveryQueue


@lru_cache
def get_stores() -> Stores:
    """The tables and the queue of this process."""
    settings = get_notifier_settings()
    dynamodb = get_dynamodb_client()
    return Stores(
        EnrollmentRepository(dynamodb, settings.enrollments_table),
        WebhookRepository(dynamodb, settings.webhooks_table),
        DeliveryRepository(dynamodb, settings.webhook_deliveries_table),
        DeliveryQueue(get_sqs_client(), settings.webhook_delivery_queue_url),
    )


def notifier(metrics: MetricsEmitter) -> delivery.Notifier:
    """The use cases' dependencies, counting into this invocation's metrics."""
    settings = get_notifier_settings()
    stores = get_stores()
    return delivery.Notifier(
        enrollments=stores.enrollments,
        endpoints=stores.endpoints,
        log=stores.log,
        scheduler=stores.queue,
        sender=HttpSender(),
        resolver=webhook_http.SystemResolver(),
        metrics=metrics,
        delays=settings.webhook_retry_delays or RETRY_DELAYS,
        allow_loopback_http=settings.webhook_allow_loopback_http,
    )


async def on_change(record: DynamoDBRecord, uses: delivery.Notifier) -> None:
    """A stream record: the changed enrollment's job queued, if it is due one."""
    keys = record.dynamodb.keys if record.dynamodb else None
    enrollment_id = UUID(str((keys or {}).get(ENROLLMENTS.key)))
    bind(enrollment_id=str(enrollment_id))
    job = await asyncio.to_thread(delivery.schedule_processed, enrollment_id, uses)
    if job is not None:
        logger.info("Webhook delivery queued")


async def on_job(record: SQSRecord, uses: delivery.Notifier) -> None:
    """A delivery queue record: one attempt of its job."""
    attribute = record.message_attributes[REQUEST_ID_ATTRIBUTE]
    request_id = attribute.string_value if attribute is not None else None
    bind(message_id=record.message_id, **({"request_id": request_id} if request_id else {}))
    job = DeliveryJob.model_validate_json(record.body)
    bind(enrollment_id=str(job.enrollment_id))
    outcome = await asyncio.to_thread(delivery.deliver, job, uses)
    if outcome is not None:
        logger.info("Webhook attempt %d: %s", job.attempt, outcome)


def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    """Lambda entry point for both event sources: the stream's and the delivery queue's."""
    records = event.get("Records") or []
    if not records:
        # Lambda sends no empty batch; nothing to do, nothing failed.
        return {"batchItemFailures": []}
    metrics = MetricsEmitter(get_notifier_settings().service_name)
    uses = notifier(metrics)
    from_stream = records[0].get("eventSource") == STREAM_SOURCE

    async def record_handler(record: Any) -> None:
        try:
            await (on_change(record, uses) if from_stream else on_job(record, uses))
        except Exception:
            logger.exception("Record failed")
            raise

    processor = AsyncBatchProcessor(
        event_type=EventType.DynamoDBStreams if from_stream else EventType.SQS,
        raise_on_entire_batch_failure=False,
    )
    try:
        return async_process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        metrics.flush()
