"""Hostile input is a 4xx, never a 500: through the app, on Lambda, and over HTTP locally.

| input | answer |
|---|---|
| a non-finite number (`NaN`, `Infinity`, `-1e400`), in any field | 422, in strict JSON |
| a body that is not UTF-8 | 400 |
| a lone surrogate (`"\\ud800"`) anywhere | 422, in UTF-8 |
| deep nesting, with an `Idempotency-Key` | 400 or 422, nothing claimed |
| a path with a trailing slash, whatever the `Host` | 404, no redirect |
| a name a person's name cannot be | 422 saying why |
| locally, no key or two keys, whatever else is wrong | 403 first |
| `HEAD` of a `GET` | the `GET`'s status and headers, no body |
| a refusal replayed for an `Idempotency-Key` | the first answer, byte for byte |
| a bug | a 500 on a connection that stays usable, logged once |
"""

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.api.dependencies import get_age_group_repository
from app.config import get_api_settings
from app.entrypoints.events import rest_event
from local.aws_shapes import LambdaContext
from local.template import Stack
from tests.conftest import API_KEY, VALID_CPF, in_process_app, served

POSTS = ["/age-groups", "/enrollments"]
KEY = {"x-api-key": API_KEY}


def strict_json(body: bytes) -> Any:
    """The document in `body`, which must be UTF-8 and JSON without its non-finite extensions."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(body.decode("utf-8"), parse_constant=refuse)


def on_lambda(
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    *,
    repeated: dict[str, list[str]] | None = None,
) -> httpx.Response:
    """One request through the Lambda handler, as API Gateway sends it; its answer as a response.

    The body goes base64-encoded, as API Gateway sends a body it does not take for text.
    `repeated` gives headers sent more than once (API Gateway's `multiValueHeaders`).
    """
    from app.main import handler

    if body is not None and "Content-Type" not in (headers or {}):
        headers = {"Content-Type": "application/json", **(headers or {})}
    event = rest_event(method, path, None, headers)
    if body is not None:
        event["body"] = base64.b64encode(body).decode()
        event["isBase64Encoded"] = True
    for name, values in (repeated or {}).items():
        event["headers"][name] = values[-1]
        event["multiValueHeaders"][name] = values
    answer = handler(event, LambdaContext())
    raw = answer["body"].encode()
    if answer.get("isBase64Encoded"):
        raw = base64.b64decode(raw)
    header_list = [
        (name, value)
        for name, values in (answer.get("multiValueHeaders") or {}).items()
        for value in values
    ] + list((answer.get("headers") or {}).items())
    return httpx.Response(answer["statusCode"], headers=header_list, content=raw)


@pytest.fixture
def lenient_client(stack: Stack) -> Iterator[TestClient]:
    """The app, answering a bug with its 500 rather than raising it into the test."""
    with TestClient(in_process_app(), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def local_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings of `make run`: the app checks the API key, and serves its docs."""
    monkeypatch.setenv("API_KEY", API_KEY)
    monkeypatch.setenv("DOCS_ENABLED", "true")
    get_api_settings.cache_clear()


@pytest.fixture
def local_url(stack: Stack, local_settings: None) -> Iterator[str]:
    """The app as `make run` serves it, over HTTP."""
    with served(in_process_app()) as url:
        yield url


@pytest.fixture
def http(local_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=local_url) as client:
        yield client


def idempotency_records() -> list[dict[str, Any]]:
    table = get_api_settings().idempotency_table
    items: list[dict[str, Any]] = boto3.client("dynamodb").scan(TableName=table)["Items"]
    return items


# --- Non-finite numbers ---

NON_FINITE = [
    ("/enrollments", b'{"name": "Ana", "age": NaN, "cpf": "%s"}'),
    ("/enrollments", b'{"name": "Ana", "age": Infinity, "cpf": "%s"}'),
    ("/enrollments", b'{"name": "Ana", "age": -1e400, "cpf": "%s"}'),
    ("/enrollments", b'{"name": NaN, "age": 22, "cpf": "%s"}'),
    ("/enrollments", b'{"name": "Ana", "age": 22, "cpf": "%s", "extra": -Infinity}'),
    ("/enrollments", b'{"name": "Ana", "cpf": "%s", "nested": [1e999, {"x": NaN}]}'),
    ("/age-groups", b'{"min_age": NaN, "max_age": 1e400}'),
    ("/age-groups", b'{"min_age": 0, "max_age": 10, "extra": NaN}'),
    ("/age-groups", b"NaN"),
]


def _with_cpf(body: bytes) -> bytes:
    return body.replace(b"%s", VALID_CPF.encode())


@pytest.mark.parametrize(("path", "body"), NON_FINITE)
def test_a_non_finite_number_is_422_in_strict_json(
    client: TestClient, path: str, body: bytes
) -> None:
    response = client.post(
        path, content=_with_cpf(body), headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert strict_json(response.content)["detail"]


@pytest.mark.usefixtures("stack", "event_loop_as_on_lambda")
@pytest.mark.parametrize(("path", "body"), NON_FINITE)
def test_on_lambda_a_non_finite_number_is_422_in_strict_json(path: str, body: bytes) -> None:
    response = on_lambda("POST", path, _with_cpf(body), {"Content-Type": "application/json"})

    assert response.status_code == 422
    assert strict_json(response.content)["detail"]


def test_an_input_json_can_carry_is_still_echoed(client: TestClient) -> None:
    response = client.post("/enrollments", json={"name": "Ana", "age": "22", "cpf": VALID_CPF})

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert (error["loc"], error["input"]) == (["body", "age"], "22")


# --- Bodies that are not text ---

NOT_TEXT = [
    (b"\xff\xfe", "application/octet-stream"),
    (b"\xff\xfe", "text/plain"),
    (b"\xff\xfe", "application/json"),
    (b'{"name": "\xc3", "age": 22}', "application/json"),
    (b'{"name": "\xed\xa0\x80"}', "application/json"),
]


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize(("body", "content_type"), NOT_TEXT)
def test_a_body_that_is_not_utf8_is_400(
    client: TestClient, path: str, body: bytes, content_type: str
) -> None:
    response = client.post(path, content=body, headers={"content-type": content_type})

    assert response.status_code == 400
    assert strict_json(response.content) == {"detail": "Request body is not UTF-8 text"}


@pytest.mark.usefixtures("stack", "event_loop_as_on_lambda")
@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize(("body", "content_type"), NOT_TEXT)
def test_on_lambda_a_body_that_is_not_utf8_is_400(
    path: str, body: bytes, content_type: str
) -> None:
    response = on_lambda("POST", path, body, {"Content-Type": content_type})

    assert response.status_code == 400
    assert strict_json(response.content) == {"detail": "Request body is not UTF-8 text"}


# --- Lone surrogates ---

SURROGATES = [
    ("/enrollments", b'{"name": "\\ud800", "age": 22, "cpf": "%s"}'),
    ("/enrollments", b'{"name": "Ana\\udfff", "age": 22, "cpf": "%s"}'),
    ("/enrollments", b'{"name": "Ana", "age": 22, "cpf": "\\ud83d"}'),
    ("/enrollments", b'{"name": "Ana", "age": 22, "cpf": "%s", "\\ud800": 1}'),
    ("/enrollments", b'{"name": "Ana", "age": "\\ud800", "cpf": "%s"}'),
    ("/age-groups", b'{"min_age": "\\udc00", "max_age": 1}'),
    ("/age-groups", b'"\\ud800"'),
]


@pytest.mark.parametrize(("path", "body"), SURROGATES)
def test_a_lone_surrogate_is_422_in_utf8(client: TestClient, path: str, body: bytes) -> None:
    response = client.post(
        path, content=_with_cpf(body), headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert strict_json(response.content)["detail"]


@pytest.mark.usefixtures("stack", "event_loop_as_on_lambda")
@pytest.mark.parametrize(("path", "body"), SURROGATES)
def test_on_lambda_a_lone_surrogate_is_422_in_utf8(path: str, body: bytes) -> None:
    response = on_lambda("POST", path, _with_cpf(body), {"Content-Type": "application/json"})

    assert response.status_code == 422
    assert strict_json(response.content)["detail"]


# --- Deep nesting ---

DEEP = [
    (b"[" * 8000, "application/json"),
    (b"[" * 8000, "text/plain"),
    (b"[" * 8000 + b"]" * 8000, "text/plain"),
    (b'{"name": ' + b"[" * 8000, "application/octet-stream"),
    (b'{"name": ' + b"[" * 500 + b"]" * 500 + b', "age": 1}', "application/json"),
]


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize(("body", "content_type"), DEEP)
def test_deep_nesting_with_a_key_is_a_4xx_and_claims_nothing(
    client: TestClient, path: str, body: bytes, content_type: str
) -> None:
    headers = {"content-type": content_type, "Idempotency-Key": "deep"}

    response = client.post(path, content=body, headers=headers)

    assert response.status_code in (400, 422)
    assert strict_json(response.content)["detail"]
    assert idempotency_records() == []


@pytest.mark.usefixtures("stack", "event_loop_as_on_lambda")
@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize(("body", "content_type"), DEEP)
def test_on_lambda_deep_nesting_with_a_key_is_a_4xx_and_claims_nothing(
    path: str, body: bytes, content_type: str
) -> None:
    headers = {"Content-Type": content_type, "Idempotency-Key": "deep"}

    response = on_lambda("POST", path, body, headers)

    assert response.status_code in (400, 422)
    assert strict_json(response.content)["detail"]
    assert idempotency_records() == []


# --- No redirect built from the Host header ---


def test_a_trailing_slash_is_404_whatever_the_host(client: TestClient) -> None:
    response = client.get("/age-groups/", headers={"Host": "evil.example"}, follow_redirects=False)

    assert response.status_code == 404
    assert "location" not in response.headers


@pytest.mark.usefixtures("stack", "event_loop_as_on_lambda")
def test_on_lambda_a_trailing_slash_is_404_whatever_the_host() -> None:
    response = on_lambda("GET", "/age-groups/", headers={"Host": "evil.example"})

    assert response.status_code == 404
    assert "location" not in response.headers


@pytest.mark.process
def test_locally_a_trailing_slash_is_404_whatever_the_host(http: httpx.Client) -> None:
    response = http.get("/age-groups/", headers={"Host": "evil.example", **KEY})

    assert response.status_code == 404
    assert "location" not in response.headers


# --- Names ---

BAD_NAMES = [
    ("\u200b", "visible"),
    ("\ufeff", "visible"),
    ("\u3164", "visible"),
    ("\u0301", "visible"),
    (" \u200d\u0301\u034f ", "visible"),
    ("\U000e0041\U000e0042", "visible"),
    ("a\u0000b\u001b[31m", "control character (U+0000)"),
    ("Ana\u0085Maria", "control character (U+0085)"),
    ("Ana\tMaria", "control character (U+0009)"),
    ("abc\u202egnp.exe", "bidirectional control (U+202E)"),
    ("Ana \u2067Maria\u2069", "bidirectional control (U+2067)"),
    ("Ana\u200fMaria", "bidirectional control (U+200F)"),
    ("Ana\u2028Maria", "line or paragraph separator (U+2028)"),
]
GOOD_NAMES = [
    "José D'Ávila-Ñúñez",
    "王小明",
    "Ægir",
    "Jose\u0301 Nun\u0303ez",
    "Nguyễn Thị Minh Khai",
    "محمد بن سلمان",
    "דוד בן־גוריון",
    "Иван Петрович",
    "मोहनदास करमचंद गांधी",
    "فرزانه\u200cی",
    "𠮷野家",
    "山田\u3000太郎",
    "Zoë O\u2019Brien",
]


@pytest.mark.usefixtures("open_group")
@pytest.mark.parametrize(("name", "why"), BAD_NAMES)
def test_a_name_no_person_has_is_422_saying_why(client: TestClient, name: str, why: str) -> None:
    response = client.post("/enrollments", json={"name": name, "age": 22, "cpf": VALID_CPF})

    assert response.status_code == 422
    [error] = strict_json(response.content)["detail"]
    assert error["loc"] == ["body", "name"]
    assert why in error["msg"]


@pytest.mark.usefixtures("open_group")
@pytest.mark.parametrize("name", GOOD_NAMES)
def test_names_in_every_script_are_accepted_as_sent(client: TestClient, name: str) -> None:
    response = client.post("/enrollments", json={"name": name, "age": 22, "cpf": VALID_CPF})

    assert response.status_code == 202, response.text
    assert response.json()["name"] == name


@pytest.mark.usefixtures("stack", "event_loop_as_on_lambda")
def test_on_lambda_names_are_judged_by_the_same_rule() -> None:
    group = json.dumps({"min_age": 0, "max_age": 150}).encode()
    assert on_lambda("POST", "/age-groups", group).status_code == 201
    for name, why in BAD_NAMES:
        body = json.dumps({"name": name, "age": 22, "cpf": VALID_CPF}).encode()
        response = on_lambda("POST", "/enrollments", body, {"Content-Type": "application/json"})
        assert response.status_code == 422, name
        assert why in strict_json(response.content)["detail"][0]["msg"]
    for name in GOOD_NAMES:
        body = json.dumps({"name": name, "age": 22, "cpf": VALID_CPF}).encode()
        response = on_lambda("POST", "/enrollments", body, {"Content-Type": "application/json"})
        assert response.status_code == 202, name
        assert response.json()["name"] == name


# --- The API key, locally: before anything else ---

WITHOUT_A_KEY = [
    ("POST", "/enrollments", b'{"name": ', "application/json"),
    ("POST", "/enrollments", b'{"name": "Ana", "age": NaN}', "application/json"),
    ("POST", "/age-groups", b"\xff\xfe", "application/octet-stream"),
    ("POST", "/age-groups", b"[" * 8000, "text/plain"),
    ("DELETE", "/age-groups", b"", "application/json"),
    ("GET", "/age-groups/", b"", "application/json"),
    ("GET", "/nowhere", b"", "application/json"),
    ("HEAD", "/age-groups", b"", "application/json"),
    ("OPTIONS", "/enrollments", b"", "application/json"),
]


@pytest.mark.process
@pytest.mark.parametrize(("method", "path", "body", "content_type"), WITHOUT_A_KEY)
@pytest.mark.parametrize("key", [None, "wrong"])
def test_locally_a_request_without_the_key_is_403_whatever_else_is_wrong(
    http: httpx.Client, method: str, path: str, body: bytes, content_type: str, key: str | None
) -> None:
    headers = {"content-type": content_type, **({"x-api-key": key} if key else {})}

    response = http.request(method, path, content=body, headers=headers)

    assert response.status_code == 403
    if method != "HEAD":
        assert response.json() == {"message": "Forbidden"}


@pytest.mark.process
def test_locally_an_oversized_body_without_the_key_is_403(http: httpx.Client) -> None:
    response = http.post("/enrollments", content=b"x" * 100_000)

    assert response.status_code == 403


@pytest.mark.process
@pytest.mark.parametrize("path", ["/docs", "/openapi.json", "/docs/assets/swagger-ui.css"])
def test_locally_the_docs_need_no_key(http: httpx.Client, path: str) -> None:
    assert http.get(path).status_code == 200


@pytest.mark.process
@pytest.mark.parametrize(
    "keys", [[API_KEY, API_KEY], [API_KEY, "wrong"], ["wrong", API_KEY], [API_KEY, ""]]
)
def test_locally_a_key_sent_twice_is_403(http: httpx.Client, keys: list[str]) -> None:
    headers = [("x-api-key", key) for key in keys]

    response = http.get("/age-groups", headers=headers)

    assert response.status_code == 403


@pytest.mark.process
def test_locally_the_right_key_once_is_let_in(http: httpx.Client) -> None:
    assert http.get("/age-groups", headers=KEY).status_code == 200


@pytest.mark.usefixtures("stack", "local_settings", "event_loop_as_on_lambda")
@pytest.mark.parametrize(("method", "path", "body", "content_type"), WITHOUT_A_KEY)
def test_with_a_configured_key_lambda_checks_it_first_too(
    method: str, path: str, body: bytes, content_type: str
) -> None:
    response = on_lambda(method, path, body or None, {"Content-Type": content_type})

    assert response.status_code == 403


@pytest.mark.usefixtures("stack", "local_settings", "event_loop_as_on_lambda")
def test_with_a_configured_key_lambda_refuses_it_sent_twice() -> None:
    response = on_lambda("GET", "/age-groups", repeated={"x-api-key": [API_KEY, API_KEY]})

    assert response.status_code == 403
    assert on_lambda("GET", "/age-groups", headers=KEY).status_code == 200


# --- HEAD ---


def test_head_answers_as_get_without_the_body(client: TestClient) -> None:
    get = client.get("/age-groups")

    head = client.head("/age-groups")

    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]


def test_head_of_a_missing_resource_is_404(client: TestClient) -> None:
    response = client.head("/enrollments/00000000-0000-4000-8000-000000000000")

    assert (response.status_code, response.content) == (404, b"")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/age-groups", "GET, HEAD, POST"),
        ("PUT", "/enrollments/00000000-0000-4000-8000-000000000000", "GET, HEAD, DELETE"),
        ("DELETE", "/enrollments", "GET, HEAD, POST"),
        ("POST", "/webhook", "GET, HEAD, PUT, DELETE"),
        ("HEAD", "/webhook/rotate-secret", "POST"),
        ("GET", "/webhook/rotate-secret", "POST"),
    ],
)
def test_405_lists_head_wherever_get_is_allowed(
    client: TestClient, method: str, path: str, allowed: str
) -> None:
    response = client.request(method, path)

    assert response.status_code == 405
    assert response.headers["allow"] == allowed


