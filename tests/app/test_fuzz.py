"""Schemathesis fuzzes every operation from the app's own OpenAPI document, with all its checks.

Six rules are beyond JSON Schema, so the generator is taught them rather than a check being
turned off: a CPF's check digits (the `cpf` format gets valid CPFs), `min_age <= max_age`
(generated ranges are put in order), an `Idempotency-Key` used for one body only (a valid
key is made unique to its body, so a key repeated with the same body is still replayed), a
name whose only characters that would show are combining marks (which the schema's pattern
leaves to the validator: a valid name gets a letter in front of them), a webhook URL whose host
must be a public address (a `uri` is an https URL at a public IP, which needs no DNS), and a
list's `cursor`, which only the API makes (a valid request lists from the first page, without
one). An open age group is registered first, so every valid enrollment is accepted; the 400 for
an age in no group is tested in test_enrollments.py.
"""

import hashlib
import json
import re
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig

from app.api.idempotency import IDEMPOTENCY_KEY_HEADER, KEY_PATTERN
from app.config import get_api_settings
from app.domain.cpf import with_check_digits
from app.domain.models.enrollments import clean_name
from tests.conftest import API_KEY, app_with_docs

EXAMPLES_PER_OPERATION = 200


@st.composite
def valid_cpfs(draw: st.DrawFn) -> str:
    base = draw(st.text("0123456789", min_size=9, max_size=9).filter(lambda d: len(set(d)) > 1))
    text = with_check_digits(base)
    formatted = f"{text[:3]}.{text[3:6]}.{text[6:9]}-{text[9:]}"
    return draw(st.sampled_from([text, formatted]))


@st.composite
def public_https_urls(draw: st.DrawFn) -> str:
    host = draw(st.sampled_from(["93.184.215.14", "8.8.8.8", "[2606:4700:4700::1111]"]))
    path = draw(st.text("abcdefghijklmnopqrstuvwxyz0123456789-/", max_size=40))
    return f"https://{host}/{path}"


schemathesis.openapi.format("cpf", valid_cpfs())
schemathesis.openapi.format("uri", public_https_urls())
app = app_with_docs()
# Invalid data is refused with schemathesis's statuses, and 413 too: a body over 16 KiB (an
# invalid string of any length, a webhook URL's among them) is refused before it is parsed.
REJECTIONS = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429, "5xx"]
config = SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": REJECTIONS}}}
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


@schema.hook
def map_case(context: Any, case: Any) -> Any:
    """Put generated age ranges in order, give each body its own idempotency keys, each valid
    name a character that shows, no valid list a cursor, and every parameter a value sent."""
    body = case.body
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    if positive and isinstance(case.query, dict):
        case.query.pop("cursor", None)
    if isinstance(case.query, dict):
        # A parameter whose values are an empty list is sent as nothing at all (httpx): a
        # negative case's unknown parameter would vanish, and the valid request left be refused
        # for nothing. It is sent, empty.
        case.query = {name: [""] if value == [] else value for name, value in case.query.items()}
    key = (case.headers or {}).get(IDEMPOTENCY_KEY_HEADER)
    if isinstance(key, str) and re.fullmatch(KEY_PATTERN, key):
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=repr).encode()).hexdigest()
        case.headers[IDEMPOTENCY_KEY_HEADER] = f"{key[:190]}~{digest}"
    if (
        case.operation.method.upper() == "POST"
        and case.operation.path == "/age-groups"
        and isinstance(body, dict)
        and all(type(body.get(key)) in (int, float) for key in ("min_age", "max_age"))
        and body["min_age"] > body["max_age"]
    ):
        case.body = body | {"min_age": body["max_age"], "max_age": body["min_age"]}
    if (
        case.meta is not None
        and case.meta.generation.mode.is_positive
        and isinstance(body, dict)
        and isinstance(body.get("name"), str)
        and body["name"]
    ):
        try:
            clean_name(body["name"])
        except ValueError:
            # The pattern took it, so the rest are allowed: only some character must show.
            case.body = body | {"name": "A" + body["name"][1:]}
    return case


@pytest.fixture
def open_group(stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEY", API_KEY)
    get_api_settings.cache_clear()
    response = TestClient(app).post(
        "/age-groups", json={"min_age": 0, "max_age": 150}, headers={"x-api-key": API_KEY}
    )
    assert response.status_code == 201


# Tens of seconds: EXAMPLES_PER_OPERATION requests for each operation, each checked whole.
@pytest.mark.process
@pytest.mark.usefixtures("open_group")
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_every_operation_conforms_to_its_schema(case: Any) -> None:
    case.call_and_validate(headers={"x-api-key": API_KEY})
