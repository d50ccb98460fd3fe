"""Routes of the enrollment resource."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response, status

from app.adapters.samples import (
    SAMPLE_ENROLLMENT,
    SAMPLE_GROUP,
    SAMPLE_LATER_ENROLLMENT,
    SAMPLE_OWN_ENROLLMENT,
    cpf_key_read,
    cursor_key_read,
    enrollment_erased,
    enrollment_published,
    enrollment_put,
    enrollment_read,
    enrollments_listed,
    groups_scanned,
    key_claimed,
    written_with_its_claim,
)
from app.api.audit import audit_read
from app.api.concurrency import run_blocking
from app.api.dependencies import (
    AgeGroupRepositoryDep,
    CpfKeyDep,
    CursorSealDep,
    EnrollmentQueueDep,
    EnrollmentRepositoryDep,
    IdempotencyDep,
    MetricsDep,
)
from app.api.documented import IDEMPOTENT_RESPONSES, error_answer
from app.api.idempotency import Recall
from app.api.operations import Operation, Sample
from app.api.retry_after import RETRY_AFTER_HEADER, set_retry_after
from app.api.routers import LOCATION_HEADER, check_given_once, location
from app.api.security import CallerDep
from app.config import get_api_settings
from app.domain.clients import Scope
from app.domain.errors import NotFoundError
from app.domain.listing import list_enrollments
from app.domain.models.enrollments import Enrollment, EnrollmentCreate, EnrollmentStatus
from app.domain.models.lists import EnrollmentListQuery, EnrollmentPage
from app.domain.personal_data import erase_enrollment
from app.domain.services import request_enrollment
from app.observability.audit import AuditAction, audit

router = APIRouter(prefix="/enrollments", tags=["enrollments"])

_SAMPLE_BODY = {
    "name": SAMPLE_ENROLLMENT.name,
    "age": SAMPLE_ENROLLMENT.age,
    "cpf": SAMPLE_ENROLLMENT.cpf,
}
CREATE_ENROLLMENT = Operation(
    Scope.ENROLLMENTS_WRITE,
    samples=[
        # A process's first enrollment reads the CPF's key, which the next ones find held.
        Sample(
            "POST",
            "/enrollments",
            _SAMPLE_BODY,
            calls=(
                groups_scanned(SAMPLE_GROUP),
                cpf_key_read(),
                enrollment_published(),
                enrollment_put(),
            ),
            status=202,
        ),
        # With a key: its claim first, and its completion in the enrollment's write.
        Sample(
            "POST",
            "/enrollments",
            _SAMPLE_BODY,
            {"Idempotency-Key": "sample-request"},
            calls=(
                key_claimed(),
                groups_scanned(SAMPLE_GROUP),
                enrollment_published(),
                written_with_its_claim(),
            ),
            status=202,
        ),
    ],
)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        status.HTTP_202_ACCEPTED: {"headers": LOCATION_HEADER | RETRY_AFTER_HEADER},
        status.HTTP_400_BAD_REQUEST: error_answer("The age is in no age group"),
        **IDEMPOTENT_RESPONSES,
    },
    openapi_extra=CREATE_ENROLLMENT,
    response_model_exclude_none=True,
)
async def create_enrollment(
    new: EnrollmentCreate,
    age_groups: AgeGroupRepositoryDep,
    enrollments: EnrollmentRepositoryDep,
    queue: EnrollmentQueueDep,
    idempotency: IdempotencyDep,
    metrics: MetricsDep,
    cpf_key: CpfKeyDep,
    caller: CallerDep,
    request: Request,
    response: Response,
) -> Enrollment:
    """Request an enrollment, processed asynchronously: read it (`Location`) after `Retry-After`.

    Scope: `enrollments:write`. The enrollment belongs to the caller's key. A retry with the
    same `Idempotency-Key` answers with the enrollment as it is then: once erased, its tombstone.
    """
    enrollment = await run_blocking(
        idempotency.run,
        Enrollment,
        lambda unit: request_enrollment(
            new, age_groups, enrollments, queue, unit, metrics, cpf_key, owner=caller.api_key_id
        ),
        # The idempotency record keeps the enrollment's id, no copy of its personal data.
        Recall(lambda made: str(made.enrollment_id), lambda made: enrollments.get(UUID(made))),
    )
    response.headers["Location"] = location(
        request, "get_enrollment", enrollment_id=enrollment.enrollment_id
    )
    set_retry_after(response, enrollment)
    return enrollment


READ_ENROLLMENT = Operation(
    Scope.ENROLLMENTS_READ,
    Scope.ENROLLMENTS_READ_ALL,
    samples=[
        Sample(
            "GET",
            f"/enrollments/{SAMPLE_ENROLLMENT.enrollment_id}",
            calls=(enrollment_read(SAMPLE_ENROLLMENT),),
        )
    ],
)


@router.get(
    "/{enrollment_id}",
    responses={
        status.HTTP_200_OK: {"headers": RETRY_AFTER_HEADER},
        status.HTTP_404_NOT_FOUND: error_answer(
            "No enrollment has this id, or none the caller may read"
        ),
    },
    openapi_extra=READ_ENROLLMENT,
    response_model_exclude_none=True,
)
async def get_enrollment(
    enrollment_id: UUID,
    enrollments: EnrollmentRepositoryDep,
    caller: CallerDep,
    response: Response,
) -> Enrollment:
    """Read an enrollment and its status; while PENDING, read it again after `Retry-After`.

    Scope: `enrollments:read` for the caller's own enrollments, `enrollments:read-all` for any
    (each such read is audited). Another caller's enrollment is a `404`, as an unknown one: its
    existence is not revealed. An ERASED enrollment is its tombstone: no name, age or CPF.
    """
    enrollment = await run_blocking(enrollments.get, enrollment_id)
    if not caller.may(Scope.ENROLLMENTS_READ_ALL) and enrollment.owner != caller.api_key_id:
        raise NotFoundError("Enrollment", enrollment_id)
    audit_read(caller, enrollment)
    set_retry_after(response, enrollment)
    return enrollment


LIST_ENROLLMENTS = Operation(
    Scope.ENROLLMENTS_READ,
    Scope.ENROLLMENTS_READ_ALL,
    samples=[
        # The stack's key reads every client's: a Query of each shard, then a next page, whose
        # cursor is sealed with the key read from Secrets Manager (once per process).
        Sample(
            "GET",
            "/enrollments?limit=1",
            calls=(
                *enrollments_listed(SAMPLE_ENROLLMENT, SAMPLE_LATER_ENROLLMENT, limit=1),
                cursor_key_read(),
            ),
        ),
        Sample(
            "GET",
            "/enrollments?status=PENDING&limit=1",
            calls=enrollments_listed(
                SAMPLE_ENROLLMENT, SAMPLE_LATER_ENROLLMENT, limit=1, status=EnrollmentStatus.PENDING
            ),
        ),
    ],
)


ERASE_ENROLLMENT = Operation(
    Scope.ENROLLMENTS_ERASE,
    samples=[
        Sample(
            "DELETE",
            f"/enrollments/{SAMPLE_OWN_ENROLLMENT.enrollment_id}",
            calls=(enrollment_erased(SAMPLE_OWN_ENROLLMENT),),
        )
    ],
)


@router.get(
    "",
    responses={
        status.HTTP_400_BAD_REQUEST: error_answer(
            "A `cursor` this API did not give for this caller and these filters, or malformed"
        ),
        status.HTTP_422_UNPROCESSABLE_CONTENT: error_answer(
            "A query parameter that is invalid, unknown or repeated, which `loc` names",
            "ValidationErrors",
        ),
    },
    openapi_extra=LIST_ENROLLMENTS,
)
async def list_enrollments_page(
    query: Annotated[EnrollmentListQuery, Query()],
    enrollments: EnrollmentRepositoryDep,
    seal: CursorSealDep,
    caller: CallerDep,
    request: Request,
) -> EnrollmentPage:
    """List enrollments, newest first, a page at a time; the next page is `cursor=next_cursor`.

    Scope: `enrollments:read` for the caller's own enrollments, `enrollments:read-all` for every
    client's. Keep the filters from page to page (the limit may change): paged through from the
    first page, each enrollment that existed then is on exactly one page. A page is read from
    indexes, so a status may lag its enrollment's by a moment; `GET /enrollments/{id}` reads it
    as stored. An erased enrollment is listed as its tombstone, in no list of one status. No
    `Retry-After`.
    """
    check_given_once(request, EnrollmentListQuery)
    page = await run_blocking(list_enrollments, caller, query, enrollments, seal)
    for enrollment in page.items:
        audit_read(caller, enrollment)
    return page


@router.delete(
    "/{enrollment_id}",
    responses={
        status.HTTP_404_NOT_FOUND: error_answer(
            "No enrollment has this id, or none of the caller's own"
        ),
    },
    openapi_extra=ERASE_ENROLLMENT,
    response_model_exclude_none=True,
)
async def erase_enrollment_data(
    enrollment_id: UUID, enrollments: EnrollmentRepositoryDep, caller: CallerDep
) -> Enrollment:
    """Erase an enrollment's personal data: its name, age and CPF. Its tombstone stays, ERASED.

    Scope: `enrollments:erase`, for the caller's own enrollments only (`read-all` does not
    extend to it): another's is a `404`. Erasing again answers the same tombstone.
    """
    tombstone = await run_blocking(
        erase_enrollment,
        enrollment_id,
        enrollments,
        owner=caller.api_key_id,
        retention_days=get_api_settings().retention_days,
    )
    audit(AuditAction.ERASE, tombstone.enrollment_id, caller.api_key_id)
    return tombstone
