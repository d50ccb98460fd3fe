"""Oversized bodies are refused unread; logs never carry a full CPF."""

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from app.api.middleware import MAX_BODY_BYTES
from local.aws_shapes import LambdaContext
from local.template import Stack
from processor.handler import handler as process
from tests.conftest import VALID_CPF, queued_event


def test_a_body_over_the_limit_is_413_and_never_parsed(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[Request] = []
    real_body = Request.body

    async def spy_body(self: Request) -> bytes:
        reads.append(self)
        return await real_body(self)

    monkeypatch.setattr(Request, "body", spy_body)
    body = b'{"min_age": 1, "max_age": 2, "pad": "' + b"x" * MAX_BODY_BYTES + b'"}'

    response = client.post(
        "/age-groups", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 413
    assert response.json() == {"detail": f"Request body exceeds {MAX_BODY_BYTES} bytes"}
    assert reads == []
    # The spy does see a body that is read.
    assert client.post("/age-groups", json={"min_age": 1, "max_age": 2}).status_code == 201
    assert reads


def test_a_streamed_body_over_the_limit_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"min_age": 1, "max_age": 2, "pad": "'
        for _ in range(MAX_BODY_BYTES // 1024 + 1):
            yield b"x" * 1024
        yield b'"}'

    response = client.post(
        "/age-groups", content=chunks(), headers={"content-type": "application/json"}
    )

    assert response.status_code == 413
    assert client.get("/age-groups").json() == []


def test_a_body_at_the_limit_is_read(client: TestClient) -> None:
    prefix = b'{"min_age": 1, "max_age": 2, "pad": "'
    body = prefix + b"x" * (MAX_BODY_BYTES - len(prefix) - 2) + b'"}'
    assert len(body) == MAX_BODY_BYTES

    response = client.post(
        "/age-groups", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "extra_forbidden"


def test_a_malformed_content_length_is_400(client: TestClient) -> None:
    response = client.post("/age-groups", content=b"{}", headers={"content-length": "abc"})

    assert response.status_code == 400


def test_no_log_line_of_a_whole_enrollment_holds_the_cpf(
    client: TestClient,
    stack: Stack,
    age_group: Callable[[int, int], dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    formatted = "529.982.247-25"
    with caplog.at_level(logging.INFO):
        age_group(0, 150)
        created = client.post("/enrollments", json={"name": "Ana", "age": 9, "cpf": formatted})
        refused = client.post("/enrollments", json={"name": "Ana", "age": 200, "cpf": VALID_CPF})
        event = queued_event(stack)
        assert len(event["Records"]) == 1
        processed = process(event, LambdaContext())

    assert (created.status_code, refused.status_code) == (202, 422)
    assert processed == {"batchItemFailures": []}
    assert any(r.getMessage() == "Enrollment accepted" for r in caplog.records)
    assert any(r.getMessage() == "Enrollment processed" for r in caplog.records)
    for record in caplog.records:
        # The whole record: message, arguments and every extra field.
        text = json.dumps(vars(record), default=str)
        assert VALID_CPF not in text
        assert formatted not in text


def test_a_body_longer_than_its_declared_length_is_still_counted(client: TestClient) -> None:
    from mangum import Mangum

    from app.api.factory import create_app
    from local.aws_shapes import LambdaContext
    from tests.aws_events import load_event

    # Behind API Gateway the whole body arrives in the event, whatever the header says.
    event = load_event("apigw_rest_proxy.json")
    event["httpMethod"] = "POST"
    event["body"] = '{"pad": "' + "x" * MAX_BODY_BYTES + '"}'
    event["headers"] |= {"Content-Type": "application/json", "Content-Length": "20"}
    event["multiValueHeaders"] |= {"Content-Type": ["application/json"], "Content-Length": ["20"]}

    response = Mangum(create_app(), lifespan="off")(event, LambdaContext())

    assert response["statusCode"] == 413


def test_conflicting_content_lengths_are_400(client: TestClient) -> None:
    response = client.post(
        "/age-groups",
        content=b"{}",
        headers=[("content-length", "2"), ("content-length", "3")],
    )

    assert response.status_code == 400
