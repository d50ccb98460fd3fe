"""Providers injected into the routes, and their `Annotated` aliases.

The providers are `async def`: they never block (the clients behind them are created once per
process), and FastAPI would otherwise hop to a worker thread for each one on every request.
"""

from typing import Annotated

from fastapi import Depends

from app.aws import get_dynamodb_client, get_sqs_client
from app.config import Settings, get_settings
from app.queue import EnrollmentQueue
from app.repositories.age_groups import AgeGroupRepository
from app.repositories.enrollments import EnrollmentRepository
from app.repositories.idempotency import IdempotencyRepository


async def get_request_settings() -> Settings:
    """The settings of this process."""
    return get_settings()


SettingsDep = Annotated[Settings, Depends(get_request_settings)]


async def get_age_group_repository(settings: SettingsDep) -> AgeGroupRepository:
    """The age-groups repository over this process's DynamoDB client."""
    return AgeGroupRepository(get_dynamodb_client(), settings.age_groups_table)


async def get_enrollment_repository(settings: SettingsDep) -> EnrollmentRepository:
    """The enrollments repository over this process's DynamoDB client."""
    return EnrollmentRepository(get_dynamodb_client(), settings.enrollments_table)


async def get_idempotency_repository(settings: SettingsDep) -> IdempotencyRepository:
    """The idempotency-records repository over this process's DynamoDB client."""
    return IdempotencyRepository(get_dynamodb_client(), settings.idempotency_table)


async def get_enrollment_queue(settings: SettingsDep) -> EnrollmentQueue:
    """The enrollment queue over this process's SQS client."""
    return EnrollmentQueue(get_sqs_client(), settings.enrollment_queue_url)


AgeGroupRepositoryDep = Annotated[AgeGroupRepository, Depends(get_age_group_repository)]
EnrollmentRepositoryDep = Annotated[EnrollmentRepository, Depends(get_enrollment_repository)]
IdempotencyRepositoryDep = Annotated[IdempotencyRepository, Depends(get_idempotency_repository)]
EnrollmentQueueDep = Annotated[EnrollmentQueue, Depends(get_enrollment_queue)]
