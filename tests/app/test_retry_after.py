"""`Retry-After` on a PENDING enrollment: when a client should read it (again)."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

import processor.handler
from app.api.factory import create_app
from app.api.retry_after import retry_after
from app.config import get_api_settings
from app.domain.models.enrollments import Enrollment, EnrollmentStatus
from app.entrypoints.events import rest_event
from local.aws_shapes import LambdaContext
from local.poller import sqs_function_config
from local.template import Stack, load_template
from tests.conftest import VALID_CPF, in_process_app, queued_event

BODY = {"name": "Maria da Silva", "age": 22, "cpf": VALID_CPF}


@pytest.fixture
def timing(monkeypatch: pytest.MonkeyPatch, stack: Stack) -> Iterator[None]:
    """The template's delay and window, with a margin of 1 s: an expected 6 s."""
    monkeypatch.setenv("PROCESSING_DELAY_SECONDS", "4")
    monkeypatch.setenv("BATCHING_WINDOW_SECONDS", "1")
    monkeypatch.setenv("RETRY_AFTER_MARGIN_SECONDS", "1")
    get_api_settings.cache_clear()
    yield
    get_api_settings.cache_clear()


@pytest.fixture
def timed_client(timing: None) -> Iterator[TestClient]:
    with TestClient(in_process_app()) as test_client:
        assert test_client.post("/age-groups", json={"min_age": 0, "max_age": 150}).is_success
        yield test_client


def process_queue(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the processor on what is queued, with no delay."""
    monkeypatch.setenv("PROCESSING_DELAY_SECONDS", "0")
    get_api_settings.cache_clear()
    result = processor.handler.handler(queued_event(stack), LambdaContext())
    assert result == {"batchItemFailures": []}


def pending(created_at: datetime) -> Enrollment:
    return Enrollment(
        enrollment_id=uuid4(),
        name="Ana",
        age=20,
        cpf=VALID_CPF,
        status=EnrollmentStatus.PENDING,
        created_at=created_at,
        updated_at=created_at,
    )


@pytest.mark.usefixtures("timing")
def test_the_wait_counts_down_from_the_delay_window_and_margin_to_one_second() -> None:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    enrollment = pending(created)

    waits = [retry_after(enrollment, created + timedelta(seconds=s)) for s in (0, 0.5, 2, 5.5, 60)]

    assert waits == ["6", "6", "4", "1", "1"]
    processed = enrollment.model_copy(update={"status": EnrollmentStatus.PROCESSED})
    assert retry_after(processed, created) is None


def test_accepted_and_pending_answers_carry_it_a_processed_one_does_not(
    timed_client: TestClient, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    accepted = timed_client.post("/enrollments", json=BODY)
    assert accepted.status_code == 202
    assert accepted.headers["Retry-After"] == "6"

    read = timed_client.get(accepted.headers["Location"])
    assert read.json()["status"] == "PENDING"
    assert read.headers["Retry-After"] in {"5", "6"}

    process_queue(stack, monkeypatch)
    done = timed_client.get(accepted.headers["Location"])
    assert done.json()["status"] == "PROCESSED"
    assert "Retry-After" not in done.headers


def test_a_replayed_acceptance_carries_it_too(timed_client: TestClient) -> None:
    headers = {"Idempotency-Key": str(uuid4())}
    first = timed_client.post("/enrollments", json=BODY, headers=headers)
    again = timed_client.post("/enrollments", json=BODY, headers=headers)

    assert again.headers.get("Idempotent-Replayed") == "true"
    assert (first.headers["Retry-After"], again.headers["Retry-After"]) in {("6", "6"), ("6", "5")}


def test_a_refusal_carries_none(timed_client: TestClient) -> None:
    refused = timed_client.post("/enrollments", json=BODY | {"age": -1})

    assert refused.status_code == 422
    assert "Retry-After" not in refused.headers


@pytest.mark.usefixtures("event_loop_as_on_lambda", "timing")
def test_through_the_lambda_handler() -> None:
    from app.main import handler

    def invoke(method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
        response = handler(rest_event(method, path, body), LambdaContext())
        return response["statusCode"], response["headers"], json.loads(response["body"])

    assert invoke("POST", "/age-groups", {"min_age": 0, "max_age": 150})[0] == 201
    status, headers, created = invoke("POST", "/enrollments", BODY)
    assert (status, headers["retry-after"]) == (202, "6")

    path = f"/enrollments/{created['enrollment_id']}"
    status, headers, _ = invoke("GET", path)
    assert (status, headers["retry-after"] in {"5", "6"}) == (200, True)

    # Marked as the processor marks it: running the processor here would close the event loop.
    assert processor.handler.get_enrollment_repository().mark_processed(
        UUID(created["enrollment_id"])
    )
    status, headers, read = invoke("GET", path)
    assert (status, read["status"]) == (200, "PROCESSED")
    assert "retry-after" not in headers


def test_the_schema_documents_it_on_both_answers(client: TestClient) -> None:
    paths = create_app().openapi()["paths"]

    accepted = paths["/enrollments"]["post"]["responses"]["202"]["headers"]
    read = paths["/enrollments/{enrollment_id}"]["get"]["responses"]["200"]["headers"]

    assert accepted["Retry-After"]["schema"] == {"type": "integer", "minimum": 1}
    assert read["Retry-After"] == accepted["Retry-After"]
    assert "Location" in accepted


def test_the_api_function_is_told_the_processors_delay_and_window() -> None:
    template = load_template()
    resources = template["Resources"]
    api = resources["ApiFunction"]["Properties"]["Environment"]["Variables"]
    processor_env = resources["ProcessorFunction"]["Properties"]["Environment"]["Variables"]
    source = sqs_function_config(template, "ProcessorFunction")

    assert api["PROCESSING_DELAY_SECONDS"] == processor_env["PROCESSING_DELAY_SECONDS"]
    assert float(api["BATCHING_WINDOW_SECONDS"]) == source.batching_window_seconds
