"""The delivery queue: each message a webhook attempt to come (`DeliveryJob`).

SQS delays a message by at most 15 minutes. A job due later is sent with the longest delay and
sent on again when received early (`app.domain.delivery.deliver`), until it is due: a 14-hour
wait is 56 hops, each a message and a share of an invocation.
"""

import math
from typing import TYPE_CHECKING

from app.adapters.errors import translate_aws_errors
from app.adapters.queue import REQUEST_ID_ATTRIBUTE
from app.domain.models.webhooks import DeliveryJob
from app.observability.logs import current_request_id

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

DEPENDENCY = "The webhook delivery queue"
MAX_DELAY_SECONDS = 900


class DeliveryQueue:
    """Sends jobs, each delayed as long as SQS allows, up to when it is due."""

    def __init__(self, client: "SQSClient", queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def schedule(self, job: DeliveryJob, delay_seconds: float) -> None:
        """Send `job`, delayed by `delay_seconds` or the longest delay SQS allows."""
        delay = min(MAX_DELAY_SECONDS, max(0, math.ceil(delay_seconds)))
        request_id = current_request_id()
        with translate_aws_errors(DEPENDENCY):
            self._client.send_message(
                QueueUrl=self._queue_url,
                MessageBody=job.model_dump_json(),
                DelaySeconds=delay,
                MessageAttributes=(
                    {REQUEST_ID_ATTRIBUTE: {"DataType": "String", "StringValue": request_id}}
                    if request_id
                    else {}
                ),
            )
