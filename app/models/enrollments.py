"""Models of the enrollment resource."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from app.models.common import REQUEST_CONFIG, Age
from app.models.cpf import CPF_PATTERN, normalize_cpf

Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=120),
    Field(examples=["Maria da Silva"]),
]
Cpf = Annotated[
    str,
    # The pattern is documented in the schema; `normalize_cpf` enforces it with a clearer message.
    Field(json_schema_extra={"pattern": CPF_PATTERN}, examples=["52998224725", "529.982.247-25"]),
    AfterValidator(normalize_cpf),
]


class EnrollmentStatus(StrEnum):
    """Where an enrollment is in its life."""

    PENDING = "PENDING"
    PROCESSED = "PROCESSED"


class EnrollmentCreate(BaseModel):
    """The body of `POST /enrollments`."""

    model_config = REQUEST_CONFIG

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
