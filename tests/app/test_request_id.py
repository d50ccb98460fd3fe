"""One id per request: in its answer's header, its log lines, its message, the processor's lines."""

import asyncio
import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from awslambdaric.lambda_runtime_log_utils import (  # type: ignore[import-untyped]
    JsonFormatter,
)
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient
from mangum import Mangum

from app.adapters.aws import get_dynamodb_client, get_sqs_client
from app.api.factory import create_app
from app.api.middleware import MAX_BODY_BYTES
from app.config import get_api_settings
from app.entrypoints.events import rest_event
from local.aws_shapes import LambdaContext
from local.template import Stack
from processor.handler import handler as process
from tests.conftest import API_KEY, VALID_CPF, in_process_app, queued_event
from tests.emf import emf_documents

ENROLLMENT = {"name": "Ana", "age": 30, "cpf": VALID_CPF}
BAD_LENGTH = {"content-length": "x"}


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@pytest.fixture
def lenient_client(stack: Stack) -> Iterator[TestClient]:
    """A client that returns the app's 500 response instead of re-raising the error."""
    with TestClient(in_process_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def reject_scans(**_: Any) -> None:
    raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "Scan")


def throttle_scans(**_: Any) -> None:
    raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "Scan")


@pytest.mark.parametrize(
    ("request_args", "status", "fault"),
    [
        (("GET", "/age-groups"), 200, None),
        (("POST", "/enrollments", {"json": {**ENROLLMENT, "age": 151}}), 422, None),
        (("POST", "/enrollments", {"json": ENROLLMENT}), 400, None),
        (("GET", "/nowhere"), 404, None),
        (("PUT", "/age-groups"), 405, None),
        (("POST", "/age-groups", {"content": b"{}", "headers": BAD_LENGTH}), 400, None),
        (("POST", "/age-groups", {"content": b"x" * (MAX_BODY_BYTES + 1)}), 413, None),
        (("GET", "/age-groups"), 500, reject_scans),
        (("GET", "/age-groups"), 503, throttle_scans),
    ],
)
def test_every_answer_carries_its_request_id(
    lenient_client: TestClient,
    request_args: tuple[Any, ...],
    status: int,
    fault: Callable[..., None] | None,
) -> None:
    if fault is not None:
        get_dynamodb_client().meta.events.register_first("before-call.dynamodb.Scan", fault)
    method, path, *kwargs = request_args

    response = lenient_client.request(method, path, **(kwargs[0] if kwargs else {}))

    assert response.status_code == status
    assert is_uuid(response.headers["x-request-id"])
    assert response.headers.get_list("x-request-id") == [response.headers["x-request-id"]]
    if status == 500:
        assert response.json()["request_id"] == response.headers["x-request-id"]


