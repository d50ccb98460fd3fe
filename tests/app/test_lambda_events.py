"""Whatever event API Gateway (or anyone who can invoke the function) sends, the handler answers.

The handler never raises: a raise is a bare 502 from API Gateway, with no body and no request
id. Each event below raised out of Mangum before the handler checked events
(`app.entrypoints.gateway_event`). The property test builds events in the REST proxy event's
shape with hostile headers, query strings, identities and bodies: through the handler, each gets
an answer, never a 5xx, in JSON with an `x-request-id`. `make fuzz` runs it with many more
examples.
"""

import base64
import json
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from app.domain.clients import DEFAULT_SCOPES
from app.entrypoints.events import SAMPLE_API_KEY_ID, rest_event
from local.aws_shapes import LambdaContext
from local.template import Stack
from tests.conftest import VALID_CPF, add_client

pytestmark = pytest.mark.usefixtures("event_loop_as_on_lambda", "stack")

PARTNER_KEY_ID = "partner0001"
ENROLLMENT = {"name": "Ana", "age": 20, "cpf": VALID_CPF}


def invoke(event: Any) -> dict[str, Any]:
    from app.main import handler

    response: dict[str, Any] = handler(event, LambdaContext())
    return response


def headers_of(response: dict[str, Any]) -> dict[str, str]:
    """The answer's headers, lower-case, whichever of the two maps carries them."""
    found = {name.lower(): value for name, value in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        found[name.lower()] = values[-1]
    return found


def assert_answered(response: dict[str, Any], status: int) -> Any:
    """The answer has `status`, an `x-request-id`, and a JSON body, which is returned."""
    assert response["statusCode"] == status, response
    assert headers_of(response)["x-request-id"]
    return json.loads(response["body"])


def with_headers(event: dict[str, Any], **multi: list[str]) -> dict[str, Any]:
    """`event` with each header's values, in both of API Gateway's maps."""
    for name, values in multi.items():
        header = name.replace("_", "-")
        event["headers"][header] = values[-1]
        event["multiValueHeaders"][header] = values
    return event


def test_a_repeated_forwarded_port_is_still_served() -> None:
    event = with_headers(rest_event("GET", "/age-groups"), X_Forwarded_Port=["443", "443"])

    assert assert_answered(invoke(event), 200) == []


@pytest.mark.parametrize("port", ["notaport", "99999", "-1", "٣"])
def test_a_forwarded_port_that_is_no_port_is_still_served(port: str) -> None:
    event = with_headers(rest_event("GET", "/age-groups"), X_Forwarded_Port=[port])

    assert assert_answered(invoke(event), 200) == []


@pytest.mark.parametrize("host", ["h:notaport", "a:b:c", "h:", "h:99999", "", "[::1]:8"])
def test_a_host_with_a_bad_port_is_a_400(host: str) -> None:
    event = with_headers(rest_event("GET", "/age-groups"), Host=[host])

    assert assert_answered(invoke(event), 400) == {"detail": "Invalid Host header"}


def test_a_repeated_host_is_a_400() -> None:
    event = with_headers(rest_event("GET", "/age-groups"), Host=["a.example", "b.example"])

    assert assert_answered(invoke(event), 400) == {"detail": "Invalid Host header"}


@pytest.mark.parametrize("host", ["abcdef.execute-api.us-east-1.amazonaws.com:443", "api.test"])
def test_a_host_with_a_port_is_served(host: str) -> None:
    event = with_headers(rest_event("GET", "/age-groups"), Host=[host])

    assert assert_answered(invoke(event), 200) == []


@pytest.mark.parametrize(
    "spoil",
    [
        lambda event: event["requestContext"].update(identity=None),
        lambda event: event.update(requestContext=None),
        lambda event: event["requestContext"]["identity"].update(apiKeyId=12345),
        lambda event: event["requestContext"]["identity"].update(apiKeyId=["k1l2m3n4o5"]),
        lambda event: event["requestContext"]["identity"].update(apiKeyId=""),
    ],
    ids=["identity null", "requestContext null", "key id a number", "key id a list", "empty"],
)
def test_an_event_without_a_usable_key_id_is_refused_as_api_gateway_would(
    spoil: Callable[[dict[str, Any]], None],
) -> None:
    event = rest_event("GET", "/age-groups")
    spoil(event)

    assert assert_answered(invoke(event), 403) == {"message": "Forbidden"}


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("header value", "The header is not valid text"),
        ("header name", "Malformed header"),
        ("query value", "The query string is not valid text"),
        ("query name", "Malformed query string"),
        ("body", "Request body is not UTF-8 text"),
        ("path", "Malformed path"),
    ],
)
def test_a_lone_surrogate_is_a_400(where: str, expected: str) -> None:
    event = rest_event("POST", "/age-groups", {"min_age": 1, "max_age": 2})
    surrogate = "a\ud800b"
    if where == "header value":
        with_headers(event, X_Custom=[surrogate])
    elif where == "header name":
        event["multiValueHeaders"][surrogate] = ["x"]
    elif where == "query value":
        event["multiValueQueryStringParameters"] = {"q": [surrogate]}
    elif where == "query name":
        event["multiValueQueryStringParameters"] = {surrogate: ["x"]}
    elif where == "body":
        event["body"] = '{"min_age": 1, "max_age": 2, "x": "' + surrogate + '"}'
    else:
        event["path"] = f"/age-groups/{surrogate}"

    assert assert_answered(invoke(event), 400) == {"detail": expected}


