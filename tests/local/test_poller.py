"""The local event source mapping, over the template's queues in moto."""

import contextlib
import dataclasses
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local.poller import EventSourceMapping, FunctionConfig, sqs_function_config
from local.template import Stack, load_template
from tests.aws_events import load_event

Handler = Callable[[dict[str, Any], Any], Any]


def processor_config(**changes: Any) -> FunctionConfig:
    return dataclasses.replace(sqs_function_config(load_template(), "ProcessorFunction"), **changes)


def mapping(stack: Stack, handler: Handler, **changes: Any) -> EventSourceMapping:
    # Batches go as they come unless a test gathers them.
    changes.setdefault("batching_window_seconds", 0)
    return EventSourceMapping(
        boto3.client("sqs"),
        stack.refs["EnrollmentQueue"],
        handler,
        processor_config(**changes),
        region="us-east-1",
        wait_time_seconds=0,
    )


def send(stack: Stack, *bodies: str) -> None:
    sqs = boto3.client("sqs")
    for body in bodies:
        sqs.send_message(QueueUrl=stack.refs["EnrollmentQueue"], MessageBody=body)


def receive(stack: Stack, queue_id: str = "EnrollmentQueue") -> list[Any]:
    response = boto3.client("sqs").receive_message(
        QueueUrl=stack.refs[queue_id], MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    )
    return list(response.get("Messages", []))


def queue_counts(stack: Stack) -> tuple[int, int]:
    """(visible, in flight) messages of the enrollment queue."""
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=stack.refs["EnrollmentQueue"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def redeliver_at_once(stack: Stack) -> None:
    """Make the enrollment queue redeliver a message as soon as it is not deleted."""
    boto3.client("sqs").set_queue_attributes(
        QueueUrl=stack.refs["EnrollmentQueue"], Attributes={"VisibilityTimeout": "0"}
    )


def make_visible(stack: Stack, messages: list[Any]) -> None:
    """End the visibility timeout of the messages still in flight."""
    sqs = boto3.client("sqs")
    for message in messages:
        with contextlib.suppress(ClientError):  # deleted already
            sqs.change_message_visibility(
                QueueUrl=stack.refs["EnrollmentQueue"],
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=0,
            )


def test_reads_the_processor_function_and_its_sqs_event_from_the_template() -> None:
    template = load_template()
    config = sqs_function_config(template, "ProcessorFunction")
    props = template["Resources"]["ProcessorFunction"]["Properties"]
    event = props["Events"]["EnrollmentQueue"]["Properties"]

    assert config.handler == "processor.handler.handler"
    assert config.queue_id == "EnrollmentQueue"
    assert config.batch_size == event["BatchSize"]
    assert config.maximum_concurrency == event["ScalingConfig"]["MaximumConcurrency"]
    assert config.timeout_seconds == props["Timeout"]


def test_globals_and_lambda_defaults_fill_what_the_function_omits() -> None:
    template = {
        "Globals": {"Function": {"Timeout": 7}},
        "Resources": {
            "Fn": {
                "Properties": {
                    "Handler": "m.f",
                    "Events": {"Q": {"Type": "SQS", "Properties": {"Queue": "arn:q"}}},
                }
            }
        },
    }

    config = sqs_function_config(template, "Fn")

    assert (config.timeout_seconds, config.memory_mb, config.batch_size) == (7, 128, 10)
    assert config.queue_id == "arn:q"


def test_events_have_the_shape_lambda_sends(stack: Stack) -> None:
    events: list[dict[str, Any]] = []
    sqs = boto3.client("sqs")
    sqs.send_message(
        QueueUrl=stack.refs["EnrollmentQueue"],
        MessageBody="hello",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
    )
    poller = mapping(stack, lambda event, context: events.append(event))

    assert poller.poll() == 1
    poller.wait()

    (record,) = events[0]["Records"]
    sample = load_event("sqs_event.json")["Records"][0]
    assert set(record) - {"md5OfMessageAttributes"} == set(sample)
    assert set(record["attributes"]) == set(sample["attributes"])
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["body"] == "hello"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == stack.attributes[("EnrollmentQueue", "Arn")]
    assert record["awsRegion"] == "us-east-1"
    assert record["messageAttributes"] == {
        "kind": {
            "stringValue": "test",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        }
    }


def test_deletes_only_the_records_that_succeeded(stack: Stack) -> None:
    send(stack, *(f"message {i}" for i in range(5)))
    failing = {"message 1", "message 3"}

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        failed = [r["messageId"] for r in event["Records"] if r["body"] in failing]
        return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}

    messages = receive(stack)
    deleted = mapping(stack, handler).invoke(messages)

    assert len(deleted) == 3
    assert queue_counts(stack) == (0, 2)
    make_visible(stack, messages)
    assert {m["Body"] for m in receive(stack)} == failing


