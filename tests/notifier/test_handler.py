"""The notifier through its Lambda handler, on the emulated stack: the enrollments table's
stream records in, signed deliveries out to receivers on this machine."""

import asyncio
import itertools
import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from app.domain.clients import DEFAULT_SCOPES, Scope
from app.entrypoints.events import rest_event
from local.aws_shapes import LambdaContext, sqs_record
from local.stream import lambda_record
from local.template import Stack
from notifier.handler import handler as notify
from processor.handler import handler as process
from tests.conftest import (
    VALID_CPF,
    add_client,
    clear_cached_providers,
    queued_event,
    queued_messages,
)
from tests.webhooks import Delivery, Receiver, receiver

pytestmark = pytest.mark.usefixtures("event_loop_as_on_lambda")

PARTNER_A = "partner-a-key"
PARTNER_B = "partner-b-key"


@pytest.fixture
def webhook_stack(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """The stack, with loopback receivers allowed (as `make run` allows them) and two partners."""
    monkeypatch.setenv("WEBHOOK_ALLOW_LOOPBACK_HTTP", "true")
    clear_cached_providers()
    add_client(PARTNER_A)
    add_client(PARTNER_B)
    return stack


def invoke(method: str, path: str, body: Any = None, key: str = PARTNER_A) -> tuple[int, Any]:
    """A request through the API's handler. On Lambda the API runs in a process of its own, on
    the event loop Lambda keeps; here the notifier's `asyncio.run` may have taken it."""
    from app.main import handler

    asyncio.set_event_loop(asyncio.new_event_loop())
    response = handler(rest_event(method, path, body, api_key_id=key), LambdaContext())
    return response["statusCode"], json.loads(response["body"] or "null")


class Stream:
    """The enrollments table's stream, read from where the last read ended."""

    def __init__(self, stack: Stack) -> None:
        self.arn = stack.attributes[("EnrollmentsTable", "StreamArn")]
        self.client = boto3.client("dynamodbstreams")
        shard = self.client.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"][0]
        self.iterator = self.client.get_shard_iterator(
            StreamArn=self.arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]

    def event(self) -> dict[str, Any]:
        """The new records, modifications only (the mapping's filter), as Lambda sends them."""
        read = self.client.get_records(ShardIterator=self.iterator)
        self.iterator = read["NextShardIterator"]
        records = [lambda_record(r, self.arn) for r in read["Records"]]
        return {"Records": [r for r in records if r["eventName"] == "MODIFY"]}


def enroll(key: str) -> str:
    status, body = invoke("POST", "/enrollments", {"name": "Ana", "age": 30, "cpf": VALID_CPF}, key)
    assert status == 202, body
    enrollment_id: str = body["enrollment_id"]
    return enrollment_id


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    with receiver() as a, receiver() as b:
        yield a, b


def processed_and_notified(stack: Stack, stream: Stream) -> dict[str, Any]:
    """Process the queued enrollments, feed the stream to the notifier, and deliver its jobs."""
    assert process(queued_event(stack), LambdaContext()) == {"batchItemFailures": []}
    assert notify(stream.event(), LambdaContext()) == {"batchItemFailures": []}
    jobs = queued_event(stack, "WebhookDeliveryQueue")
    return dict(notify(jobs, LambdaContext()))


def test_each_partner_receives_a_verified_event_for_each_of_its_enrollments_only(
    webhook_stack: Stack, receivers: tuple[Receiver, Receiver]
) -> None:
    a, b = receivers
    invoke("POST", "/age-groups", {"min_age": 0, "max_age": 150})
    status, set_a = invoke("PUT", "/webhook", {"url": a.url}, PARTNER_A)
    assert status == 200, set_a
    status, set_b = invoke("PUT", "/webhook", {"url": b.url}, PARTNER_B)
    assert status == 200, set_b
    stream = Stream(webhook_stack)
    mine = [enroll(PARTNER_A) for _ in range(3)]
    theirs = [enroll(PARTNER_B) for _ in range(2)]

    assert processed_and_notified(webhook_stack, stream) == {"batchItemFailures": []}

    got_a = [d.verified_by(set_a["secret"]) for d in a.wait_for(3, timeout=5)]
    got_b = [d.verified_by(set_b["secret"]) for d in b.wait_for(2, timeout=5)]
    assert sorted(e["data"]["enrollment_id"] for e in got_a) == sorted(mine)
    assert sorted(e["data"]["enrollment_id"] for e in got_b) == sorted(theirs)
    for event in got_a + got_b:
        assert event["type"] == "enrollment.processed"
        assert event["data"]["status"] == "PROCESSED"
        assert set(event["data"]) == {"enrollment_id", "status", "processed_at"}
    # Each verifies under its own partner's secret alone.
    assert set_a["secret"] != set_b["secret"]
    # And the client sees its attempts.
    status, listed = invoke("GET", "/webhook/deliveries", key=PARTNER_A)
    assert status == 200
    assert sorted(i["enrollment_id"] for i in listed["items"]) == sorted(mine)
    assert {i["outcome"] for i in listed["items"]} == {"delivered"}


def test_a_partner_without_an_endpoint_is_sent_nothing(
    webhook_stack: Stack, receivers: tuple[Receiver, Receiver]
) -> None:
    invoke("POST", "/age-groups", {"min_age": 0, "max_age": 150})
    stream = Stream(webhook_stack)
    enroll(PARTNER_A)

    processed_and_notified(webhook_stack, stream)

    assert queued_messages(webhook_stack, "WebhookDeliveryQueue") == []


def test_a_slow_endpoint_does_not_hold_up_another_partners_delivery(
    webhook_stack: Stack, receivers: tuple[Receiver, Receiver]
) -> None:
    slow, fast = receivers
    fast_received = threading.Event()

    def wait_for_the_other(delivery: Delivery) -> tuple[int, dict[str, str]]:
        # Answers only once the other partner's delivery arrived: were the attempts made one
        # after the other, this would wait in vain, and answer 500.
        return (204, {}) if fast_received.wait(timeout=10) else (500, {})

    def record(delivery: Delivery) -> tuple[int, dict[str, str]]:
        fast_received.set()
        return 204, {}

    slow.answer, fast.answer = wait_for_the_other, record
    invoke("POST", "/age-groups", {"min_age": 0, "max_age": 150})
    invoke("PUT", "/webhook", {"url": slow.url}, PARTNER_A)
    invoke("PUT", "/webhook", {"url": fast.url}, PARTNER_B)
    stream = Stream(webhook_stack)
    enroll(PARTNER_A)
    enroll(PARTNER_B)

    processed_and_notified(webhook_stack, stream)

    _, listed = invoke("GET", "/webhook/deliveries", key=PARTNER_A)
    assert [i["outcome"] for i in listed["items"]] == ["delivered"]


def test_a_failed_attempt_queues_its_retry_with_the_same_webhook_id(
    webhook_stack: Stack, receivers: tuple[Receiver, Receiver], monkeypatch: pytest.MonkeyPatch
) -> None:
    # No wait before the retry: its message is on the queue at once.
    monkeypatch.setenv("WEBHOOK_RETRY_DELAYS", "0,0")
    clear_cached_providers()
    a, _ = receivers
    a.answer = lambda delivery: (503, {})
    invoke("POST", "/age-groups", {"min_age": 0, "max_age": 150})
    invoke("PUT", "/webhook", {"url": a.url}, PARTNER_A)
    stream = Stream(webhook_stack)
    enroll(PARTNER_A)

    assert processed_and_notified(webhook_stack, stream) == {"batchItemFailures": []}

    [retry] = queued_messages(webhook_stack, "WebhookDeliveryQueue")
    assert json.loads(retry["Body"])["attempt"] == 2
    arn = webhook_stack.attributes[("WebhookDeliveryQueue", "Arn")]
    notify({"Records": [sqs_record(retry, arn, "us-east-1")]}, LambdaContext())  # type: ignore[arg-type]
    first, second = a.wait_for(2, timeout=5)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    _, listed = invoke("GET", "/webhook/deliveries?failed=true", key=PARTNER_A)
    assert [(i["attempt"], i["outcome"], i["status_code"]) for i in listed["items"]] == [
        (2, "failed", 503),
        (1, "failed", 503),
    ]
    assert {i["webhook_id"] for i in listed["items"]} == {first.headers["webhook-id"]}


def test_a_record_the_notifier_cannot_read_is_reported_by_its_sequence_number(
    webhook_stack: Stack,
) -> None:
    record = {
        "eventID": "1",
        "eventName": "MODIFY",
        "eventSource": "aws:dynamodb",
        "dynamodb": {"Keys": {"enrollment_id": {"S": "not-a-uuid"}}, "SequenceNumber": "42"},
    }

    response = notify({"Records": [record]}, LambdaContext())

    assert response == {"batchItemFailures": [{"itemIdentifier": "42"}]}


def test_a_malformed_job_is_reported_for_a_retry(webhook_stack: Stack) -> None:
    arn = webhook_stack.attributes[("WebhookDeliveryQueue", "Arn")]
    boto3.client("sqs").send_message(
        QueueUrl=webhook_stack.refs["WebhookDeliveryQueue"], MessageBody="{not json"
    )
    [message] = queued_messages(webhook_stack, "WebhookDeliveryQueue")

    response = notify({"Records": [sqs_record(message, arn, "us-east-1")]}, LambdaContext())  # type: ignore[arg-type]

    assert response == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}


