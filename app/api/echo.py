"""What a validation error may echo of a client's input: only what JSON carries as it is.

A request's JSON may hold what its answer's cannot (`NaN`, `-1e400`, `"\\ud800"`), and a body
FastAPI does not parse as JSON reaches the model as bytes: such an input is left out of the
error, and a field's name or a message is made Unicode text.
"""

import math
from typing import Any

from fastapi.encoders import jsonable_encoder

from app.api.text import is_unicode, is_utf8

# How deep an echoed input may nest: deeper than any body these operations take, and far from
# the recursion limit that rendering a deeper one would reach.
MAX_ECHO_DEPTH = 32


def _text(value: str) -> str:
    """`value` with each lone surrogate replaced by U+FFFD."""
    if is_unicode(value):
        return value
    return "".join("\ufffd" if "\ud800" <= char <= "\udfff" else char for char in value)


def _echoable(value: object) -> bool:
    """Whether JSON carries `value` as it is: finite numbers, text that is Unicode, not too deep.

    A request's JSON may hold what its answer's cannot (`NaN`, `-1e400`, `"\\ud800"`), and a
    body FastAPI does not parse as JSON reaches the model as bytes.
    """
    pending: list[tuple[object, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_ECHO_DEPTH:
            return False
        if isinstance(item, str):
            if not is_unicode(item):
                return False
        elif isinstance(item, bytes):
            if not is_utf8(item):
                return False
        elif isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif isinstance(item, list | tuple):
            pending.extend((member, depth + 1) for member in item)
        elif isinstance(item, dict):
            pending.extend((member, depth + 1) for pair in item.items() for member in pair)
        elif item is not None and not isinstance(item, int):
            return False
    return True


def validation_error(error: dict[str, Any]) -> dict[str, Any]:
    """One of FastAPI's validation errors, in its shape, with only what JSON can carry.

    An input is echoed only if it is `_echoable`; the location and message always are, their
    text made Unicode (a field's name is the client's).
    """
    item: dict[str, Any] = {
        "type": error["type"],
        "loc": [_text(part) if isinstance(part, str) else part for part in error["loc"]],
        "msg": _text(error["msg"]),
    }
    if "input" in error and _echoable(error["input"]):
        item["input"] = jsonable_encoder(error["input"])
    # A validator's error is an exception, which FastAPI renders as `{}`: its message says more.
    context = {
        name: str(value) if isinstance(value, Exception) else value
        for name, value in error.get("ctx", {}).items()
    }
    if context and _echoable(context):
        item["ctx"] = jsonable_encoder(context)
    return item
