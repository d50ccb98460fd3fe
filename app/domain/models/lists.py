"""Models of a list of enrollments: what a caller asks for, where a page ended, and a page."""

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal, NamedTuple
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
)

from app.domain.models.enrollments import Enrollment, EnrollmentStatus

DEFAULT_LIMIT = 20
# The statuses a list filters by. An erased enrollment's tombstone is in a list of every status,
# not in one of its own: erasure keeps no index of who was erased.
ListedStatus = Literal[EnrollmentStatus.PENDING, EnrollmentStatus.PROCESSED]
MAX_LIMIT = 100
# RFC 3339's date-time (its section 5.6): a date, a time to the second or finer, and an offset.
# Compiled on first use (`re` caches it), not at import.
RFC3339_PATTERN = r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})"


def _rfc3339(value: object) -> object:
    """`value` if it is written as RFC 3339 says: not a date alone, not a number of seconds."""
    if isinstance(value, str) and re.fullmatch(RFC3339_PATTERN, value) is None:
        raise ValueError("must be an RFC 3339 date-time, such as 2026-01-31T09:30:00Z")
    return value


def _in_utc(value: datetime) -> datetime:
    """The same instant in UTC; one that UTC's calendar cannot hold (before year 1, after 9999)
    is before, or after, every enrollment: the first, or the last, instant it holds."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        ahead = (value.utcoffset() or timedelta(0)) > timedelta(0)
        return (datetime.min if ahead else datetime.max).replace(tzinfo=UTC)


# An instant as a client writes it in a query string; compared and stored in UTC.
Instant = Annotated[AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(_in_utc)]


class EnrollmentListQuery(BaseModel):
    """The query parameters of `GET /enrollments`.

    A parameter it does not know is refused, as a body's unknown field is: a misspelt filter
    would otherwise widen the list without a word.
    """

    model_config = ConfigDict(extra="forbid")

    status: ListedStatus | None = Field(
        default=None, description="Only the enrollments in this status."
    )
    created_after: Instant | None = Field(
        default=None,
        description="Only those created after this instant (RFC 3339, exclusive).",
    )
    created_before: Instant | None = Field(
        default=None,
        description="Only those created before this instant (RFC 3339, exclusive).",
    )
    limit: int = Field(
        default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="The most items a page holds."
    )
    cursor: str | None = Field(
        default=None,
        description=(
            "The previous page's `next_cursor`, as it was given, with the same filters: the "
            "page after it. Opaque; a cursor of another caller or other filters is a 400."
        ),
    )


class Position(NamedTuple):
    """Where a page ended: its last enrollment's creation time and id."""

    created_at: datetime
    enrollment_id: UUID


class EnrollmentSelection(NamedTuple):
    """The enrollments a page is taken from, newest first, and how many it may hold."""

    # The caller's key id, for its own enrollments; None for every client's.
    owner: str | None
    status: EnrollmentStatus | None
    created_after: datetime | None
    created_before: datetime | None
    limit: int
    # The last enrollment of the previous page: this page holds only older ones.
    after: Position | None


class Slice(NamedTuple):
    """What a page found, newest first, and whether older enrollments may follow."""

    items: list[Enrollment]
    more: bool


_EXAMPLE_ITEM: dict[str, JsonValue] = {
    "enrollment_id": "0b8f3c55-2f8e-4a57-9d39-6f0f3a1e2b7c",
    "name": "Maria da Silva",
    "age": 22,
    "cpf": "52998224725",
    "status": "PROCESSED",
    "created_at": "2026-01-31T09:30:00.123456+00:00",
    "updated_at": "2026-01-31T09:30:05.201733+00:00",
}


class EnrollmentPage(BaseModel):
    """A page of enrollments, newest first, and the cursor of the next page."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [_EXAMPLE_ITEM],
                    "next_cursor": "AQAGSau72fhAC488VS-OSledOW8POh4rfDVWVvINPA8lCZoVg9zd1IJtr3vA",
                }
            ]
        }
    )

    items: list[Enrollment] = Field(
        description="The enrollments, newest first, each as `GET /enrollments/{id}` reads it."
    )
    next_cursor: str | None = Field(
        description=(
            "The next page's `cursor`, with the same filters; null on the last page. A page "
            "with a cursor is never empty, unless the last page ended exactly at the limit."
        )
    )
