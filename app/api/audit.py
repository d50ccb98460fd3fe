"""The API's audit lines (app.observability.audit): reads of what the caller does not own."""

from app.domain.clients import Caller
from app.domain.models.enrollments import Enrollment
from app.observability.audit import AuditAction, audit


def audit_read(caller: Caller, enrollment: Enrollment) -> None:
    """Record that `caller` read `enrollment`, if it is another's (`enrollments:read-all`).

    Every answer that carries another's enrollment calls it once per enrollment: a read of one,
    and each item of a list.
    """
    if enrollment.owner != caller.api_key_id:
        audit(AuditAction.READ, enrollment.enrollment_id, caller.api_key_id)
