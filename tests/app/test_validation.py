"""Bad enrollment bodies: each is a 422 naming the field, and nothing is stored or queued."""

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient

from app.config import get_api_settings
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
    assert (
        boto3.client("dynamodb").scan(TableName=get_api_settings().enrollments_table)["Count"] == 0
    )
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


# Seconds: both judge each of the 1,114,112 code points.
@pytest.mark.process
def test_the_names_pattern_and_validator_agree_on_every_character() -> None:
    # The schema's pattern and the validator judge each character alike, but for what the pattern
    # leaves to the validator (NAME_PATTERN): combining marks, invisible characters beyond the
    # Basic Multilingual Plane.
    import re
    import sys
    import unicodedata

    from app.domain.models.enrollments import NAME_PATTERN, clean_name

    def accepted(name: str) -> bool:
        try:
            clean_name(name)
        except ValueError:
            return False
        return True

    pattern = re.compile(NAME_PATTERN)
    disagree = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if (pattern.fullmatch(chr(code)) is not None) != accepted(chr(code))
    ]
    left_to_the_validator = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if pattern.fullmatch(chr(code))
        and (
            unicodedata.category(chr(code)).startswith("M")
            or code in range(0x1BCA0, 0x1BCA4)
            or code in range(0x1D173, 0x1D17B)
            or code in range(0xE0000, 0xE1000)
        )
    ]

    assert disagree == left_to_the_validator


@pytest.mark.parametrize("name", ["Ana", " \u3000Ana\u200d ", "a\u0301", "\U0001f600"])
def test_names_the_pattern_takes_with_their_whitespace_and_joiners(name: str) -> None:
    import re

    from app.domain.models.enrollments import NAME_PATTERN

    assert re.fullmatch(NAME_PATTERN, name)
