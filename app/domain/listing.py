"""The list's use case: a page of the enrollments a caller may read, and the cursor of the next.

Pages are consistent because a cursor holds a position, not an offset: the last enrollment of its
page, in an order that never changes (creation time, then id). The next page holds only what is
older than it, so an enrollment written meanwhile, being newer, never shifts a page, and each one
that existed when the first page was read is on exactly one page. docs/adr/0011-enrollment-lists.md.
"""

from typing import TYPE_CHECKING

from app.domain.clients import Caller, Scope
from app.domain.cursors import CursorSeal, binding
from app.domain.models.lists import (
    EnrollmentListQuery,
    EnrollmentPage,
    EnrollmentSelection,
    Position,
)

if TYPE_CHECKING:
    from app.domain.ports import EnrollmentIndex


def list_enrollments(
    caller: Caller, query: EnrollmentListQuery, index: "EnrollmentIndex", seal: CursorSeal
) -> EnrollmentPage:
    """The page `query` asks for: the caller's own enrollments, or with `enrollments:read-all`
    every client's.

    The cursor is sealed to the caller's key and the filters, not to the limit, which a client may
    change from one page to the next: `InvalidCursorError` for one made for another caller or
    other filters. The key that seals it is asked for only when a cursor is given or made.
    """
    bound = binding(caller.api_key_id, query.status, query.created_after, query.created_before)
    after = seal.open(query.cursor, bound) if query.cursor is not None else None
    found = index.list(
        EnrollmentSelection(
            owner=None if caller.may(Scope.ENROLLMENTS_READ_ALL) else caller.api_key_id,
            status=query.status,
            created_after=query.created_after,
            created_before=query.created_before,
            limit=query.limit,
            after=after,
        )
    )
    next_cursor = None
    if found.more and found.items:
        last = found.items[-1]
        next_cursor = seal.seal(Position(last.created_at, last.enrollment_id), bound)
    return EnrollmentPage(items=found.items, next_cursor=next_cursor)