# --- An erasure, in any order with the processing and the notifier's steps ---

ERASER = "partner-eraser-key"
STEPS = ("process", "erase", "notify", "deliver")
# Every order of the four steps in which a job is delivered after the stream's records that
# would have made it (a job cannot be delivered before it exists).
ORDERS = [
    order
    for order in itertools.permutations(STEPS)
    if order.index("notify") < order.index("deliver")
]


@pytest.mark.parametrize("order", ORDERS, ids="-".join)
def test_an_erased_enrollment_is_never_brought_back_nor_announced_after_its_erasure(
    webhook_stack: Stack, receivers: tuple[Receiver, Receiver], order: tuple[str, ...]
) -> None:
    a, _ = receivers
    add_client(ERASER, scopes=DEFAULT_SCOPES | {Scope.ENROLLMENTS_ERASE})
    invoke("POST", "/age-groups", {"min_age": 0, "max_age": 150})
    status, endpoint = invoke("PUT", "/webhook", {"url": a.url}, ERASER)
    assert status == 200, endpoint
    stream = Stream(webhook_stack)
    enrollment_id = enroll(ERASER)
    delivered_at_erasure = None

    def deliver_queued_jobs() -> None:
        jobs = queued_event(webhook_stack, "WebhookDeliveryQueue")
        assert notify(jobs, LambdaContext()) == {"batchItemFailures": []}

    for step in order:
        if step == "process":
            assert process(queued_event(webhook_stack), LambdaContext()) == {
                "batchItemFailures": []
            }
        elif step == "erase":
            status, tombstone = invoke("DELETE", f"/enrollments/{enrollment_id}", key=ERASER)
            assert (status, tombstone["status"]) == (200, "ERASED")
            delivered_at_erasure = len(a.deliveries)
        elif step == "notify":
            assert notify(stream.event(), LambdaContext()) == {"batchItemFailures": []}
        else:
            deliver_queued_jobs()
    # What the mappings would still bring: the stream's later records, and the jobs they made.
    assert notify(stream.event(), LambdaContext()) == {"batchItemFailures": []}
    deliver_queued_jobs()

    status, final = invoke("GET", f"/enrollments/{enrollment_id}", key=ERASER)
    assert status == 200
    assert (final["status"], "name" in final, "cpf" in final) == ("ERASED", False, False)
    # An event only where it was delivered while the enrollment was PROCESSED, and none since.
    announced = order.index("process") < order.index("notify") < order.index("deliver")
    expected = 1 if announced and order.index("deliver") < order.index("erase") else 0
    assert len(a.deliveries) == delivered_at_erasure == expected
