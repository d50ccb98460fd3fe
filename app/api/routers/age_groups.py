"""Routes of the age-group resource."""

from uuid import UUID

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel

from app.adapters.samples import (
    SAMPLE_GROUP,
    group_deleted,
    group_put,
    groups_scanned,
)
from app.api.concurrency import run_blocking
from app.api.dependencies import AgeGroupRepositoryDep, IdempotencyDep
from app.api.documented import IDEMPOTENT_RESPONSES, RETRY_AFTER_DOCS, error_answer
from app.api.operations import Operation, Sample
from app.api.routers import LOCATION_HEADER, location
from app.domain.clients import Scope
from app.domain.models.age_groups import AgeGroup, AgeGroupCreate
from app.domain.services import MAX_AGE_GROUPS, register_age_group

router = APIRouter(prefix="/age-groups", tags=["age groups"])


class Message(BaseModel):
    """A confirmation in words."""

    message: str


CREATE_AGE_GROUP = Operation(
    Scope.AGE_GROUPS_WRITE,
    samples=[
        Sample(
            "POST",
            "/age-groups",
            {"min_age": 0, "max_age": 150},
            calls=(groups_scanned(SAMPLE_GROUP), group_put()),
            status=201,
        )
    ],
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        status.HTTP_201_CREATED: {"headers": LOCATION_HEADER},
        **IDEMPOTENT_RESPONSES,
        status.HTTP_409_CONFLICT: error_answer(
            f"{MAX_AGE_GROUPS} age groups are registered already, the most there may be; or the "
            "first request with this Idempotency-Key is still in progress (with `Retry-After`)",
            headers=RETRY_AFTER_DOCS,
        ),
    },
    openapi_extra=CREATE_AGE_GROUP,
)
async def create_age_group(
    new: AgeGroupCreate,
    repository: AgeGroupRepositoryDep,
    idempotency: IdempotencyDep,
    request: Request,
    response: Response,
) -> AgeGroup:
    """Register an age group; `Location` is its URL. Scope: `age-groups:write`."""
    group = await run_blocking(
        idempotency.run, AgeGroup, lambda unit: register_age_group(new, repository, unit)
    )
    response.headers["Location"] = location(
        request, "delete_age_group", age_group_id=group.age_group_id
    )
    return group


LIST_AGE_GROUPS = Operation(
    Scope.AGE_GROUPS_READ,
    samples=[Sample("GET", "/age-groups", calls=(groups_scanned(SAMPLE_GROUP),))],
)


@router.get("", openapi_extra=LIST_AGE_GROUPS)
async def list_age_groups(repository: AgeGroupRepositoryDep) -> list[AgeGroup]:
    """List every age group, ordered by `(min_age, max_age)`. Scope: `age-groups:read`."""
    return await run_blocking(repository.list)


DELETE_AGE_GROUP = Operation(
    Scope.AGE_GROUPS_WRITE,
    samples=[
        Sample(
            "DELETE",
            f"/age-groups/{SAMPLE_GROUP.age_group_id}",
            calls=(group_deleted(SAMPLE_GROUP),),
        )
    ],
)


@router.delete(
    "/{age_group_id}",
    responses={status.HTTP_404_NOT_FOUND: error_answer("No age group has this id")},
    openapi_extra=DELETE_AGE_GROUP,
)
async def delete_age_group(age_group_id: UUID, repository: AgeGroupRepositoryDep) -> Message:
    """Delete an age group. Scope: `age-groups:write`."""
    await run_blocking(repository.delete, age_group_id)
    return Message(message=f"Age group {age_group_id} deleted")