@pytest.mark.usefixtures("stack", "event_loop_as_on_lambda")
def test_on_lambda_head_answers_as_get_without_the_body() -> None:
    response = on_lambda("HEAD", "/age-groups")

    assert (response.status_code, response.content) == (200, b"")
    assert on_lambda("DELETE", "/age-groups").headers["allow"] == "GET, HEAD, POST"


@pytest.mark.process
def test_locally_head_answers_as_get_without_the_body(http: httpx.Client) -> None:
    response = http.head("/age-groups", headers=KEY)

    assert (response.status_code, response.content) == (200, b"")
    assert http.delete("/age-groups", headers=KEY).headers["allow"] == "GET, HEAD, POST"


# --- A refusal replayed: the same bytes ---

ENROLLMENT = json.dumps({"name": "Ana", "age": 30, "cpf": VALID_CPF}).encode()


def test_a_replayed_refusal_is_the_first_answer_byte_for_byte(client: TestClient) -> None:
    headers = {"Idempotency-Key": "refused", "content-type": "application/json"}

    first = client.post("/enrollments", content=ENROLLMENT, headers=headers)
    again = client.post("/enrollments", content=ENROLLMENT, headers=headers)

    assert first.status_code == again.status_code == 400
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert again.headers["content-type"] == first.headers["content-type"]


