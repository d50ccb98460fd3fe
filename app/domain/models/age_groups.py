"""Models of the age-group resource."""

from datetime import datetime
from typing import Self
from uuid import UUID

from pydantic import BaseModel, model_validator

from app.domain.models.common import REQUEST_CONFIG, Age


class AgeGroupCreate(BaseModel):
    """The body of `POST /age-groups`: an inclusive age range."""

    model_config = REQUEST_CONFIG | {
        "json_schema_extra": {"examples": [{"min_age": 18, "max_age": 30}]}
    }

    min_age: Age
    max_age: Age

    @model_validator(mode="after")
    def check_range(self) -> Self:
        """Reject a range that ends before it starts."""
        if self.min_age > self.max_age:
            raise ValueError("min_age must be less than or equal to max_age")
        return self


class AgeGroup(BaseModel):
    """A registered age group."""

    age_group_id: UUID
    min_age: int
    max_age: int
    created_at: datetime

    def admits(self, age: int) -> bool:
        """Whether `age` lies in this group's inclusive range."""
        return self.min_age <= age <= self.max_age
