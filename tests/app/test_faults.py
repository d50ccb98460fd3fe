"""Failures of AWS during a request: the client is told the truth, and nothing is left behind.

Each failure point of `POST /enrollments` (reading age groups, publishing, writing) is made to
fail by throttling and by unavailability. Afterwards every stored enrollment must have its message
on the queue, so none can stay `PENDING` forever.
"""

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient

from app.adapters.aws import get_dynamodb_client, get_sqs_client
from app.config import get_api_settings
from local.aws_shapes import LambdaContext
from local.template import Stack
from processor.handler import handler as process
from tests.app.faults import (
    answering,
    error_response,
    take_effect_then_time_out,
    throttled_response,
    unavailable,
)
from tests.conftest import VALID_CPF, in_process_app, queued_event, queued_messages

ENROLLMENT = {"name": "Ana", "age": 30, "cpf": VALID_CPF}

# (client provider, service, operation) of each call `POST /enrollments` makes, in order.
AGE_GROUP_READ = (get_dynamodb_client, "dynamodb", "Scan")
PUBLISH = (get_sqs_client, "sqs", "SendMessage")
WRITE = (get_dynamodb_client, "dynamodb", "PutItem")
FAILURE_POINTS = {"age-group read": AGE_GROUP_READ, "publish": PUBLISH, "write": WRITE}


def fail(point: tuple[Callable[[], Any], str, str], how: str) -> list[str]:
    """Make every attempt of one AWS call fail; returns the list the attempts are recorded in."""
    provider, service, operation = point
    events = provider().meta.events
    attempts: list[str] = []
    if how == "throttled":
        events.register_first(
            f"before-send.{service}.{operation}",
            answering(lambda: throttled_response(service), attempts),
        )
    else:

        def record_then_fail(request: Any, **_: Any) -> None:
            attempts.append(request.url)
            unavailable()

        events.register_first(f"before-send.{service}.{operation}", record_then_fail)
    return attempts


def stored_ids() -> set[str]:
    items = boto3.client("dynamodb").scan(TableName=get_api_settings().enrollments_table)["Items"]
    return {item["enrollment_id"]["S"] for item in items}


def queued_ids(stack: Stack) -> list[str]:
    return [json.loads(m["Body"])["enrollment_id"] for m in queued_messages(stack)]


@pytest.mark.usefixtures("open_group")
@pytest.mark.parametrize("how", ["throttled", "unavailable"])
@pytest.mark.parametrize("point", FAILURE_POINTS)
def test_each_failure_point_is_a_503_that_leaves_nothing_pending(
    client: TestClient, stack: Stack, point: str, how: str
) -> None:
    attempts = fail(FAILURE_POINTS[point], how)

    response = client.post("/enrollments", json=ENROLLMENT)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "unavailable, please retry later" in response.json()["detail"]
    assert len(attempts) == 3, "three attempts in all (standard retry mode)"
    # Nothing was stored, so nothing can stay PENDING; a message published before a failed
    # write names no enrollment, and the processor reports it until it is dead-lettered.
    assert stored_ids() == set()
    orphans = queued_ids(stack)
    assert len(orphans) == (1 if point == "write" else 0)


@pytest.mark.usefixtures("open_group")
def test_a_message_whose_write_failed_is_never_marked_processed(
    client: TestClient, stack: Stack
) -> None:
    fail(WRITE, "throttled")
    assert client.post("/enrollments", json=ENROLLMENT).status_code == 503
    event = queued_event(stack)
    [orphan] = event["Records"]

    response = process(event, LambdaContext())

    assert response == {"batchItemFailures": [{"itemIdentifier": orphan["messageId"]}]}
    assert stored_ids() == set()


@pytest.mark.usefixtures("open_group")
def test_an_enrollment_whose_first_write_took_effect_unseen_is_accepted(
    client: TestClient, stack: Stack
) -> None:
    # The SDK retries the write after the timeout; the retry finds the item the first attempt
    # wrote, and its condition fails: that is this request's own write, not a conflict.
    take_effect_then_time_out("PutItem")

    response = client.post("/enrollments", json=ENROLLMENT)

    assert response.status_code == 202
    enrollment_id = response.json()["enrollment_id"]
    assert stored_ids() == {enrollment_id}
    assert queued_ids(stack) == [enrollment_id]


