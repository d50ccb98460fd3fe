"""Models of the enrollment resource."""

import unicodedata
from bisect import bisect_right
from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field

from app.domain.cpf import CPF_PATTERN, normalize_cpf
from app.domain.models.common import REQUEST_CONFIG, Age

# Each class of character is a list of inclusive code point ranges, from which come both the
# schema's pattern (spelt as ranges that Python's regex dialect and the schema's, ECMA-262, read
# alike: `\s` and `\p{...}` mean other things in each, or nothing) and the validator's sets, so
# that the name's rules compile no regular expression at import (the CPF's one pattern is
# compiled by app.domain.cpf).
Ranges = tuple[tuple[int, int], ...]

# What a person's name cannot contain, anywhere: C0 and C1 controls (a terminal's escapes, NUL,
# line breaks, tabs), line and paragraph separators, and the bidirectional controls (Unicode's
# Bidi_Control), which reorder how the text around them is shown ("abc\u202egnp.exe").
_FORBIDDEN_KINDS: tuple[tuple[str, Ranges], ...] = (
    ("a control character", ((0x00, 0x1F), (0x7F, 0x9F))),
    ("a line or paragraph separator", ((0x2028, 0x2029),)),
    (
        "a bidirectional control",
        ((0x061C, 0x061C), (0x200E, 0x200F), (0x202A, 0x202E), (0x2066, 0x2069)),
    ),
)
_FORBIDDEN: Ranges = tuple(r for _, ranges in _FORBIDDEN_KINDS for r in ranges)
# What shows nothing: the other whitespace (what `str.isspace` takes), and Unicode's
# Default_Ignorable_Code_Point in the Basic Multilingual Plane (zero-width spaces and joiners,
# the byte order mark, variation selectors, Hangul fillers). They may be part of a name (a
# zero-width non-joiner in Persian, an ideographic space in Japanese), but not all of it.
_BLANK: Ranges = (
    (0x20, 0x20), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A), (0x202F, 0x202F),
    (0x205F, 0x205F), (0x3000, 0x3000),
)  # fmt: skip
_INVISIBLE: Ranges = (
    (0xAD, 0xAD), (0x34F, 0x34F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
    (0x200B, 0x200D), (0x2060, 0x2065), (0x206A, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8),
)  # fmt: skip
# The same beyond it, which the schema's pattern leaves out (ECMA-262 reads such characters as
# two code units unless a regex has the `u` flag): format controls of shorthand and music, tags,
# the supplementary variation selectors.
_INVISIBLE_BEYOND_BMP: Ranges = ((0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF))


def _class(ranges: Ranges) -> str:
    """The ranges as the inside of a regex character class, in `\\xNN` and `\\uNNNN` escapes."""

    def escape(code: int) -> str:
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return "".join(
        escape(low) if low == high else f"{escape(low)}-{escape(high)}" for low, high in ranges
    )


def _code_points(ranges: Ranges) -> frozenset[int]:
    return frozenset(code for low, high in ranges for code in range(low, high + 1))


class _CodeRanges:
    """Ranges of code points, looked up by binary search: no set of each code point to build."""

    def __init__(self, ranges: Ranges) -> None:
        self._ranges = sorted(ranges)
        self._lows = [low for low, _ in self._ranges]

    def __contains__(self, code: int) -> bool:
        at = bisect_right(self._lows, code) - 1
        return at >= 0 and code <= self._ranges[at][1]


_FORBIDDEN_CODES = {kind: _code_points(ranges) for kind, ranges in _FORBIDDEN_KINDS}
_ANY_FORBIDDEN = frozenset().union(*_FORBIDDEN_CODES.values())
# Some 4,000 code points, mostly tags: as ranges, not a set built on every cold start.
_SHOWS_NOTHING = _CodeRanges(_BLANK + _INVISIBLE + _INVISIBLE_BEYOND_BMP)

# Some character shows, and none is forbidden. That what shows is not only combining marks (a
# lone accent, which would sit on whatever is shown before the name) is left to the validator and
# the description: the marks are some 300 ranges.
_HIDDEN = _class(_BLANK + _INVISIBLE)
NAME_PATTERN = f"^[{_HIDDEN}]*[^{_class(_FORBIDDEN)}{_HIDDEN}][^{_class(_FORBIDDEN)}]*$"
NAME_DESCRIPTION = (
    "A person's name, in any script. Not blank; no control characters, line separators or "
    "bidirectional controls; and some character must show: not only whitespace, invisible "
    "characters or combining marks."
)


def _shows(char: str) -> bool:
    """Whether `char` shows on its own: not whitespace, not invisible, not a combining mark."""
    return not (
        char.isspace() or ord(char) in _SHOWS_NOTHING or unicodedata.category(char).startswith("M")
    )


def clean_name(value: str) -> str:
    """The name trimmed, or `ValueError` saying why no person's name is like it."""
    if value.isspace() or not value:
        raise ValueError("name must not be blank")
    if found := next((char for char in value if ord(char) in _ANY_FORBIDDEN), None):
        kind = next(kind for kind, codes in _FORBIDDEN_CODES.items() if ord(found) in codes)
        raise ValueError(f"name must not contain {kind} (U+{ord(found):04X})")
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
    """Where an enrollment is in its life.

    PENDING, then PROCESSED; ERASED at any point, for good: its personal data removed, only its
    tombstone kept (docs/personal-data.md). Nothing moves an ERASED enrollment on: the processor
    updates only a PENDING one, and the `enrollment.processed` event is for PROCESSED ones.
    """

    PENDING = "PENDING"
    PROCESSED = "PROCESSED"
    ERASED = "ERASED"


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


def _absent(value: object) -> bool:
    return value is None


class Enrollment(BaseModel):
    """An enrollment request and its processing status; once ERASED, its tombstone: the same
    without the person's name, age and CPF, and with `erased_at`."""

    enrollment_id: UUID
    # A tombstone's answer has no name, age or CPF at all, rather than nulls; a live one's no
    # `erased_at`. The same shape in a read, a list and an erasure's answer.
    name: str | None = Field(default=None, exclude_if=_absent)
    age: int | None = Field(default=None, exclude_if=_absent)
    cpf: str | None = Field(default=None, exclude_if=_absent)
    status: EnrollmentStatus
    created_at: datetime
    updated_at: datetime
    erased_at: datetime | None = Field(default=None, exclude_if=_absent)
    # The id of the API key that requested it: only that caller may read it, unless another
    # holds `enrollments:read-all`, and only that caller may erase it. Never part of an answer.
    owner: str | None = Field(default=None, exclude=True)
    # The CPF's keyed hash, by which an operator finds a person's enrollments: stored while the
    # CPF is (app.domain.cpf.cpf_digest). Never part of an answer.
    cpf_hash: str | None = Field(default=None, exclude=True)
