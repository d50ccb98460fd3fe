"""The processor, invoked with SQS events in the shape Lambda sends."""

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any
from uuid import uuid4

import pytest
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient

import processor.handler as processor_handler
from app.config import get_api_settings, get_processor_settings
from app.domain import processing
from app.domain.errors import NotFoundError
from app.domain.models.enrollments import Enrollment
from local.aws_shapes import LambdaContext, sqs_event
from local.template import load_template
from processor.handler import handler
from tests.aws_events import load_event
from tests.conftest import VALID_CPF


def message(enrollment_id: str) -> str:
    return json.dumps({"enrollment_id": enrollment_id})


@pytest.fixture
def pending(
    client: TestClient, age_group: Callable[[int, int], dict[str, Any]]
) -> Callable[[], str]:
    """Create a PENDING enrollment through the API and return its id."""
    age_group(0, 150)

    def create() -> str:
        response = client.post("/enrollments", json={"name": "Ana", "age": 30, "cpf": VALID_CPF})
        assert response.status_code == 202
        enrollment_id: str = response.json()["enrollment_id"]
        return enrollment_id

    return create


def status_of(client: TestClient, enrollment_id: str) -> str:
    status: str = client.get(f"/enrollments/{enrollment_id}").json()["status"]
    return status


def failed_ids(response: Mapping[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def test_a_pending_enrollment_becomes_processed(
    client: TestClient, pending: Callable[[], str]
) -> None:
    enrollment_id = pending()
    before = client.get(f"/enrollments/{enrollment_id}").json()

    response = handler(sqs_event(message(enrollment_id)), LambdaContext())

    assert response == {"batchItemFailures": []}
    after = client.get(f"/enrollments/{enrollment_id}").json()
    assert after["status"] == "PROCESSED"
    assert after["updated_at"] > before["updated_at"]
    assert after["created_at"] == before["created_at"]


def test_the_real_sample_event_shape_is_accepted(
    client: TestClient, pending: Callable[[], str]
) -> None:
    enrollment_id = pending()
    event = load_event("sqs_event.json")
    event["Records"][0]["body"] = message(enrollment_id)

    assert handler(event, LambdaContext()) == {"batchItemFailures": []}
    assert status_of(client, enrollment_id) == "PROCESSED"


@pytest.mark.parametrize(
    "bad_body",
    [
        "not json",
        "{}",
        "[]",
        "null",
        '{"enrollment_id": 42}',
        '{"enrollment_id": "not-a-uuid"}',
        '{"id": "00000000-0000-4000-8000-000000000000"}',
    ],
)
def test_only_the_malformed_record_is_reported(
    client: TestClient, pending: Callable[[], str], bad_body: str
) -> None:
    enrollment_id = pending()
    event = sqs_event(bad_body, message(enrollment_id))
    bad_message_id = event["Records"][0]["messageId"]

    response = handler(event, LambdaContext())

    assert failed_ids(response) == [bad_message_id]
    assert status_of(client, enrollment_id) == "PROCESSED"


def test_an_unknown_enrollment_is_reported_for_retry(
    client: TestClient, pending: Callable[[], str]
) -> None:
    known = pending()
    event = sqs_event(message(str(uuid4())), message(known))

    response = handler(event, LambdaContext())

    assert failed_ids(response) == [event["Records"][0]["messageId"]]
    assert status_of(client, known) == "PROCESSED"


def test_a_message_that_arrives_before_its_enrollment_is_written_waits_for_it(
    client: TestClient, pending: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    enrollment_id = pending()
    repository = processor_handler.get_enrollment_repository()
    real = repository.get
    attempts: list[Any] = []

    def written_late(enrollment_id: Any) -> Enrollment:
        attempts.append(enrollment_id)
        if len(attempts) == 1:
            raise NotFoundError("Enrollment", enrollment_id)
        return real(enrollment_id)

    monkeypatch.setattr(repository, "get", written_late)

    response = handler(sqs_event(message(enrollment_id)), LambdaContext())

    assert response == {"batchItemFailures": []}
    assert len(attempts) == 2
    assert status_of(client, enrollment_id) == "PROCESSED"


def test_a_redelivered_message_of_a_processed_enrollment_succeeds(
    client: TestClient, pending: Callable[[], str]
) -> None:
    enrollment_id = pending()
    assert handler(sqs_event(message(enrollment_id)), LambdaContext()) == {"batchItemFailures": []}
    first = client.get(f"/enrollments/{enrollment_id}").json()

    response = handler(sqs_event(message(enrollment_id)), LambdaContext())

    assert response == {"batchItemFailures": []}
    assert client.get(f"/enrollments/{enrollment_id}").json() == first


@pytest.mark.parametrize("known", [True, False], ids=["processed", "unknown"])
def test_no_work_is_done_for_a_processed_or_unknown_enrollment(
    client: TestClient, pending: Callable[[], str], monkeypatch: pytest.MonkeyPatch, known: bool
) -> None:
    enrollment_id = pending() if known else str(uuid4())
    if known:
        assert handler(sqs_event(message(enrollment_id)), LambdaContext()) == {
            "batchItemFailures": []
        }
    worked: list[float] = []

    async def work(delay: float) -> None:
        worked.append(delay)

    monkeypatch.setattr(processing, "simulate_work", work)
    event = sqs_event(message(enrollment_id))

    response = handler(event, LambdaContext())

    assert worked == []
    expected = [] if known else [{"itemIdentifier": event["Records"][0]["messageId"]}]
    assert response == {"batchItemFailures": expected}


def test_duplicates_in_one_batch_both_succeed(
    client: TestClient, pending: Callable[[], str]
) -> None:
    enrollment_id = pending()

    response = handler(sqs_event(message(enrollment_id), message(enrollment_id)), LambdaContext())

    assert response == {"batchItemFailures": []}
    assert status_of(client, enrollment_id) == "PROCESSED"


def test_a_dynamodb_error_on_one_record_reports_only_that_record(
    client: TestClient, pending: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    failing, healthy = pending(), pending()
    repository = processor_handler.get_enrollment_repository()
    real = repository.mark_processed

    def mark_processed(enrollment: Any, expires_at: int | None = None) -> Any:
        if str(enrollment.enrollment_id) == failing:
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                "UpdateItem",
            )
        return real(enrollment, expires_at)

    monkeypatch.setattr(repository, "mark_processed", mark_processed)
    event = sqs_event(message(failing), message(healthy))

    response = handler(event, LambdaContext())

    assert failed_ids(response) == [event["Records"][0]["messageId"]]
    assert status_of(client, failing) == "PENDING"
    assert status_of(client, healthy) == "PROCESSED"


def test_a_batch_that_fails_whole_reports_every_record(client: TestClient) -> None:
    event = sqs_event("x", "y", "z")

    response = handler(event, LambdaContext())

    assert sorted(failed_ids(response)) == sorted(r["messageId"] for r in event["Records"])


def test_records_of_a_batch_are_processed_concurrently(
    client: TestClient, pending: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [pending() for _ in range(10)]
    # Each record's simulated work waits until all ten are working at once. Processed one after
    # the other, the first would wait alone and time out, and every record would fail.
    barrier = asyncio.Barrier(len(ids))

    async def work_in_step(delay: float) -> None:
        await asyncio.wait_for(barrier.wait(), timeout=5)

    monkeypatch.setattr(processing, "simulate_work", work_in_step)

    response = handler(sqs_event(*(message(i) for i in ids)), LambdaContext())

    assert response == {"batchItemFailures": []}
    assert {status_of(client, i) for i in ids} == {"PROCESSED"}


def test_the_processing_delay_is_applied_to_each_record(
    client: TestClient, pending: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROCESSING_DELAY_SECONDS", "2.5")
    get_api_settings.cache_clear()
    delays: list[float] = []

    async def record_delay(delay: float) -> None:
        delays.append(delay)

    monkeypatch.setattr(processing, "simulate_work", record_delay)

    handler(sqs_event(message(pending()), message(pending())), LambdaContext())

    assert delays == [2.5, 2.5]


def test_the_processing_delay_is_the_templates_four_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    template = load_template()["Resources"]["ProcessorFunction"]["Properties"]
    monkeypatch.setenv(
        "PROCESSING_DELAY_SECONDS", template["Environment"]["Variables"]["PROCESSING_DELAY_SECONDS"]
    )
    get_processor_settings.cache_clear()

    assert get_processor_settings().processing_delay_seconds == 4
