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
)
async def create_enrollment(
    new: EnrollmentCreate,
    age_groups: AgeGroupRepositoryDep,
    queue: EnrollmentQueueDep,
    idempotency: IdempotencyDep,
    request: Request,
    response: Response,
) -> Enrollment:
    """Request an enrollment; it is processed asynchronously, so poll its status (`Location`)."""
    enrollment = await run_blocking(
        idempotency.run,
        Enrollment,
        lambda unit: request_enrollment(new, age_groups, queue, unit),
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
            "description": "No enrollment has this id",
        }
    },
)
async def get_enrollment(enrollment_id: UUID, enrollments: EnrollmentRepositoryDep) -> Enrollment:
    """Read an enrollment and its status."""
    return await run_blocking(enrollments.get, enrollment_id)
