"""`Idempotency-Key` on both `POST`s: every row of its contract, through the app and on Lambda.

| request | answer |
|---|---|
| no key | as without idempotency |
| a malformed key | 400, nothing written |
| the first request with a key | executed; its answer remembered for 24 hours |
| the same key and body after it finished | the same answer, `Idempotent-Replayed: true`, no write |
| the same key with another body | 422, nothing written |
| the same key while the first is in progress | 409 with `Retry-After`, nothing written |
| the same key after the first failed (5xx) | executed again, or the first's resource if it was |
"""

import asyncio
import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from app.adapters.aws import get_dynamodb_client, get_sqs_client
from app.adapters.claims import LEASE_SECONDS, RETENTION_SECONDS
from app.adapters.idempotency import IdempotencyRepository
from app.adapters.unit_of_work import DynamoDBUnitOfWork
from app.api.factory import create_app
from app.api.idempotency import KEY_PATTERN, check_key
from app.config import get_api_settings
from app.domain.errors import DependencyUnavailableError, IdempotencyKeyInvalidError
from app.entrypoints.events import rest_event
from local.aws_shapes import LambdaContext
from local.template import Stack
from tests.app.faults import take_effect_then_time_out, unavailable
from tests.conftest import VALID_CPF, add_client, queued_messages

ENROLLMENT = {"name": "Ana", "age": 30, "cpf": VALID_CPF}
KEY = "8e03978e-40d5-43e8-bc93-6894a57f9324"


def keyed(key: str = KEY) -> dict[str, str]:
    return {"Idempotency-Key": key}


def scan(table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = boto3.client("dynamodb").scan(TableName=table)["Items"]
    return items


def enrollment_ids() -> list[str]:
    return [item["enrollment_id"]["S"] for item in scan(get_api_settings().enrollments_table)]


def records() -> list[dict[str, Any]]:
    return scan(get_api_settings().idempotency_table)


def queued_ids(stack: Stack) -> list[str]:
    return [json.loads(m["Body"])["enrollment_id"] for m in queued_messages(stack)]


@pytest.fixture(autouse=True)
def callers(request: pytest.FixtureRequest) -> None:
    """The clients whose keys the Lambda events below name, with every scope."""
    for name in {"stack", "served_stack"} & set(request.fixturenames):
        request.getfixturevalue(name)
        for api_key_id in ("key-a", "key-b"):
            add_client(api_key_id)


# --- No key ---


@pytest.mark.usefixtures("open_group")
def test_without_a_key_each_request_is_a_new_enrollment_with_its_location(
    client: TestClient,
) -> None:
    first, second = (client.post("/enrollments", json=ENROLLMENT) for _ in range(2))

    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["enrollment_id"] != second.json()["enrollment_id"]
    assert first.headers["Location"] == f"/enrollments/{first.json()['enrollment_id']}"
    assert "Idempotent-Replayed" not in first.headers
    assert records() == []


def test_a_new_age_group_answers_with_its_location(client: TestClient) -> None:
    response = client.post("/age-groups", json={"min_age": 1, "max_age": 2})

    assert response.status_code == 201
    assert response.headers["Location"] == f"/age-groups/{response.json()['age_group_id']}"


# --- A malformed key ---


@pytest.mark.usefixtures("open_group")
@pytest.mark.parametrize("key", ["", " ", "k" * 256, "tab\tinside", "caf\u00e9"])
def test_a_malformed_key_is_400_and_writes_nothing(
    client: TestClient, stack: Stack, key: str
) -> None:
    response = client.post(
        "/enrollments", json=ENROLLMENT, headers={b"Idempotency-Key": key.encode("latin-1")}
    )

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]
    assert (enrollment_ids(), records(), queued_ids(stack)) == ([], [], [])


@pytest.mark.usefixtures("open_group")
@pytest.mark.parametrize("key", ["k", "k" * 255, "~ !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}"])
def test_keys_of_1_to_255_printable_characters_are_taken(client: TestClient, key: str) -> None:
    assert client.post("/enrollments", json=ENROLLMENT, headers=keyed(key)).status_code == 202


