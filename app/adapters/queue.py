"""The enrollment queue, which carries enrollment ids to the processor."""

import json
from typing import TYPE_CHECKING
from uuid import UUID

from app.adapters.errors import translate_aws_errors
from app.observability.logs import current_request_id

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

DEPENDENCY = "The enrollment queue"
# The message attribute that carries the id of the request that published the message.
REQUEST_ID_ATTRIBUTE = "request_id"


class EnrollmentQueue:
    """Publishes `{"enrollment_id": ...}` messages."""

    def __init__(self, client: "SQSClient", queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def publish(self, enrollment_id: UUID) -> None:
        """Send the id of an enrollment to be processed, with the id of the request being served.

        The request id travels as a message attribute, so the processor's log lines carry it. The
        X-Ray trace header is left to the SDK, which SQS keeps as the `AWSTraceHeader` attribute.
        """
        request_id = current_request_id()
        with translate_aws_errors(DEPENDENCY):
            self._client.send_message(
                QueueUrl=self._queue_url,
                MessageBody=json.dumps({"enrollment_id": str(enrollment_id)}),
                MessageAttributes=(
                    {REQUEST_ID_ATTRIBUTE: {"DataType": "String", "StringValue": request_id}}
                    if request_id
                    else {}
                ),
            )