@pytest.mark.usefixtures("stack", "event_loop_as_on_lambda")
def test_on_lambda_a_replayed_refusal_is_the_first_answer_byte_for_byte() -> None:
    headers = {"Idempotency-Key": "refused", "Content-Type": "application/json"}

    first = on_lambda("POST", "/enrollments", ENROLLMENT, headers)
    again = on_lambda("POST", "/enrollments", ENROLLMENT, headers)

    assert first.status_code == again.status_code == 400
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.content == first.content


# --- A bug over HTTP ---


@pytest.fixture
def broken_app(stack: Stack) -> FastAPI:
    """The app with a bug on `GET /age-groups`."""
    app = in_process_app()

    async def broken() -> None:
        raise ZeroDivisionError("a bug")

    app.dependency_overrides[get_age_group_repository] = broken
    return app


@pytest.mark.process
def test_a_bugs_500_leaves_the_connection_usable_and_is_logged_once(
    broken_app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    with served(broken_app) as url, httpx.Client(base_url=url) as http_client:
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            first = http_client.get("/age-groups")
        second = http_client.get("/enrollments/00000000-0000-4000-8000-000000000000")

        def peer(response: httpx.Response) -> object:
            return response.extensions["network_stream"].get_extra_info("client_addr")

        assert first.status_code == 500
        assert first.json()["detail"] == "Internal server error"
        assert second.status_code == 404
        assert peer(first) == peer(second)
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [record.getMessage() for record in errors] == ["Unhandled error"]
