"""Routes of the enrollment resource."""

from uuid import UUID

from fastapi import APIRouter, Request, Response, status

from app.adapters.samples import (
    SAMPLE_ENROLLMENT,
    SAMPLE_GROUP,
    enrollment_published,
    enrollment_put,
    enrollment_read,
    groups_scanned,
    key_claimed,
    written_with_its_claim,
)
from app.api.concurrency import run_blocking
from app.api.dependencies import (
    AgeGroupRepositoryDep,
    EnrollmentQueueDep,
    EnrollmentRepositoryDep,
    IdempotencyDep,
    MetricsDep,
)
from app.api.documented import IDEMPOTENT_RESPONSES, error_answer
from app.api.operations import Operation, Sample
from app.api.retry_after import RETRY_AFTER_HEADER, set_retry_after
from app.api.routers import LOCATION_HEADER, location
from app.api.security import CallerDep
from app.domain.clients import Scope
from app.domain.errors import NotFoundError
from app.domain.models.enrollments import Enrollment, EnrollmentCreate
from app.domain.services import request_enrollment

router = APIRouter(prefix="/enrollments", tags=["enrollments"])

_SAMPLE_BODY = {
    "name": SAMPLE_ENROLLMENT.name,
    "age": SAMPLE_ENROLLMENT.age,
    "cpf": SAMPLE_ENROLLMENT.cpf,
}
CREATE_ENROLLMENT = Operation(
    Scope.ENROLLMENTS_WRITE,
    samples=[
        Sample(
            "POST",
            "/enrollments",
            _SAMPLE_BODY,
            calls=(groups_scanned(SAMPLE_GROUP), enrollment_published(), enrollment_put()),
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
)
async def create_enrollment(
    new: EnrollmentCreate,
    age_groups: AgeGroupRepositoryDep,
    enrollments: EnrollmentRepositoryDep,
    queue: EnrollmentQueueDep,
    idempotency: IdempotencyDep,
    metrics: MetricsDep,
    caller: CallerDep,
    request: Request,
    response: Response,
) -> Enrollment:
    """Request an enrollment, processed asynchronously: read it (`Location`) after `Retry-After`.

    Scope: `enrollments:write`. The enrollment belongs to the caller's key.
    """
    enrollment = await run_blocking(
        idempotency.run,
        Enrollment,
        lambda unit: request_enrollment(
            new, age_groups, enrollments, queue, unit, metrics, owner=caller.api_key_id
        ),
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
)
async def get_enrollment(
    enrollment_id: UUID,
    enrollments: EnrollmentRepositoryDep,
    caller: CallerDep,
    response: Response,
) -> Enrollment:
    """Read an enrollment and its status; while PENDING, read it again after `Retry-After`.

    Scope: `enrollments:read` for the caller's own enrollments, `enrollments:read-all` for any.
    Another caller's enrollment is a `404`, as an unknown one: its existence is not revealed.
    """
    enrollment = await run_blocking(enrollments.get, enrollment_id)
    if not caller.may(Scope.ENROLLMENTS_READ_ALL) and enrollment.owner != caller.api_key_id:
        raise NotFoundError("Enrollment", enrollment_id)
    set_retry_after(response, enrollment)
    return enrollment
