"""The enrollment queue, which carries enrollment ids to the processor."""

import json
from typing import TYPE_CHECKING
from uuid import UUID

from app.errors import translate_aws_errors

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

DEPENDENCY = "The enrollment queue"


class EnrollmentQueue:
    """Publishes `{"enrollment_id": ...}` messages."""

    def __init__(self, client: "SQSClient", queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def publish(self, enrollment_id: UUID) -> None:
        """Send the id of an enrollment to be processed."""
        with translate_aws_errors(DEPENDENCY):
            self._client.send_message(
                QueueUrl=self._queue_url,
                MessageBody=json.dumps({"enrollment_id": str(enrollment_id)}),
            )
