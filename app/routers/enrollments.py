"""Routes of the enrollment resource."""

from uuid import UUID

from fastapi import APIRouter, Request, Response, status

from app.dependencies import AgeGroupRepositoryDep, EnrollmentQueueDep, EnrollmentRepositoryDep
from app.exception_handlers import IDEMPOTENT_RESPONSES, ErrorDetail
from app.idempotency import IdempotencyDep
from app.models.enrollments import Enrollment, EnrollmentCreate
from app.routers import LOCATION_HEADER, location
from app.services import request_enrollment

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
def create_enrollment(
    new: EnrollmentCreate,
    age_groups: AgeGroupRepositoryDep,
    enrollments: EnrollmentRepositoryDep,
    queue: EnrollmentQueueDep,
    idempotency: IdempotencyDep,
    request: Request,
    response: Response,
) -> Enrollment:
    """Request an enrollment; it is processed asynchronously, so poll its status (`Location`)."""
    enrollment = idempotency.run(
        Enrollment, lambda claim: request_enrollment(new, age_groups, enrollments, queue, claim)
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
def get_enrollment(enrollment_id: UUID, enrollments: EnrollmentRepositoryDep) -> Enrollment:
    """Read an enrollment and its status."""
    return enrollments.get(enrollment_id)
