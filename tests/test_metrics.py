"""Each function's metrics: valid EMF, in the service's namespace, emitted when it happens."""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.adapters.aws import get_dynamodb_client, get_sqs_client
from app.config import get_api_settings
from app.observability.metrics import Metric
from local.aws_shapes import LambdaContext, sqs_event
from local.template import Stack
from processor.handler import handler as process
from tests.app.faults import answering, throttled_response
from tests.conftest import VALID_CPF, in_process_app, queued_event
from tests.emf import emf_documents, service_metrics

ENROLLMENT = {"name": "Ana", "age": 30, "cpf": VALID_CPF}


@pytest.fixture
def metrics(capsys: pytest.CaptureFixture[str]) -> Callable[[], dict[Metric, list[float]]]:
    """The metrics printed since the last call, validated against the EMF specification."""

    def read() -> dict[Metric, list[float]]:
        return service_metrics(emf_documents(capsys.readouterr().out))

    return read


@pytest.fixture
def open_group(client: TestClient, metrics: Callable[[], dict[Metric, list[float]]]) -> None:
    assert client.post("/age-groups", json={"min_age": 0, "max_age": 150}).status_code == 201
    assert metrics() == {}


# --- The API ---


@pytest.mark.usefixtures("open_group")
def test_an_accepted_enrollment_counts_one_request(
    client: TestClient, metrics: Callable[[], dict[Metric, list[float]]]
) -> None:
    assert client.post("/enrollments", json=ENROLLMENT).status_code == 202

    assert metrics() == {Metric.ENROLLMENT_REQUESTED: [1]}


@pytest.mark.usefixtures("open_group")
def test_an_age_in_no_group_counts_one_rejection(
    client: TestClient, metrics: Callable[[], dict[Metric, list[float]]]
) -> None:
    group_id = client.get("/age-groups").json()[0]["age_group_id"]
    assert client.delete(f"/age-groups/{group_id}").status_code == 200

    assert client.post("/enrollments", json=ENROLLMENT).status_code == 400

    assert metrics() == {Metric.ENROLLMENT_REJECTED: [1]}


@pytest.mark.usefixtures("open_group")
def test_invalid_bodies_and_reads_count_nothing(
    client: TestClient, metrics: Callable[[], dict[Metric, list[float]]]
) -> None:
    created = client.post("/enrollments", json=ENROLLMENT).json()
    metrics()

    assert client.post("/enrollments", json={**ENROLLMENT, "cpf": "1"}).status_code == 422
    assert client.get(f"/enrollments/{created['enrollment_id']}").status_code == 200
    assert client.get("/age-groups").status_code == 200

    assert metrics() == {}


@pytest.mark.usefixtures("open_group")
@pytest.mark.parametrize(
    ("provider", "service", "operation"),
    [(get_sqs_client, "sqs", "SendMessage"), (get_dynamodb_client, "dynamodb", "PutItem")],
)
def test_an_enrollment_that_fails_with_503_counts_nothing(
    client: TestClient,
    metrics: Callable[[], dict[Metric, list[float]]],
    provider: Callable[[], Any],
    service: str,
    operation: str,
) -> None:
    provider().meta.events.register_first(
        f"before-send.{service}.{operation}", answering(lambda: throttled_response(service), [])
    )

    assert client.post("/enrollments", json=ENROLLMENT).status_code == 503

    assert metrics() == {}


def test_the_service_dimension_is_the_configured_name(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SERVICE_NAME", "enrollment-prod")
    get_api_settings.cache_clear()
    with TestClient(in_process_app()) as client:
        client.post("/age-groups", json={"min_age": 0, "max_age": 150})
        client.post("/enrollments", json=ENROLLMENT)
    documents = emf_documents(capsys.readouterr().out)

    assert service_metrics(documents, "enrollment-prod") == {Metric.ENROLLMENT_REQUESTED: [1]}
    process(queued_event(stack), LambdaContext())
    assert Metric.ENROLLMENT_PROCESSED in service_metrics(
        emf_documents(capsys.readouterr().out), "enrollment-prod"
    )


# --- The processor ---


@pytest.fixture
def pending(client: TestClient, open_group: None) -> Callable[[], dict[str, Any]]:
    def create() -> dict[str, Any]:
        response = client.post("/enrollments", json=ENROLLMENT)
        assert response.status_code == 202
        body: dict[str, Any] = response.json()
        return body

    return create


def test_processed_enrollments_count_and_measure_their_lag_in_one_line_per_invocation(
    stack: Stack,
    pending: Callable[[], dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    created = [pending() for _ in range(3)]
    capsys.readouterr()
    event = queued_event(stack)

    assert process(event, LambdaContext()) == {"batchItemFailures": []}
    finished = datetime.now(UTC)

    documents = emf_documents(capsys.readouterr().out)
    assert len(documents) == 1
    values = service_metrics(documents)
    assert set(values) == {Metric.ENROLLMENT_PROCESSED, Metric.PROCESSING_LAG}
    assert values[Metric.ENROLLMENT_PROCESSED] == [1, 1, 1]
    oldest = min(datetime.fromisoformat(e["created_at"]) for e in created)
    assert len(values[Metric.PROCESSING_LAG]) == 3
    for lag in values[Metric.PROCESSING_LAG]:
        assert 0 < lag <= (finished - oldest).total_seconds() * 1000


def test_a_redelivered_record_counts_nothing_and_prints_no_metrics(
    stack: Stack,
    pending: Callable[[], dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    pending()
    event = queued_event(stack)
    process(event, LambdaContext())
    capsys.readouterr()

    assert process(event, LambdaContext()) == {"batchItemFailures": []}

    assert emf_documents(capsys.readouterr().out) == []


def test_failed_records_count_one_failure_each_beside_the_processed(
    stack: Stack,
    pending: Callable[[], dict[str, Any]],
    metrics: Callable[[], dict[Metric, list[float]]],
) -> None:
    good = pending()
    metrics()
    event = sqs_event(
        json.dumps({"enrollment_id": good["enrollment_id"]}),
        "not json",
        json.dumps({"enrollment_id": "00000000-0000-4000-8000-000000000000"}),
    )

    response = process(event, LambdaContext())

    assert len(response["batchItemFailures"]) == 2
    values = metrics()
    assert values[Metric.RECORD_FAILED] == [1, 1]
    assert values[Metric.ENROLLMENT_PROCESSED] == [1]
    assert len(values[Metric.PROCESSING_LAG]) == 1
