"""Whatever bytes a client sends to a `POST`, the answer is no 5xx, and it is what the operation
documents: a status its OpenAPI document lists, and a body in strict JSON that its schema takes.

Bodies are arbitrary bytes, almost-JSON, JSON with non-finite numbers, lone surrogates, deep
nesting and huge strings, and valid bodies too; each is sent with an arbitrary content type, with
and without an `Idempotency-Key`, through the app and through the Lambda handler. `make test`
runs Hypothesis' default number of examples; `make fuzz` runs the `fuzz` profile
(tests/conftest.py), with many more.
"""

import base64
import json
from typing import Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from app.api.middleware import MAX_BODY_BYTES
from app.entrypoints.events import rest_event
from local.aws_shapes import LambdaContext
from tests.conftest import VALID_CPF, app_with_docs

POSTS = ["/age-groups", "/enrollments"]
OPENAPI: dict[str, Any] = app_with_docs().openapi()
FIELDS = ["name", "age", "cpf", "min_age", "max_age"]
# What JSON has not, or what Python's parser makes of it: non-finite numbers, lone surrogates.
HOSTILE_TOKENS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e999",
    '"\\ud800"',
    '"a\\udfffb"',
    '"\\udc00\\ud800"',
    "1" * 5000,
    "[" * 2000 + "]" * 2000,
]

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
plausible_bodies = st.fixed_dictionaries(
    {
        "name": st.text(max_size=130) | st.sampled_from(["Ana", "José D'Ávila-Ñúñez", "王小明"]),
        "age": st.integers(-2, 152) | json_scalars,
        "cpf": st.sampled_from([VALID_CPF, "529.982.247-25", "12345678900"]) | st.text(),
    }
) | st.fixed_dictionaries({"min_age": st.integers(-2, 152), "max_age": st.integers(-2, 152)})
documents = plausible_bodies | json_values | st.dictionaries(st.sampled_from(FIELDS), json_values)


@st.composite
def with_hostile_value(draw: st.DrawFn) -> str:
    """A JSON object whose one value (or key) is a hostile token, the others plausible."""
    document = draw(plausible_bodies)
    token = draw(st.sampled_from(HOSTILE_TOKENS))
    members = [f"{json.dumps(name)}: {json.dumps(value)}" for name, value in document.items()]
    where = draw(st.integers(0, len(members)))
    if draw(st.booleans()):
        members.insert(where, f"{json.dumps(draw(st.sampled_from(FIELDS)))}: {token}")
    else:
        members.insert(where, f"{token}: 1")
    return "{" + ", ".join(members) + "}"


@st.composite
def almost_json(draw: st.DrawFn) -> str:
    """A JSON document with a few characters deleted, inserted or replaced."""
    text = json.dumps(draw(documents), ensure_ascii=draw(st.booleans()))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.integers(0, len(text)))
        inserted = draw(st.sampled_from([*'{}[]",:\\ 0eE-+.', "NaN", "\\u", "\\ud83d"]))
        cut = draw(st.integers(0, 2))
        text = text[:where] + inserted + text[where + cut :]
    return text


def nested(depth: int, closed: bool) -> str:
    return "[" * depth + ("]" * depth if closed else "")


texts = st.one_of(
    documents.map(json.dumps),
    documents.map(lambda document: json.dumps(document, ensure_ascii=False)),
    with_hostile_value(),
    almost_json(),
    st.builds(nested, st.integers(1, MAX_BODY_BYTES // 2 + 10), st.booleans()),
    st.builds(
        lambda depth, closed: '{"name": ' + nested(depth, closed) + ', "age": 1}',
        st.integers(1, 3000),
        st.booleans(),
    ),
    st.builds(
        lambda size, char: json.dumps({"name": char * size, "age": 22, "cpf": VALID_CPF}),
        st.integers(100, MAX_BODY_BYTES + 10),
        st.sampled_from(["x", "é", "\u200b", "\u0301", "\\"]),
    ),
)
bodies = st.one_of(
    texts.map(lambda text: text.encode("utf-8", "surrogatepass")),
    texts.map(lambda text: text.encode("utf-16")),
    st.binary(max_size=256),
)
content_types = st.none() | st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=latin-1",
        "application/vnd.api+json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain",
        "application/octet-stream",
        "application/",
        "json",
        "",
    ]
)
idempotency_keys = st.none() | st.sampled_from(["k1", "k2"]) | st.text(max_size=8)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str]]:
    """A `POST`: its path, body and headers."""
    headers: dict[str, str] = {}
    content_type = draw(content_types)
    if content_type is not None:
        headers["content-type"] = content_type
    key = draw(idempotency_keys)
    # A header value is what HTTP can carry: a key that is not is refused by the client.
    if key is not None and key.isascii() and key.isprintable():
        headers["Idempotency-Key"] = key
    return draw(st.sampled_from(POSTS)), draw(bodies), headers


def strict_json(body: bytes) -> Any:
    """The document in `body`, which must be UTF-8 and JSON without its non-finite extensions."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(body.decode("utf-8"), parse_constant=refuse)


def check_documented(path: str, status: int, content_type: str | None, body: bytes) -> None:
    """The answer is no 5xx, and the OpenAPI document of `POST path` lists its status and body."""
    assert status < 500, body
    responses = OPENAPI["paths"][path]["post"]["responses"]
    documented = responses.get(str(status))
    assert documented is not None, f"{status} is not documented for POST {path}"
    media = documented.get("content", {}).get("application/json")
    assert media is not None
    assert content_type == "application/json"
    schema = {**media["schema"], "components": OPENAPI["components"]}
    jsonschema_rs.validator_for(schema).validate(strict_json(body))


PROPERTY_SETTINGS = settings(
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


@PROPERTY_SETTINGS
@given(request=requests())
def test_every_body_gets_a_documented_answer(
    client: TestClient, request: tuple[str, bytes, dict[str, str]]
) -> None:
    path, body, headers = request
    note(f"POST {path} {headers} {body[:200]!r}")

    response = client.post(path, content=body, headers=headers)

    check_documented(
        path, response.status_code, response.headers.get("content-type"), response.content
    )


@pytest.mark.usefixtures("stack", "event_loop_as_on_lambda")
@PROPERTY_SETTINGS
@given(request=requests(), as_text=st.booleans())
def test_on_lambda_every_body_gets_a_documented_answer(
    request: tuple[str, bytes, dict[str, str]], as_text: bool
) -> None:
    from app.main import handler

    path, body, headers = request
    note(f"POST {path} {headers} {body[:200]!r}")
    event = rest_event("POST", path, None, {"Content-Type": "", **headers})
    if not headers.get("content-type"):
        del event["headers"]["Content-Type"], event["multiValueHeaders"]["Content-Type"]
    try:
        # API Gateway passes a body it takes for text as it is, any other base64-encoded.
        event["body"] = body.decode("utf-8") if as_text else None
    except UnicodeDecodeError:
        event["body"] = None
    if event["body"] is None:
        event["body"] = base64.b64encode(body).decode()
        event["isBase64Encoded"] = True

    answer = handler(event, LambdaContext())

    assert not answer.get("isBase64Encoded")
    headers_out = {name.lower(): value for name, value in (answer.get("headers") or {}).items()}
    for name, values in (answer.get("multiValueHeaders") or {}).items():
        headers_out[name.lower()] = values[-1]
    check_documented(
        path, answer["statusCode"], headers_out.get("content-type"), answer["body"].encode()
    )