def test_a_body_that_is_not_base64_is_a_400() -> None:
    event = rest_event("POST", "/age-groups")
    event.update(body="not base64!", isBase64Encoded=True)

    assert assert_answered(invoke(event), 400) == {"detail": "Request body is not valid base64"}


def test_a_base64_body_is_decoded() -> None:
    event = rest_event("POST", "/age-groups", {"min_age": 1, "max_age": 2})
    event.update(body=base64.b64encode(event["body"].encode()).decode(), isBase64Encoded=True)

    assert assert_answered(invoke(event), 201)["min_age"] == 1


@pytest.mark.parametrize("event", [None, [], "GET /", {"httpMethod": 1, "path": "/"}])
def test_what_is_no_rest_event_at_all_is_a_400(event: Any) -> None:
    response = invoke(event)

    assert response["statusCode"] == 400
    assert UUID(headers_of(response)["x-request-id"])


def test_the_400_carries_api_gateways_request_id() -> None:
    event = with_headers(rest_event("GET", "/age-groups"), Host=["a:b:c"])

    response = invoke(event)

    assert headers_of(response)["x-request-id"] == event["requestContext"]["requestId"]


def test_the_key_value_api_gateway_adds_to_the_identity_never_reaches_the_app() -> None:
    from app.entrypoints.gateway_event import normalize_event

    event = rest_event("GET", "/age-groups")
    event["requestContext"]["identity"]["apiKey"] = "a1b2c3d4e5f6g7h8i9j0"

    assert "apiKey" not in normalize_event(event)["requestContext"]["identity"]


# --- A repeated Idempotency-Key ---


def test_a_repeated_idempotency_key_is_a_400_through_the_handler_and_creates_nothing() -> None:
    event = with_headers(
        rest_event("POST", "/age-groups", {"min_age": 1, "max_age": 2}),
        Idempotency_Key=["k1", "k2"],
    )

    body = assert_answered(invoke(event), 400)

    assert body == {"detail": "Idempotency-Key must be sent once"}
    assert assert_answered(invoke(rest_event("GET", "/age-groups")), 200) == []


def test_a_repeated_idempotency_key_is_a_400_in_process(client: TestClient) -> None:
    response = client.post(
        "/age-groups",
        json={"min_age": 1, "max_age": 2},
        headers=[("Idempotency-Key", "k1"), ("Idempotency-Key", "k2")],
    )

    assert (response.status_code, response.json()) == (
        400,
        {"detail": "Idempotency-Key must be sent once"},
    )
    assert client.get("/age-groups").json() == []


def test_one_idempotency_key_with_a_comma_is_still_one_key() -> None:
    event = with_headers(
        rest_event("POST", "/age-groups", {"min_age": 1, "max_age": 2}),
        Idempotency_Key=["k1, k2"],
    )

    assert assert_answered(invoke(event), 201)["min_age"] == 1


# --- Hostile events, built by Hypothesis ---

