"""What a client is told when something fails, and what the log keeps: the error that happened,
once, and no name of ours the client has no use for."""

import json
import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.adapters.aws import get_dynamodb_client
from app.adapters.idempotency import IdempotencyRepository
from app.adapters.unit_of_work import DynamoDBUnitOfWork
from app.domain.errors import DependencyUnavailableError
from app.entrypoints.events import rest_event
from local.aws_shapes import LambdaContext
from tests.app.faults import answering, throttled_response
from tests.conftest import VALID_CPF

ENROLLMENT = {"name": "Ana", "age": 30, "cpf": VALID_CPF}
KEYED = {"Idempotency-Key": "error-answers"}


def bug(*_: Any, **__: Any) -> None:
    raise RuntimeError("a bug")


def table_unavailable(*_: Any, **__: Any) -> None:
    raise DependencyUnavailableError("The idempotency table")


@pytest.mark.usefixtures("open_group")
def test_a_bug_is_a_500_even_when_its_claim_cannot_be_given_up(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(DynamoDBUnitOfWork, "commit", bug)
    monkeypatch.setattr(IdempotencyRepository, "release", table_unavailable)
    lenient = TestClient(client.app, raise_server_exceptions=False)

    with caplog.at_level(logging.WARNING):
        response = lenient.post("/enrollments", json=ENROLLMENT, headers=KEYED)

    assert response.status_code == 500
    [unhandled] = [r for r in caplog.records if r.getMessage() == "Unhandled error"]
    assert unhandled.exc_info is not None
    assert isinstance(unhandled.exc_info[1], RuntimeError)
    [secondary] = [r for r in caplog.records if "could not be given up" in r.getMessage()]
    assert secondary.exc_info is not None
    assert isinstance(secondary.exc_info[1], DependencyUnavailableError)


def test_a_refusal_stays_a_400_when_it_cannot_be_remembered(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(IdempotencyRepository, "remember", table_unavailable)

    with caplog.at_level(logging.WARNING):
        response = client.post("/enrollments", json=ENROLLMENT, headers=KEYED)

    assert response.status_code == 400
    assert response.json() == {"detail": "Age 30 is not in any registered age group"}
    assert any("could not be remembered" in r.getMessage() for r in caplog.records)


def test_a_503_names_no_table_of_ours_but_the_log_does(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    events: Any = get_dynamodb_client().meta.events
    events.register_first(
        "before-send.dynamodb.Scan", answering(lambda: throttled_response("dynamodb"), [])
    )

    with caplog.at_level(logging.WARNING):
        response = client.get("/age-groups")

    assert response.status_code == 503
    assert response.json() == {"detail": "A dependency is unavailable, please retry later"}
    assert "table" not in response.text.lower()
    assert any("The age groups table" in r.getMessage() for r in caplog.records)


@pytest.mark.usefixtures("stack", "event_loop_as_on_lambda")
def test_a_bugs_500_on_lambda_is_logged_once_with_its_traceback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from app.adapters.age_groups import AgeGroupRepository
    from app.main import handler

    monkeypatch.setattr(AgeGroupRepository, "list", bug)

    with caplog.at_level(logging.DEBUG):
        response = handler(rest_event("GET", "/age-groups"), LambdaContext())

    assert response["statusCode"] == 500
    body = json.loads(response["body"])
    assert body["detail"] == "Internal server error"
    with_traceback = [r for r in caplog.records if r.exc_info is not None]
    assert len(with_traceback) == 1, [r.getMessage() for r in with_traceback]
    assert getattr(with_traceback[0], "request_id", None) == body["request_id"]


@pytest.mark.usefixtures("stack", "event_loop_as_on_lambda")
@pytest.mark.parametrize(
    ("called", "prefix"),
    [
        pytest.param({"stage": "v1"}, "/v1", id="execute-api URL with its stage"),
        pytest.param({"stage": "v1", "base_path": ""}, "", id="custom domain at /"),
        pytest.param({"stage": "v1", "base_path": "/api"}, "/api", id="custom domain at /api"),
    ],
)
def test_location_is_the_url_the_client_called_with(called: dict[str, Any], prefix: str) -> None:
    from app.main import handler

    response = handler(
        rest_event("POST", "/age-groups", {"min_age": 0, "max_age": 150}, **called),
        LambdaContext(),
    )

    assert response["statusCode"] == 201
    group_id = json.loads(response["body"])["age_group_id"]
    assert response["headers"]["location"] == f"{prefix}/age-groups/{group_id}"
    listed = handler(rest_event("GET", "/age-groups", **called), LambdaContext())
    assert listed["statusCode"] == 200
