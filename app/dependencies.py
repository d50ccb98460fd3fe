"""Providers injected into the routes, and their `Annotated` aliases.

The providers are `async def`: they never block (the clients behind them are created once per
process), and FastAPI would otherwise hop to a worker thread for each one on every request. They
read the settings themselves (`get_settings` is cached) rather than depend on a settings
provider: each sub-dependency is one more for FastAPI to solve on every request.
"""

from typing import Annotated

from fastapi import Depends

from app.aws import get_dynamodb_client, get_sqs_client
from app.config import get_settings
from app.queue import EnrollmentQueue
from app.repositories.age_groups import AgeGroupRepository
from app.repositories.enrollments import EnrollmentRepository
from app.repositories.idempotency import IdempotencyRepository


async def get_age_group_repository() -> AgeGroupRepository:
    """The age-groups repository over this process's DynamoDB client."""
    return AgeGroupRepository(get_dynamodb_client(), get_settings().age_groups_table)


async def get_enrollment_repository() -> EnrollmentRepository:
    """The enrollments repository over this process's DynamoDB client."""
    return EnrollmentRepository(get_dynamodb_client(), get_settings().enrollments_table)


async def get_idempotency_repository() -> IdempotencyRepository:
    """The idempotency-records repository over this process's DynamoDB client."""
    return IdempotencyRepository(get_dynamodb_client(), get_settings().idempotency_table)


async def get_enrollment_queue() -> EnrollmentQueue:
    """The enrollment queue over this process's SQS client."""
    return EnrollmentQueue(get_sqs_client(), get_settings().enrollment_queue_url)


AgeGroupRepositoryDep = Annotated[AgeGroupRepository, Depends(get_age_group_repository)]
EnrollmentRepositoryDep = Annotated[EnrollmentRepository, Depends(get_enrollment_repository)]
EnrollmentQueueDep = Annotated[EnrollmentQueue, Depends(get_enrollment_queue)]
