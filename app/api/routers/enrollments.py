"""Routes of the enrollment resource."""

from uuid import UUID

from fastapi import APIRouter, Request, Response, status

from app.api.concurrency import run_blocking
from app.api.dependencies import (
    AgeGroupRepositoryDep,
    EnrollmentQueueDep,
    EnrollmentRepositoryDep,
    IdempotencyDep,
)
from app.api.errors import IDEMPOTENT_RESPONSES, ErrorDetail
from app.api.routers import LOCATION_HEADER, location
from app.api.security import CallerDep, requires, scope_docs
from app.domain.clients import Scope
from app.domain.errors import NotFoundError
from app.domain.models.enrollments import Enrollment, EnrollmentCreate
from app.domain.services import request_enrollment

router = APIRouter(prefix="/enrollments", tags=["enrollments"])


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        status.HTTP_202_ACCEPTED: {"headers": LOCATION_HEADER},
        status.HTTP_400_BAD_REQUEST: {
            "model": ErrorDetail,
            "description": "The age is in no age group",
        },
        **IDEMPOTENT_RESPONSES,
    },
    dependencies=[requires(Scope.ENROLLMENTS_WRITE)],
    openapi_extra=scope_docs(Scope.ENROLLMENTS_WRITE),
)
async def create_enrollment(
    new: EnrollmentCreate,
    age_groups: AgeGroupRepositoryDep,
    queue: EnrollmentQueueDep,
    idempotency: IdempotencyDep,
    caller: CallerDep,
    request: Request,
    response: Response,
) -> Enrollment:
    """Request an enrollment; it is processed asynchronously, so poll its status (`Location`).

    Scope: `enrollments:write`. The enrollment belongs to the caller's key.
    """
    enrollment = await run_blocking(
        idempotency.run,
        Enrollment,
        lambda unit: request_enrollment(new, age_groups, queue, unit, owner=caller.api_key_id),
    )
    response.headers["Location"] = location(
        request, "get_enrollment", enrollment_id=enrollment.enrollment_id
    )
    return enrollment


@router.get(
    "/{enrollment_id}",
    responses={
        status.HTTP_404_NOT_FOUND: {
            "model": ErrorDetail,
            "description": "No enrollment has this id, or none the caller may read",
        }
    },
    dependencies=[requires(Scope.ENROLLMENTS_READ, Scope.ENROLLMENTS_READ_ALL)],
    openapi_extra=scope_docs(Scope.ENROLLMENTS_READ, Scope.ENROLLMENTS_READ_ALL),
)
async def get_enrollment(
    enrollment_id: UUID, enrollments: EnrollmentRepositoryDep, caller: CallerDep
) -> Enrollment:
    """Read an enrollment and its status.

    Scope: `enrollments:read` for the caller's own enrollments, `enrollments:read-all` for any.
    Another caller's enrollment is a `404`, as an unknown one: its existence is not revealed.
    """
    enrollment = await run_blocking(enrollments.get, enrollment_id)
    if not caller.may(Scope.ENROLLMENTS_READ_ALL) and enrollment.owner != caller.api_key_id:
        raise NotFoundError("Enrollment", enrollment_id)
    return enrollment
