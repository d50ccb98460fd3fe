"""Models of the enrollment resource."""

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field

from app.domain.cpf import CPF_PATTERN, normalize_cpf
from app.domain.models.common import REQUEST_CONFIG, Age

# Not blank: some character is not whitespace. The length counts the name as sent; it is
# stored trimmed. Whitespace is spelt out (what `str.isspace` and `str.strip` take) because `\s`
# means other characters in the schema's regex dialect (ECMA-262) than in Python's.
NAME_PATTERN = r"[^\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
_NAME_RE = re.compile(NAME_PATTERN)


def clean_name(value: str) -> str:
    """The name trimmed, or `ValueError` if it is blank."""
    if not _NAME_RE.search(value):
        raise ValueError("name must not be blank")
    return value.strip()


# The patterns are documented in the schema; the validators enforce them with clearer messages.
Name = Annotated[
    str,
    Field(
        min_length=1,
        max_length=120,
        json_schema_extra={"pattern": NAME_PATTERN},
    ),
    AfterValidator(clean_name),
]
Cpf = Annotated[
    str,
    Field(
        json_schema_extra={"pattern": CPF_PATTERN, "format": "cpf"},
    ),
    AfterValidator(normalize_cpf),
]


class EnrollmentStatus(StrEnum):
    """Where an enrollment is in its life."""

    PENDING = "PENDING"
    PROCESSED = "PROCESSED"


class EnrollmentCreate(BaseModel):
    """The body of `POST /enrollments`."""

    model_config = REQUEST_CONFIG | {
        "json_schema_extra": {
            "examples": [{"name": "Maria da Silva", "age": 22, "cpf": "529.982.247-25"}]
        }
    }

    name: Name
    age: Age
    cpf: Cpf


class Enrollment(BaseModel):
    """An enrollment request and its processing status."""

    enrollment_id: UUID
    name: str
    age: int
    cpf: str
    status: EnrollmentStatus
    created_at: datetime
    updated_at: datetime
    # The id of the API key that requested it: only that caller may read it, unless another
    # holds `enrollments:read-all`. Never part of an answer.
    owner: str | None = Field(default=None, exclude=True)
