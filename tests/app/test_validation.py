"""Bad enrollment bodies: each is a 422 naming the field, and nothing is stored or queued."""

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient

from app.config import get_settings
from local.template import Stack
from tests.conftest import VALID_CPF, queued_messages

GOOD = {"name": "Maria da Silva", "age": 22, "cpf": VALID_CPF}
MISSING = object()

BAD_FIELDS: list[tuple[str, Any, str]] = [
    ("age", "22", "a string"),
    ("age", 22.5, "a fraction"),
    ("age", False, "a boolean"),
    ("age", True, "a boolean"),
    ("age", None, "null"),
    ("age", -1, "below 0"),
    ("age", 151, "above 150"),
    ("age", MISSING, "missing"),
    ("name", "", "empty"),
    ("name", "   \t\n", "blank"),
    ("name", "x" * 121, "longer than 120"),
    ("name", " " * 119 + "xx", "longer than 120 as sent"),
    ("name", "\x1c\u3000", "only Unicode whitespace"),
    ("name", 42, "not a string"),
    ("name", MISSING, "missing"),
    ("cpf", "12345678900", "wrong check digits"),
    ("cpf", "11111111111", "a repeated digit"),
    ("cpf", "5299822472", "10 digits"),
    ("cpf", "529.982.24725", "half formatted"),
    ("cpf", "5299822472x", "a letter"),
    ("cpf", 52998224725, "a number, not a string"),
    ("cpf", MISSING, "missing"),
]


@pytest.fixture
def open_group(age_group: Callable[[int, int], dict[str, Any]]) -> None:
    age_group(0, 150)


@pytest.mark.usefixtures("open_group")
@pytest.mark.parametrize(
    ("field", "value", "why"), BAD_FIELDS, ids=[f"{f}-{w}" for f, _, w in BAD_FIELDS]
)
def test_bad_field_is_422_and_nothing_is_stored(
    client: TestClient, stack: Stack, field: str, value: Any, why: str
) -> None:
    body = dict(GOOD)
    if value is MISSING:
        del body[field]
    else:
        body[field] = value

    response = client.post("/enrollments", json=body)

    assert response.status_code == 422, why
    assert field in {error["loc"][-1] for error in response.json()["detail"]}
    assert boto3.client("dynamodb").scan(TableName=get_settings().enrollments_table)["Count"] == 0
    assert queued_messages(stack) == []


@pytest.mark.usefixtures("open_group")
def test_unknown_field_is_422(client: TestClient) -> None:
    response = client.post("/enrollments", json=GOOD | {"status": "PROCESSED"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "extra_forbidden"


@pytest.mark.usefixtures("open_group")
def test_cpf_error_says_what_is_wrong(client: TestClient) -> None:
    response = client.post("/enrollments", json=GOOD | {"cpf": "123.456.789-00"})

    assert response.status_code == 422
    assert "CPF check digits do not match" in response.json()["detail"][0]["msg"]


@pytest.mark.usefixtures("open_group")
def test_name_of_120_characters_is_accepted_and_stored_trimmed(client: TestClient) -> None:
    response = client.post("/enrollments", json=GOOD | {"name": f"  {'x' * 116}  "})

    assert response.status_code == 202
    assert response.json()["name"] == "x" * 116


@pytest.mark.usefixtures("open_group")
def test_an_integral_json_number_is_an_integer(client: TestClient) -> None:
    # JSON and JSON Schema's "integer" do not tell 22.0 from 22.
    response = client.post("/enrollments", json=GOOD | {"age": 22.0})

    assert response.status_code == 202
    assert response.json()["age"] == 22


def test_the_name_rule_is_python_whitespace_exactly() -> None:
    # The schema's pattern and the validator must agree on every character.
    import re
    import sys

    from app.domain.models.enrollments import NAME_PATTERN

    pattern = re.compile(NAME_PATTERN)
    disagree = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if (pattern.fullmatch(chr(code)) is None) != chr(code).isspace()
    ]

    assert disagree == []
