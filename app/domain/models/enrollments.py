"""Models of the enrollment resource."""

import re
import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field

from app.domain.cpf import CPF_PATTERN, normalize_cpf
from app.domain.models.common import REQUEST_CONFIG, Age

# The characters are spelt out as ranges both Python's regex dialect and the schema's (ECMA-262)
# read alike: `\s` and `\p{...}` mean other things in each, or nothing.
#
# What a person's name cannot contain, anywhere: C0 and C1 controls (a terminal's escapes, NUL,
# line breaks, tabs), line and paragraph separators, and the bidirectional controls (Unicode's
# Bidi_Control), which reorder how the text around them is shown ("abc\u202egnp.exe").
_CONTROLS = r"\x00-\x1f\x7f-\x9f"
_SEPARATORS = r"\u2028\u2029"
_BIDI_CONTROLS = r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_FORBIDDEN = _CONTROLS + _SEPARATORS + _BIDI_CONTROLS
# What shows nothing: the other whitespace (what `str.isspace` takes), and Unicode's
# Default_Ignorable_Code_Point in the Basic Multilingual Plane (zero-width spaces and joiners,
# the byte order mark, variation selectors, Hangul fillers). They may be part of a name (a
# zero-width non-joiner in Persian, an ideographic space in Japanese), but not all of it.
_BLANK = r"\x20\xa0\u1680\u2000-\u200a\u202f\u205f\u3000"
_INVISIBLE = (
    r"\xad\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200d\u2060-\u2065"
    r"\u206a-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
)
# The same beyond it, which the schema's pattern leaves out (ECMA-262 reads such characters as
# two code units unless a regex has the `u` flag): format controls of shorthand and music, tags,
# the supplementary variation selectors.
_INVISIBLE_BEYOND_BMP = "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
# Some character shows, and none is forbidden. That what shows is not only combining marks (a
# lone accent, which would sit on whatever is shown before the name) is left to the validator and
# the description: the marks are some 300 ranges.
NAME_PATTERN = f"^[{_BLANK}{_INVISIBLE}]*[^{_FORBIDDEN}{_BLANK}{_INVISIBLE}][^{_FORBIDDEN}]*$"
NAME_DESCRIPTION = (
    "A person's name, in any script. Not blank; no control characters, line separators or "
    "bidirectional controls; and some character must show: not only whitespace, invisible "
    "characters or combining marks."
)
_FORBIDDEN_RE = re.compile(f"[{_FORBIDDEN}]")
_SHOWS_NOTHING_RE = re.compile(f"[{_BLANK}{_INVISIBLE}{_INVISIBLE_BEYOND_BMP}]")
_FORBIDDEN_KINDS = (
    (re.compile(f"[{_CONTROLS}]"), "a control character"),
    (re.compile(f"[{_SEPARATORS}]"), "a line or paragraph separator"),
    (re.compile(f"[{_BIDI_CONTROLS}]"), "a bidirectional control"),
)


def _shows(char: str) -> bool:
    """Whether `char` shows on its own: not whitespace, not invisible, not a combining mark."""
    return not (
        char.isspace()
        or _SHOWS_NOTHING_RE.fullmatch(char)
        or unicodedata.category(char).startswith("M")
    )


def clean_name(value: str) -> str:
    """The name trimmed, or `ValueError` saying why no person's name is like it."""
    if value.isspace() or not value:
        raise ValueError("name must not be blank")
    if found := _FORBIDDEN_RE.search(value):
        char = found.group()
        kind = next(kind for pattern, kind in _FORBIDDEN_KINDS if pattern.fullmatch(char))
        raise ValueError(f"name must not contain {kind} (U+{ord(char):04X})")
    if not any(_shows(char) for char in value):
        raise ValueError(
            "name must have a visible character, not only whitespace, invisible characters "
            "or combining marks"
        )
    return value.strip()


# The patterns are documented in the schema; the validators enforce them with clearer messages.
Name = Annotated[
    str,
    Field(
        min_length=1,
        max_length=120,
        description=NAME_DESCRIPTION,
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