def test_an_age_group_whose_first_write_took_effect_unseen_is_created(client: TestClient) -> None:
    take_effect_then_time_out("PutItem")

    response = client.post("/age-groups", json={"min_age": 1, "max_age": 2})

    assert response.status_code == 201
    assert client.get("/age-groups").json() == [response.json()]


def test_a_delete_whose_first_attempt_took_effect_unseen_succeeds(client: TestClient) -> None:
    group = client.post("/age-groups", json={"min_age": 1, "max_age": 2}).json()
    take_effect_then_time_out("DeleteItem")

    response = client.delete(f"/age-groups/{group['age_group_id']}")

    assert response.status_code == 200
    assert client.get("/age-groups").json() == []


@pytest.mark.parametrize("route", ["list", "create", "delete", "get"])
@pytest.mark.parametrize("how", ["throttled", "unavailable"])
def test_every_route_answers_503_when_dynamodb_fails(
    client: TestClient, route: str, how: str
) -> None:
    operation, method, path = {
        "list": ("Scan", "GET", "/age-groups"),
        "create": ("PutItem", "POST", "/age-groups"),
        "delete": ("DeleteItem", "DELETE", "/age-groups/00000000-0000-4000-8000-000000000000"),
        "get": ("GetItem", "GET", "/enrollments/00000000-0000-4000-8000-000000000000"),
    }[route]
    fail((get_dynamodb_client, "dynamodb", operation), how)

    response = client.request(method, path, json={"min_age": 1, "max_age": 2})

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"


@pytest.fixture
def lenient_client(stack: Stack) -> Iterator[TestClient]:
    """A client that returns the app's 500 response instead of re-raising the error."""
    with TestClient(in_process_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def test_a_non_retryable_aws_error_is_a_generic_500_logged_with_the_request_id(
    lenient_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    def reject(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "arn:aws:iam::123:role/x"}},
            "Scan",
        )

    get_dynamodb_client().meta.events.register_first("before-call.dynamodb.Scan", reject)

    with caplog.at_level(logging.ERROR):
        response = lenient_client.get("/age-groups")

    assert response.status_code == 500
    body = response.json()
    assert body["detail"] == "Internal server error"
    assert "AccessDenied" not in response.text
    assert "arn:aws" not in response.text
    [record] = [r for r in caplog.records if r.getMessage() == "Unhandled error"]
    assert getattr(record, "request_id", None) == body["request_id"]
    assert record.exc_info is not None


def test_an_unexpected_bug_is_a_generic_json_500(
    lenient_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.adapters.age_groups import AgeGroupRepository

    def broken(self: AgeGroupRepository) -> None:
        raise ZeroDivisionError("secret internals")

    monkeypatch.setattr(AgeGroupRepository, "list", broken)

    response = lenient_client.get("/age-groups")

    assert response.status_code == 500
    assert response.json()["detail"] == "Internal server error"
    assert "secret" not in response.text
    assert "Traceback" not in response.text


def test_clients_retry_in_standard_mode_with_short_timeouts() -> None:
    for client in (get_dynamodb_client(), get_sqs_client()):
        config: Any = client.meta.config
        assert config.retries == {"mode": "standard", "total_max_attempts": 3}
        # Three attempts of both timeouts, and backoff, fit in API Gateway's 29 s.
        assert 3 * (config.connect_timeout + config.read_timeout) <= 10


def test_an_aws_5xx_is_a_503_whatever_its_error_code(client: TestClient) -> None:
    attempts: list[str] = []
    events: Any = get_dynamodb_client().meta.events
    events.register_first(
        "before-send.dynamodb.Scan",
        answering(lambda: error_response("SomethingNew", "It broke", 500), attempts),
    )

    response = client.get("/age-groups")

    assert response.status_code == 503
    assert len(attempts) == 3, "the SDK retried it as a server error"