@given(
    st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=260)
    | st.text(max_size=8)
    | st.sampled_from(["k" * 255, "k" * 256, " k", "k ", "k k"])
)
def test_the_key_check_takes_what_the_documented_pattern_matches(key: str) -> None:
    matches = re.fullmatch(KEY_PATTERN, key) is not None
    try:
        check_key(key)
    except IdempotencyKeyInvalidError:
        taken = False
    else:
        taken = True

    assert taken == matches


# --- The first request, and the same one again ---


@pytest.mark.usefixtures("open_group")
def test_the_first_request_is_executed_and_remembered_for_24_hours(
    client: TestClient, stack: Stack
) -> None:
    before = time.time()

    response = client.post("/enrollments", json=ENROLLMENT, headers=keyed())

    assert response.status_code == 202
    assert "Idempotent-Replayed" not in response.headers
    assert enrollment_ids() == [response.json()["enrollment_id"]]
    [record] = records()
    assert record["state"]["S"] == "COMPLETED"
    # The enrollment's id, no copy of it: its name and CPF are nowhere in the record.
    assert record["resource_id"]["S"] == response.json()["enrollment_id"]
    assert "response_body" not in record
    assert VALID_CPF not in json.dumps(record)
    assert "Ana" not in json.dumps(record)
    expires_at = int(record["expires_at"]["N"])
    assert before + RETENTION_SECONDS - 1 <= expires_at <= time.time() + RETENTION_SECONDS
    assert KEY not in json.dumps(record), "the key is stored only as part of a digest"


@pytest.mark.usefixtures("open_group")
def test_the_same_key_and_body_get_the_first_answer_and_write_nothing(
    client: TestClient, stack: Stack
) -> None:
    first = client.post("/enrollments", json=ENROLLMENT, headers=keyed())

    # The same JSON document, spaced and ordered differently.
    again = client.post(
        "/enrollments",
        content=json.dumps(dict(reversed(ENROLLMENT.items())), indent=2),
        headers=keyed() | {"Content-Type": "application/json"},
    )

    assert again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert enrollment_ids() == queued_ids(stack) == [first.json()["enrollment_id"]]


def test_an_age_group_is_created_once_per_key(client: TestClient) -> None:
    first = client.post("/age-groups", json={"min_age": 1, "max_age": 2}, headers=keyed())
    again = client.post("/age-groups", json={"min_age": 1, "max_age": 2}, headers=keyed())

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert client.get("/age-groups").json() == [first.json()]


def test_a_key_belongs_to_one_operation(client: TestClient) -> None:
    assert client.post("/age-groups", json=ENROLLMENT, headers=keyed()).status_code == 422
    client.post("/age-groups", json={"min_age": 0, "max_age": 150})

    response = client.post("/enrollments", json=ENROLLMENT, headers=keyed())

    assert response.status_code == 202
    assert "Idempotent-Replayed" not in response.headers


def test_a_refusal_is_remembered_too(client: TestClient, stack: Stack) -> None:
    refused = client.post("/enrollments", json=ENROLLMENT, headers=keyed())
    client.post("/age-groups", json={"min_age": 0, "max_age": 150})

    again = client.post("/enrollments", json=ENROLLMENT, headers=keyed())

    assert refused.status_code == again.status_code == 400
    assert again.json() == refused.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (enrollment_ids(), queued_ids(stack)) == ([], [])


# --- The same key for another request ---


@pytest.mark.usefixtures("open_group")
def test_the_same_key_with_another_body_is_422_and_writes_nothing(
    client: TestClient, stack: Stack
) -> None:
    first = client.post("/enrollments", json=ENROLLMENT, headers=keyed())

    response = client.post("/enrollments", json=ENROLLMENT | {"age": 31}, headers=keyed())

    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "loc": ["header", "Idempotency-Key"],
                "msg": "This Idempotency-Key was used for another request",
                "type": "idempotency_key_reused",
            }
        ]
    }
    assert enrollment_ids() == queued_ids(stack) == [first.json()["enrollment_id"]]