SURROGATES = ["\ud800", "a\udfffb", "\udc00\ud800"]
hostile_text = st.text(max_size=20) | st.sampled_from(SURROGATES) | st.just("")
# What is not text: as a member's name (hashable), and as its value.
not_text_key: st.SearchStrategy[Any] = st.none() | st.integers() | st.booleans()
not_text: st.SearchStrategy[Any] = not_text_key | st.just([1])
HEADER_NAMES = [
    "Host",
    "X-Forwarded-Port",
    "X-Forwarded-Proto",
    "Content-Type",
    "Content-Length",
    "Idempotency-Key",
    "X-Request-Id",
    "x-api-key",
    "Accept",
    "Transfer-Encoding",
]
header_values = (
    hostile_text
    | st.sampled_from(["443", "80", "h:notaport", "a:b:c", "application/json", "16385", "-1"])
    | not_text
)
header_names = st.sampled_from(HEADER_NAMES) | hostile_text | not_text_key
ids = st.sampled_from(["00000000-0000-4000-8000-000000000001", "x", "%ed%a0%80", "..", ""])
paths = (
    st.builds(
        lambda prefix, tail: prefix + tail,
        st.sampled_from(["/age-groups", "/enrollments", "/age-groups/", "/enrollments/", "/"]),
        ids | hostile_text,
    )
    | hostile_text
    | not_text
)
bodies = (
    st.none()
    | st.builds(json.dumps, st.sampled_from([ENROLLMENT, {"min_age": 0, "max_age": 150}, {}]))
    | hostile_text
    | not_text
)
identities = st.none() | st.fixed_dictionaries(
    {},
    optional={
        "apiKeyId": st.sampled_from([SAMPLE_API_KEY_ID, PARTNER_KEY_ID, "unknown"]) | not_text,
        "sourceIp": hostile_text | not_text,
    },
)
contexts = st.none() | st.fixed_dictionaries(
    {},
    optional={
        "requestId": st.sampled_from(["c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "a b"])
        | hostile_text
        | not_text,
        "identity": identities,
        "path": hostile_text | not_text,
        "stage": hostile_text | not_text,
    },
)


@st.composite
def hostile_events(draw: st.DrawFn) -> dict[str, Any]:
    """A REST proxy event, each of its parts well-formed, hostile or of the wrong type."""
    event = rest_event(
        draw(st.sampled_from(["GET", "POST", "DELETE", "HEAD", "PUT"])),
        draw(st.sampled_from(["/age-groups", "/enrollments"])),
        draw(st.sampled_from([None, ENROLLMENT, {"min_age": 0, "max_age": 150}])),
        api_key_id=draw(st.sampled_from([SAMPLE_API_KEY_ID, PARTNER_KEY_ID])),
    )
    parts: dict[str, st.SearchStrategy[Any]] = {
        "httpMethod": st.sampled_from(["GET", "POST", "DELETE", "HEAD", "FOO"]) | hostile_text,
        "path": paths,
        "headers": st.none() | st.dictionaries(header_names, header_values, max_size=4),
        "multiValueHeaders": st.none()
        | st.dictionaries(header_names, st.lists(header_values, max_size=3) | not_text, max_size=4),
        "queryStringParameters": st.none()
        | st.dictionaries(hostile_text | not_text_key, hostile_text | not_text, max_size=3),
        "multiValueQueryStringParameters": st.none()
        | st.dictionaries(hostile_text, st.lists(hostile_text | not_text, max_size=3), max_size=3),
        "requestContext": contexts,
        "body": bodies,
        "isBase64Encoded": st.booleans() | not_text,
    }
    for name in draw(st.sets(st.sampled_from(sorted(parts)), max_size=4)):
        event[name] = draw(parts[name])
    for name in draw(st.sets(st.sampled_from(sorted(parts)), max_size=2)):
        event.pop(name, None)
    return event


@pytest.fixture
def partner(stack: Stack) -> None:
    add_client(PARTNER_KEY_ID, DEFAULT_SCOPES)


@pytest.mark.usefixtures("partner")
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(event=hostile_events())
def test_no_event_raises_out_of_the_handler_or_gets_a_5xx(event: dict[str, Any]) -> None:
    note(repr(event))

    response = invoke(event)

    assert response["statusCode"] < 500, response
    assert headers_of(response)["x-request-id"]
    if response["body"]:
        body = base64.b64decode(response["body"]) if response["isBase64Encoded"] else None
        json.loads(body if body is not None else response["body"])