def test_an_unexpected_bug_is_answered_and_logged_with_its_request_id(
    lenient_client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from app.adapters.age_groups import AgeGroupRepository

    def broken(self: AgeGroupRepository) -> None:
        raise ZeroDivisionError

    # Not a domain error: Starlette's outermost error middleware answers it.
    monkeypatch.setattr(AgeGroupRepository, "list", broken)

    with caplog.at_level(logging.ERROR):
        response = lenient_client.get("/age-groups", headers={"x-request-id": "bug-1"})

    assert response.status_code == 500
    assert response.headers["x-request-id"] == "bug-1"
    assert response.json()["request_id"] == "bug-1"
    (line,) = [r for r in caplog.records if r.getMessage() == "Unhandled error"]
    assert vars(line)["request_id"] == "bug-1"


def test_a_forbidden_answer_carries_its_request_id(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_KEY", API_KEY)
    get_api_settings.cache_clear()
    with TestClient(in_process_app()) as client:
        response = client.get("/age-groups", headers={"x-request-id": "client-1"})

    assert response.status_code == 403
    assert response.headers["x-request-id"] == "client-1"


def test_each_request_gets_its_own_id(client: TestClient) -> None:
    ids = {client.get("/age-groups").headers["x-request-id"] for _ in range(3)}

    assert len(ids) == 3


@pytest.mark.parametrize("sent", ["abc", "1-5759e988:bd862e3f.v2_x", "x" * 128])
def test_a_sane_client_id_is_kept(client: TestClient, sent: str) -> None:
    assert client.get("/age-groups", headers={"x-request-id": sent}).headers["x-request-id"] == sent


@pytest.mark.parametrize("sent", ["", "x" * 129, "a b", "a\tb", "<script>", "id;drop", "k=v", "é"])
def test_any_other_client_id_is_replaced_by_a_new_one(client: TestClient, sent: str) -> None:
    headers = {b"x-request-id": sent.encode()}

    answered = client.get("/age-groups", headers=headers).headers["x-request-id"]

    assert is_uuid(answered)


@pytest.fixture
def event_loop_as_on_lambda() -> Iterator[None]:
    """Mangum runs on the thread's current event loop, which Lambda keeps between invocations."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    asyncio.set_event_loop(None)
    loop.close()


@pytest.mark.usefixtures("stack", "event_loop_as_on_lambda")
def test_behind_api_gateway_its_request_id_is_the_one_and_a_client_id_is_ignored() -> None:
    event = rest_event("GET", "/age-groups")
    event["headers"]["X-Request-Id"] = "client-chosen"
    event["multiValueHeaders"]["X-Request-Id"] = ["client-chosen"]

    response = Mangum(create_app(), lifespan="off")(event, LambdaContext())

    assert response["statusCode"] == 200
    headers = response.get("multiValueHeaders") or {k: [v] for k, v in response["headers"].items()}
    assert headers["x-request-id"] == [event["requestContext"]["requestId"]]


def test_one_enrollment_carries_one_request_id_from_post_to_processed(
    client: TestClient,
    stack: Stack,
    age_group: Callable[[int, int], dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    age_group(0, 150)
    with caplog.at_level(logging.INFO):
        response = client.post("/enrollments", json=ENROLLMENT, headers={"x-request-id": "req-1"})
        # Every line but the test client's own.
        api_lines = [r for r in caplog.records if not r.name.startswith("httpx")]
        caplog.clear()
        event = queued_event(stack)
        assert process(event, LambdaContext()) == {"batchItemFailures": []}
        processor_lines = list(caplog.records)

    assert response.status_code == 202
    assert response.headers["x-request-id"] == "req-1"
    enrollment_id = response.json()["enrollment_id"]
    # The API's lines: every one of the request (the route's ran in a worker thread).
    accepted = [r for r in api_lines if r.getMessage() == "Enrollment accepted"]
    assert len(accepted) == 1
    assert all(getattr(r, "request_id", None) == "req-1" for r in api_lines), api_lines
    # The message.
    (record,) = event["Records"]
    assert record["messageAttributes"]["request_id"]["stringValue"] == "req-1"
    assert record["messageAttributes"]["request_id"]["dataType"] == "String"
    # The processor's lines, beside the enrollment and message ids.
    processed = [r for r in processor_lines if r.getMessage() == "Enrollment processed"]
    assert len(processed) == 1
    for line in processor_lines:
        if line.name == "processor.handler":
            assert vars(line)["request_id"] == "req-1"
            assert vars(line)["enrollment_id"] == enrollment_id
            assert vars(line)["message_id"] == record["messageId"]
    # The API's metric line names it too.
    (requested,) = [d for d in emf_documents(capsys.readouterr().out) if "EnrollmentRequested" in d]
    assert requested["request_id"] == "req-1"


def test_concurrent_records_keep_their_own_ids(
    client: TestClient,
    stack: Stack,
    age_group: Callable[[int, int], dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    age_group(0, 150)
    sent = {
        client.post("/enrollments", json=ENROLLMENT, headers={"x-request-id": f"r{i}"}).json()[
            "enrollment_id"
        ]: f"r{i}"
        for i in range(5)
    }
    event = queued_event(stack)
    assert len(event["Records"]) == 5
    caplog.clear()

    with caplog.at_level(logging.INFO):
        process(event, LambdaContext())

    processed = [r for r in caplog.records if r.getMessage() == "Enrollment processed"]
    assert {vars(r)["enrollment_id"]: vars(r)["request_id"] for r in processed} == sent


def test_a_message_without_the_attribute_is_processed_and_logged_without_one(
    client: TestClient,
    stack: Stack,
    age_group: Callable[[int, int], dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    age_group(0, 150)
    client.post("/enrollments", json=ENROLLMENT)
    event = queued_event(stack)
    event["Records"][0]["messageAttributes"] = {}

    with caplog.at_level(logging.INFO):
        assert process(event, LambdaContext()) == {"batchItemFailures": []}

    (line,) = [r for r in caplog.records if r.getMessage() == "Enrollment processed"]
    assert "request_id" not in vars(line)
    assert vars(line)["message_id"] == event["Records"][0]["messageId"]


def test_the_sdk_still_sends_the_trace_header_that_sqs_keeps_as_aws_trace_header(
    client: TestClient,
    age_group: Callable[[int, int], dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # On Lambda, with active tracing, the runtime sets these; botocore forwards the trace header.
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "ApiFunction")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", trace)
    age_group(0, 150)
    sent: list[Any] = []

    def capture(request: Any, **_: Any) -> None:
        sent.append(request)

    get_sqs_client().meta.events.register("before-send.sqs.SendMessage", capture)

    assert client.post("/enrollments", json=ENROLLMENT).status_code == 202

    (request,) = sent
    assert request.headers["X-Amzn-Trace-Id"] == trace.encode()
    body = json.loads(request.body)
    assert "MessageSystemAttributes" not in body
    assert set(body["MessageAttributes"]) == {"request_id"}


def test_lambdas_json_log_lines_carry_the_ids_as_fields(
    client: TestClient,
    stack: Stack,
    age_group: Callable[[int, int], dict[str, Any]],
) -> None:
    """The runtime's own formatter (awslambdaric), as `LogFormat: JSON` installs it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        age_group(0, 150)
        response = client.post("/enrollments", json=ENROLLMENT, headers={"x-request-id": "req-9"})
        process(queued_event(stack), LambdaContext())
    finally:
        root.removeHandler(handler)
        root.setLevel(level)

    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line]
    by_message = {line["message"]: line for line in lines}
    accepted = by_message["Enrollment accepted"]
    assert accepted["request_id"] == "req-9"
    assert accepted["enrollment_id"] == response.json()["enrollment_id"]
    processed = by_message["Enrollment processed"]
    assert processed["request_id"] == "req-9"
    assert processed["enrollment_id"] == response.json()["enrollment_id"]
    assert is_uuid(processed["message_id"])
    assert VALID_CPF not in stream.getvalue()