@pytest.mark.parametrize(
    "outcome",
    [
        pytest.param(RuntimeError("boom"), id="handler raises"),
        pytest.param({"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]}, id="bad id"),
        pytest.param({"batchItemFailures": [{"itemIdentifier": ""}]}, id="empty id"),
    ],
)
def test_deletes_nothing_when_the_whole_batch_fails(stack: Stack, outcome: Any) -> None:
    send(stack, "a", "b")

    def handler(event: dict[str, Any], context: Any) -> Any:
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert mapping(stack, handler).invoke(receive(stack)) == set()
    assert queue_counts(stack) == (0, 2)


def test_a_handler_over_its_timeout_deletes_nothing(stack: Stack) -> None:
    send(stack, "slow")

    def handler(event: dict[str, Any], context: Any) -> None:
        time.sleep(0.05)

    poller = mapping(stack, handler, timeout_seconds=0.01)

    assert poller.invoke(receive(stack)) == set()
    assert queue_counts(stack) == (0, 1)


def test_no_response_means_every_record_succeeded(stack: Stack) -> None:
    send(stack, "a", "b")

    assert len(mapping(stack, lambda event, context: None).invoke(receive(stack))) == 2
    assert queue_counts(stack) == (0, 0)


def test_honours_batch_size_and_maximum_concurrency(stack: Stack) -> None:
    send(stack, *(str(i) for i in range(20)))
    lock = threading.Lock()
    running = 0
    peak = 0
    batches: list[list[str]] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            batches.append([r["body"] for r in event["Records"]])
        time.sleep(0.2)
        with lock:
            running -= 1

    poller = mapping(stack, handler, batch_size=3, maximum_concurrency=2)
    runner = threading.Thread(target=poller.run)
    runner.start()
    deadline = time.monotonic() + 10
    while sum(map(len, batches)) < 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    poller.stop()
    runner.join(timeout=10)

    assert not runner.is_alive()
    assert max(map(len, batches)) == 3
    assert peak == 2
    assert sorted(int(body) for batch in batches for body in batch) == list(range(20))
    assert queue_counts(stack) == (0, 0)


class ScriptedQueue:
    """An SQS client whose receives return the scripted lists of messages, then nothing."""

    def __init__(self, *receives: list[dict[str, Any]]) -> None:
        self.receives = list(receives)
        self.waits: list[int] = []

    def get_queue_attributes(self, **_: Any) -> dict[str, Any]:
        return {"Attributes": {"QueueArn": "arn:aws:sqs:us-east-1:123456789012:queue"}}

    def receive_message(self, WaitTimeSeconds: int, **_: Any) -> dict[str, Any]:
        self.waits.append(WaitTimeSeconds)
        return {"Messages": self.receives.pop(0) if self.receives else []}

    def delete_message_batch(self, **_: Any) -> dict[str, Any]:
        return {}


def scripted_message(body: str) -> dict[str, Any]:
    return {
        "MessageId": body,
        "ReceiptHandle": body,
        "Body": body,
        "MD5OfBody": "",
        "Attributes": {},
    }


@pytest.mark.parametrize(
    ("window", "expected"), [(0, [["a"], ["b", "c"]]), (1.5, [["a", "b", "c"]])]
)
def test_gathers_a_batch_for_up_to_its_batching_window(
    window: float, expected: list[list[str]]
) -> None:
    queue = ScriptedQueue(
        [scripted_message("a")], [], [scripted_message("b"), scripted_message("c")]
    )
    batches: list[list[str]] = []
    poller = EventSourceMapping(
        queue,  # type: ignore[arg-type]
        "queue-url",
        lambda event, context: batches.append([r["body"] for r in event["Records"]]),
        processor_config(batch_size=3, batching_window_seconds=window),
        region="us-east-1",
        wait_time_seconds=0,
    )
    while queue.receives:
        poller.poll()
        poller.wait()
    assert batches == expected
    # Within the window, a receive waits at most what is left of it.
    assert max(queue.waits) <= window


def test_failing_records_reach_the_dead_letter_queue_after_max_receive_count(
    stack: Stack,
) -> None:
    template = load_template()
    policy = template["Resources"]["EnrollmentQueue"]["Properties"]["RedrivePolicy"]
    redeliver_at_once(stack)
    send(stack, "poison", json.dumps({"fine": True}))
    received: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        received.extend(r["body"] for r in event["Records"])
        failed = [r["messageId"] for r in event["Records"] if r["body"] == "poison"]
        return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}

    poller = mapping(stack, handler)
    for _ in range(policy["maxReceiveCount"] + 1):
        poller.poll()
        poller.wait()

    assert received.count("poison") == policy["maxReceiveCount"]
    assert received.count('{"fine": true}') == 1
    (dead,) = receive(stack, "EnrollmentDeadLetterQueue")
    assert dead["Body"] == "poison"
    assert queue_counts(stack) == (0, 0)
