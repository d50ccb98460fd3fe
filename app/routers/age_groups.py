"""Routes of the age-group resource."""

from uuid import UUID

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel

from app.dependencies import AgeGroupRepositoryDep
from app.exception_handlers import IDEMPOTENT_RESPONSES, ErrorDetail
from app.idempotency import IdempotencyDep
from app.models.age_groups import AgeGroup, AgeGroupCreate
from app.routers import LOCATION_HEADER, location

router = APIRouter(prefix="/age-groups", tags=["age groups"])


class Message(BaseModel):
    """A confirmation in words."""

    message: str


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={status.HTTP_201_CREATED: {"headers": LOCATION_HEADER}, **IDEMPOTENT_RESPONSES},
)
def create_age_group(
    new: AgeGroupCreate,
    repository: AgeGroupRepositoryDep,
    idempotency: IdempotencyDep,
    request: Request,
    response: Response,
) -> AgeGroup:
    """Register an age group; `Location` is its URL."""
    group = idempotency.run(AgeGroup, lambda claim: repository.create(new, claim))
    response.headers["Location"] = location(
        request, "delete_age_group", age_group_id=group.age_group_id
    )
    return group


@router.get("")
def list_age_groups(repository: AgeGroupRepositoryDep) -> list[AgeGroup]:
    """List every age group, ordered by `(min_age, max_age)`."""
    return repository.list()


@router.delete(
    "/{age_group_id}",
    responses={
        status.HTTP_404_NOT_FOUND: {"model": ErrorDetail, "description": "No age group has this id"}
    },
)
def delete_age_group(age_group_id: UUID, repository: AgeGroupRepositoryDep) -> Message:
    """Delete an age group."""
    repository.delete(age_group_id)
    return Message(message=f"Age group {age_group_id} deleted")
