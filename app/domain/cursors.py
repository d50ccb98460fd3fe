"""A list's cursor: where a page ended, sealed to the caller and the filters it was made for.

A cursor is opaque to clients: 60 characters of base64url, without padding, of 45 bytes:

    version (1) | the page's last item's creation time, µs since 1970 (8), and id (16) | tag (20)

The tag is HMAC-SHA-256, cut to 20 bytes, of the rest and of a binding that the cursor does not
hold: the caller's key id and the filters (`binding`). So a cursor shows only what its page
showed its caller (the last item's time and id), never a key id, a filter or a key name of the
table; and one edited, cut short, lengthened, or made for another caller or other filters fails
its tag, as does one sealed under another key: `InvalidCursorError`, a 400. The key is read
when a cursor is first sealed or opened, not before (docs/adr/0011-enrollment-lists.md).
"""

import base64
import binascii
import hashlib
import hmac
import json
import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

from app.domain.errors import InvalidCursorError
from app.domain.models.lists import Position

VERSION = 1
TAG_BYTES = 20
_BODY = struct.Struct(">Bq16s")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# What the tag is for, so that the same key could never sign anything else alike.
_PURPOSE = b"enrollment list cursor\x00"
# 45 bytes, a multiple of 3: base64 without padding, and no bit of the text left unused.
CURSOR_LENGTH = (_BODY.size + TAG_BYTES) * 4 // 3


def binding(caller: str, *filters: object) -> bytes:
    """What a cursor is sealed to: the caller's key id and the filters, in one canonical form."""
    values = [value.isoformat() if isinstance(value, datetime) else value for value in filters]
    return json.dumps([caller, *values], separators=(",", ":")).encode()


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class CursorSeal:
    """Seals positions into cursors, and opens them, with the key `key` returns when first asked."""

    def __init__(self, key: Callable[[], bytes]) -> None:
        self._key = key

    def _tag(self, body: bytes, bound: bytes) -> bytes:
        mac = hmac.new(self._key(), _PURPOSE + body + bound, hashlib.sha256)
        return mac.digest()[:TAG_BYTES]

    def seal(self, position: Position, bound: bytes) -> str:
        """The cursor of `position`, for the caller and filters of `bound`."""
        micros = (position.created_at - _EPOCH) // _MICROSECOND
        body = _BODY.pack(VERSION, micros, position.enrollment_id.bytes)
        return _encode(body + self._tag(body, bound))

    def open(self, cursor: str, bound: bytes) -> Position:
        """The position `cursor` holds, or `InvalidCursorError` if this API did not make it for
        the caller and filters of `bound`."""
        if len(cursor) != CURSOR_LENGTH or not cursor.isascii():
            raise InvalidCursorError
        try:
            raw = base64.b64decode(cursor.encode(), altchars=b"-_", validate=True)
        except binascii.Error:
            raise InvalidCursorError from None
        body, tag = raw[: _BODY.size], raw[_BODY.size :]
        # Only the one spelling this API writes: no other text decodes to the same bytes.
        if _encode(raw) != cursor or not hmac.compare_digest(tag, self._tag(body, bound)):
            raise InvalidCursorError
        version, micros, enrollment_id = _BODY.unpack(body)
        if version != VERSION:
            raise InvalidCursorError
        return Position(_EPOCH + micros * _MICROSECOND, UUID(bytes=enrollment_id))
