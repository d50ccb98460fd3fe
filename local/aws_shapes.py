"""What Lambda hands a function, in its exact shape: SQS events and the context object.

The local event source mapping (`local.poller`) builds its invocations with these, and the tests
and benchmarks build theirs with the same code. API Gateway's events are production code's
(`app.entrypoints.events`, for SnapStart priming).
"""

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageAttributeValueOutputTypeDef, MessageTypeDef

REGION = "us-east-1"
ACCOUNT = "123456789012"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:EnrollmentQueue"
# The attributes Lambda copies into a record, for a standard queue.
RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
)


@dataclass
class LambdaContext:
    """The context object Lambda passes to a handler, for one invocation."""

    function_name: str = "enrollment-test"
    function_version: str = "$LATEST"
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:enrollment-test"
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/enrollment-test"
    log_stream_name: str = field(default_factory=lambda: f"local/[$LATEST]{uuid.uuid4().hex}")
    identity: Any = None
    client_context: Any = None
    timeout_seconds: float = 10.0
    _started: float = field(default_factory=time.monotonic, repr=False)

    @classmethod
    def of(
        cls, name: str, memory_mb: int, timeout_seconds: float, region: str, account: str
    ) -> "LambdaContext":
        """The context of an invocation of the function `name`, starting now."""
        return cls(
            function_name=name,
            invoked_function_arn=f"arn:aws:lambda:{region}:{account}:function:{name}",
            memory_limit_in_mb=memory_mb,
            log_group_name=f"/aws/lambda/{name}",
            timeout_seconds=timeout_seconds,
        )

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's timeout."""
        remaining = self._started + self.timeout_seconds - time.monotonic()
        return max(0, int(remaining * 1000))


def message_attribute(value: "MessageAttributeValueOutputTypeDef") -> dict[str, Any]:
    """A message attribute as Lambda writes it: camel case, empty lists, no absent value."""
    attribute: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": list(value.get("BinaryListValues", [])),
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return attribute


def sqs_record(message: "MessageTypeDef", queue_arn: str, region: str) -> dict[str, Any]:
    """A received SQS message as Lambda puts it in an event's `Records`."""
    attributes = message.get("Attributes", {})
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {k: attributes[k] for k in RECORD_ATTRIBUTES if k in attributes},
        "messageAttributes": {
            name: message_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def sqs_message(
    body: str,
    request_id: str | None = None,
    sent_at_ms: int | None = None,
    receive_count: int = 1,
) -> "MessageTypeDef":
    """A message as `ReceiveMessage` returns it, sent `sent_at_ms` (now, by default)."""
    sent = int(time.time() * 1000) if sent_at_ms is None else sent_at_ms
    message: MessageTypeDef = {
        "MessageId": str(uuid.uuid4()),
        "ReceiptHandle": base64.b64encode(uuid.uuid4().bytes).decode(),
        "Body": body,
        "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 (SQS's own checksum)
        "Attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": str(sent),
            "SenderId": "AROAEXAMPLEID:enrollment-api",
            "ApproximateFirstReceiveTimestamp": str(sent + 10),
        },
    }
    if request_id is not None:
        message["MessageAttributes"] = {
            "request_id": {"DataType": "String", "StringValue": request_id}
        }
    return message


def sqs_event(*bodies: str, queue_arn: str = QUEUE_ARN) -> dict[str, Any]:
    """An SQS event with one record per body, each with its own message id."""
    return {"Records": [sqs_record(sqs_message(body), queue_arn, REGION) for body in bodies]}