# --- The same key while the first request is in progress ---


@pytest.mark.usefixtures("open_group")
def test_the_same_key_while_the_first_is_in_progress_is_409_and_writes_nothing(
    client: TestClient, stack: Stack
) -> None:
    answers: list[Any] = []

    def meanwhile(**_: Any) -> None:
        # The first request has claimed its key and is publishing: the retry comes now.
        if not answers:
            answers.append(client.post("/enrollments", json=ENROLLMENT, headers=keyed()))

    get_sqs_client().meta.events.register("before-send.sqs.SendMessage", meanwhile)

    first = client.post("/enrollments", json=ENROLLMENT, headers=keyed())

    [concurrent] = answers
    assert concurrent.status_code == 409
    assert concurrent.headers["Retry-After"] == "1"
    assert "still in progress" in concurrent.json()["detail"]
    assert first.status_code == 202
    assert enrollment_ids() == queued_ids(stack) == [first.json()["enrollment_id"]]


@pytest.mark.usefixtures("open_group")
def test_a_claim_whose_lease_ran_out_is_taken_over(
    client: TestClient, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first request's process dies while it holds the key: it never releases it.
    with pytest.MonkeyPatch.context() as dies:
        dies.setattr(DynamoDBUnitOfWork, "commit", _die)
        dies.setattr(IdempotencyRepository, "release", lambda *_: None)
        dying = TestClient(client.app, raise_server_exceptions=False)
        assert dying.post("/enrollments", json=ENROLLMENT, headers=keyed()).status_code == 500
    assert client.post("/enrollments", json=ENROLLMENT, headers=keyed()).status_code == 409

    later = time.time() + LEASE_SECONDS + 1
    monkeypatch.setattr(time, "time", lambda: later)
    response = client.post("/enrollments", json=ENROLLMENT, headers=keyed())

    assert response.status_code == 202
    assert "Idempotent-Replayed" not in response.headers
    assert enrollment_ids() == [response.json()["enrollment_id"]]


def _die(*_: Any, **__: Any) -> None:
    raise RuntimeError("the process dies")


@pytest.mark.usefixtures("open_group")
def test_an_expired_key_is_a_new_request(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = client.post("/enrollments", json=ENROLLMENT, headers=keyed())

    later = time.time() + RETENTION_SECONDS + 1
    monkeypatch.setattr(time, "time", lambda: later)
    response = client.post("/enrollments", json=ENROLLMENT | {"age": 31}, headers=keyed())

    assert response.status_code == 202
    assert "Idempotent-Replayed" not in response.headers
    assert sorted(enrollment_ids()) == sorted(
        [first.json()["enrollment_id"], response.json()["enrollment_id"]]
    )


# --- The same key after a failure ---

_commit = DynamoDBUnitOfWork.commit


def write_then_lose_the_answer(self: DynamoDBUnitOfWork) -> None:
    """The enrollment is written; what the app hears is that DynamoDB could not be reached."""
    _commit(self)
    raise DependencyUnavailableError("The enrollments table")


@pytest.mark.usefixtures("open_group")
def test_after_a_5xx_the_same_key_executes_again(client: TestClient, stack: Stack) -> None:
    events = get_sqs_client().meta.events
    events.register_first("before-send.sqs.SendMessage", unavailable)
    failed = client.post("/enrollments", json=ENROLLMENT, headers=keyed())
    events.unregister("before-send.sqs.SendMessage", unavailable)

    retried = client.post("/enrollments", json=ENROLLMENT, headers=keyed())

    assert failed.status_code == 503
    assert retried.status_code == 202
    assert "Idempotent-Replayed" not in retried.headers
    assert enrollment_ids() == queued_ids(stack) == [retried.json()["enrollment_id"]]


@pytest.mark.usefixtures("open_group")
def test_a_lost_answer_is_answered_on_retry_with_the_same_enrollment(
    client: TestClient, stack: Stack
) -> None:
    with pytest.MonkeyPatch.context() as lose_the_answer:
        lose_the_answer.setattr(DynamoDBUnitOfWork, "commit", write_then_lose_the_answer)
        lost = client.post("/enrollments", json=ENROLLMENT, headers=keyed())
    [written] = enrollment_ids()

    retried = client.post("/enrollments", json=ENROLLMENT, headers=keyed())

    assert lost.status_code == 503
    assert retried.status_code == 202
    assert retried.json()["enrollment_id"] == written
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert enrollment_ids() == queued_ids(stack) == [written]


@pytest.mark.usefixtures("open_group")
def test_a_write_whose_first_attempt_took_effect_unseen_is_accepted_once(
    client: TestClient, stack: Stack
) -> None:
    # The SDK retries the transaction after the timeout; the retry's conditions fail on what
    # the first attempt wrote: this request's own write, not a conflict.
    take_effect_then_time_out("TransactWriteItems")

    response = client.post("/enrollments", json=ENROLLMENT, headers=keyed())
    again = client.post("/enrollments", json=ENROLLMENT, headers=keyed())

    assert response.status_code == again.status_code == 202
    assert again.json() == response.json()
    assert enrollment_ids() == queued_ids(stack) == [response.json()["enrollment_id"]]


@pytest.mark.usefixtures("open_group")
def test_a_claim_that_took_effect_unseen_does_not_turn_the_retry_away(
    client: TestClient, stack: Stack
) -> None:
    direct = boto3.client("dynamodb")
    attempts: list[int] = []

    def applied_then_unreachable(request: Any, **_: Any) -> None:
        # The first attempt of the claim is applied, then neither it nor a retry is answered.
        if not attempts:
            direct.put_item(**json.loads(request.body))
        attempts.append(1)
        unavailable()

    events: Any = get_dynamodb_client().meta.events
    events.register_first("before-send.dynamodb.PutItem", applied_then_unreachable)
    failed = client.post("/enrollments", json=ENROLLMENT, headers=keyed())
    events.unregister("before-send.dynamodb.PutItem", applied_then_unreachable)

    retried = client.post("/enrollments", json=ENROLLMENT, headers=keyed())

    assert (failed.status_code, len(attempts)) == (503, 3)
    assert retried.status_code == 202, "the claim was given up, not left to its lease"
    assert enrollment_ids() == queued_ids(stack) == [retried.json()["enrollment_id"]]


# --- Concurrency ---


@pytest.mark.process
def test_twenty_concurrent_requests_with_one_key_make_one_enrollment(served_stack: Stack) -> None:
    stack = served_stack
    assert invoke("POST", "/age-groups", {"min_age": 0, "max_age": 150})[0] == 201
    start = threading.Barrier(20)
    answers: list[tuple[int, dict[str, str], Any]] = []

    def send() -> None:
        start.wait()
        answers.append(invoke("POST", "/enrollments", ENROLLMENT, keyed()))

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    accepted = [body for status, _, body in answers if status == 202]
    assert len(answers) == 20
    assert {status for status, _, _ in answers} <= {202, 409}
    assert accepted, "one of them was executed"
    assert all(body == accepted[0] for body in accepted)
    assert enrollment_ids() == queued_ids(stack) == [accepted[0]["enrollment_id"]]


# --- Through the Lambda handler, as API Gateway invokes it ---


def invoke(
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    api_key_id: str = "key-a",
) -> tuple[int, dict[str, str], Any]:
    """Status, headers and body of one request through `app.main.handler`, on its own loop."""
    from app.main import handler

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        response = handler(
            rest_event(method, path, body, headers, api_key_id=api_key_id), LambdaContext()
        )
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    return response["statusCode"], response["headers"], json.loads(response["body"])


@pytest.fixture
def lambda_open_group(stack: Stack) -> None:
    assert invoke("POST", "/age-groups", {"min_age": 0, "max_age": 150})[0] == 201


@pytest.mark.usefixtures("lambda_open_group")
def test_on_lambda_every_row_of_the_contract(stack: Stack) -> None:
    post: Callable[..., tuple[int, dict[str, str], Any]] = lambda body, headers: invoke(  # noqa: E731
        "POST", "/enrollments", body, headers
    )

    status, headers, body = post(ENROLLMENT, {})
    assert status == 202
    assert headers["location"] == f"/v1/enrollments/{body['enrollment_id']}"

    assert post(ENROLLMENT, keyed("k" * 256))[0] == 400

    status, headers, first = post(ENROLLMENT, keyed())
    assert (status, "idempotent-replayed" in headers) == (202, False)

    status, headers, again = post(ENROLLMENT, keyed())
    assert (status, headers["idempotent-replayed"], again) == (202, "true", first)
    assert headers["location"] == f"/v1/enrollments/{first['enrollment_id']}"

    assert post(ENROLLMENT | {"age": 31}, keyed())[0] == 422

    events = get_sqs_client().meta.events
    events.register_first("before-send.sqs.SendMessage", unavailable)
    assert post(ENROLLMENT, keyed("second"))[0] == 503
    events.unregister("before-send.sqs.SendMessage", unavailable)
    status, _, retried = post(ENROLLMENT, keyed("second"))
    assert status == 202

    assert sorted(enrollment_ids()) == sorted(
        [body["enrollment_id"], first["enrollment_id"], retried["enrollment_id"]]
    )


@pytest.mark.usefixtures("lambda_open_group")
def test_on_lambda_the_same_key_in_progress_is_409_and_a_lost_answer_is_replayed(
    stack: Stack,
) -> None:
    answers: list[tuple[int, dict[str, str], Any]] = []

    def meanwhile(**_: Any) -> None:
        # Another invocation, while this one publishes, in its own thread as Lambda would run it.
        if not answers:
            retry = threading.Thread(
                target=lambda: answers.append(invoke("POST", "/enrollments", ENROLLMENT, keyed()))
            )
            retry.start()
            retry.join()

    get_sqs_client().meta.events.register("before-send.sqs.SendMessage", meanwhile)
    status, _, first = invoke("POST", "/enrollments", ENROLLMENT, keyed())
    [(concurrent_status, concurrent_headers, _)] = answers
    assert (status, concurrent_status, concurrent_headers["retry-after"]) == (202, 409, "1")

    with pytest.MonkeyPatch.context() as lose_the_answer:
        lose_the_answer.setattr(DynamoDBUnitOfWork, "commit", write_then_lose_the_answer)
        assert invoke("POST", "/enrollments", ENROLLMENT, keyed("lost"))[0] == 503
    status, headers, retried = invoke("POST", "/enrollments", ENROLLMENT, keyed("lost"))

    assert (status, headers["idempotent-replayed"]) == (202, "true")
    assert sorted(enrollment_ids()) == sorted([first["enrollment_id"], retried["enrollment_id"]])


@pytest.mark.usefixtures("lambda_open_group")
def test_on_lambda_a_key_belongs_to_the_callers_api_key(stack: Stack) -> None:
    status_a, _, of_a = invoke("POST", "/enrollments", ENROLLMENT, keyed(), api_key_id="key-a")
    status_b, headers_b, of_b = invoke(
        "POST", "/enrollments", ENROLLMENT, keyed(), api_key_id="key-b"
    )

    assert status_a == status_b == 202
    assert of_a["enrollment_id"] != of_b["enrollment_id"]
    assert "idempotent-replayed" not in headers_b
    assert len(records()) == 2


@pytest.mark.usefixtures("stack")
def test_locally_a_key_belongs_to_the_caller_the_configured_api_key_makes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The API served alone with API_KEY: its one caller is the stack's own, whose records hold
    # no key's value.
    monkeypatch.setenv("API_KEY", "key-one")
    get_api_settings.cache_clear()
    with TestClient(create_app()) as client:
        first, second = (
            client.post(
                "/age-groups",
                json={"min_age": 1, "max_age": 2},
                headers=keyed() | {"x-api-key": "key-one"},
            )
            for _ in range(2)
        )

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() == second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert len(records()) == 1
    assert not any("key-one" in json.dumps(record) for record in records())
