"""The audit log: who reached a person's data, how, and when.

A line is written whenever a caller reads an enrollment it does not own (`enrollments:read-all`,
one line per enrollment, in a list too), an enrollment is erased, or the operator's tool
(`enrollment-data`) finds, erases or reindexes enrollments. Each is JSON from a logger of its own,
`enrollment.audit`, and names the caller (its API key's id, or the operator's AWS identity), the
action, the enrollment and the request; never a name nor a CPF. On Lambda the runtime writes the
fields of each record (`LogFormat: JSON`) and the request id comes from the log context;
`enrollment-data` writes the same fields to the stack's audit log group. docs/operating.md gives
the query that answers "who accessed this enrollment".
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from uuid import UUID

AUDIT_LOGGER = "enrollment.audit"

logger = logging.getLogger(AUDIT_LOGGER)


class AuditAction(StrEnum):
    """What was done to an enrollment's personal data."""

    # Read by a caller that does not own it.
    READ = "read"
    ERASE = "erase"
    # Found by its CPF, by the operator's tool.
    FIND = "find"
    # Its CPF hashed again under the current key, by the operator's tool.
    REINDEX = "reindex"


def audit_fields(action: AuditAction, enrollment_id: UUID | None, **caller: str) -> dict[str, str]:
    """The fields of an audit line: the action, the enrollment if one, and who (`api_key_id`, or
    `operator` for the operator's tool)."""
    fields = {"action": str(action), **caller}
    if enrollment_id is not None:
        fields["enrollment_id"] = str(enrollment_id)
    return fields


def audit(action: AuditAction, enrollment_id: UUID, api_key_id: str) -> None:
    """Write the audit line of an API caller's action on an enrollment (the request id is bound
    to every line of the request)."""
    logger.info(
        "Audit: %s", action, extra=audit_fields(action, enrollment_id, api_key_id=api_key_id)
    )


@contextmanager
def audit_suspended() -> Iterator[None]:
    """No audit line inside: for requests that are nobody's (the SnapStart priming's samples)."""
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = False
