"""Providers injected into the routes, and their `Annotated` aliases.

The providers are `async def`: they never block (the clients behind them are created once per
process), and FastAPI would otherwise hop to a worker thread for each one on every request. They
read the settings themselves (`get_settings` is cached) rather than depend on a settings
provider: each sub-dependency is one more for FastAPI to solve on every request.
"""

from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Header, Request, Response

from app.adapters.age_groups import AgeGroupRepository
from app.adapters.aws import get_dynamodb_client, get_secretsmanager_client, get_sqs_client
from app.adapters.cpf_key import CpfKey
from app.adapters.deliveries import DeliveryRepository
from app.adapters.delivery_queue import DeliveryQueue
from app.adapters.enrollments import EnrollmentRepository
from app.adapters.idempotency import IdempotencyRepository
from app.adapters.queue import EnrollmentQueue
from app.adapters.secrets import SecretKey
from app.adapters.unit_of_work import DynamoDBUnitOfWork
from app.adapters.webhook_http import SystemResolver
from app.adapters.webhooks import WebhookRepository
from app.api import idempotency
from app.api.errors import render_refusal
from app.api.security import CallerDep
from app.config import get_api_settings
from app.domain.cursors import CursorSeal
from app.domain.destinations import Resolver
from app.domain.errors import IdempotencyKeyRepeatedError
from app.observability.metrics import MetricsEmitter


async def get_age_group_repository() -> AgeGroupRepository:
    """The age-groups repository over this process's DynamoDB client."""
    return AgeGroupRepository(get_dynamodb_client(), get_api_settings().age_groups_table)


async def get_enrollment_repository() -> EnrollmentRepository:
    """The enrollments repository over this process's DynamoDB client."""
    return EnrollmentRepository(get_dynamodb_client(), get_api_settings().enrollments_table)


async def get_idempotency_repository() -> IdempotencyRepository:
    """The idempotency-records repository over this process's DynamoDB client."""
    return IdempotencyRepository(get_dynamodb_client(), get_api_settings().idempotency_table)


async def get_enrollment_queue() -> EnrollmentQueue:
    """The enrollment queue over this process's SQS client."""
    return EnrollmentQueue(get_sqs_client(), get_api_settings().enrollment_queue_url)


async def get_webhook_repository() -> WebhookRepository:
    """The webhook endpoints' repository over this process's DynamoDB client."""
    return WebhookRepository(get_dynamodb_client(), get_api_settings().webhooks_table)


async def get_delivery_repository() -> DeliveryRepository:
    """The webhook deliveries' repository over this process's DynamoDB client."""
    return DeliveryRepository(get_dynamodb_client(), get_api_settings().webhook_deliveries_table)


async def get_delivery_queue() -> DeliveryQueue:
    """The webhook delivery queue over this process's SQS client."""
    return DeliveryQueue(get_sqs_client(), get_api_settings().webhook_delivery_queue_url)


async def get_resolver() -> Resolver:
    """DNS, which says where a webhook URL's host is."""
    return SystemResolver()


async def get_unit_of_work() -> DynamoDBUnitOfWork:
    """A new unit of work for what this request writes."""
    return DynamoDBUnitOfWork(get_dynamodb_client())


@lru_cache
def get_cpf_key() -> CpfKey:
    """The CPF's key of this process: read on its first enrollment, then held a while."""
    return CpfKey(get_secretsmanager_client(), get_api_settings().cpf_key_secret_arn)


async def get_request_cpf_key() -> CpfKey:
    """The process's CPF key, for a route."""
    return get_cpf_key()


@lru_cache
def get_metrics() -> MetricsEmitter:
    """The API's metrics, under the stack's name (one emitter per process)."""
    return MetricsEmitter(get_api_settings().service_name)


UnitOfWorkDep = Annotated[DynamoDBUnitOfWork, Depends(get_unit_of_work)]
IdempotencyRepositoryDep = Annotated[IdempotencyRepository, Depends(get_idempotency_repository)]


async def get_idempotency(
    request: Request,
    response: Response,
    unit: UnitOfWorkDep,
    store: IdempotencyRepositoryDep,
    caller: CallerDep,
    key: Annotated[
        str | None,
        Header(
            alias=idempotency.IDEMPOTENCY_KEY_HEADER,
            description=idempotency.KEY_DESCRIPTION,
            json_schema_extra={"pattern": idempotency.KEY_PATTERN},
        ),
    ] = None,
) -> idempotency.Idempotency:
    """The request's idempotency, from its `Idempotency-Key` header (none without one)."""
    if key is None:
        return idempotency.Idempotency(unit)
    if len(idempotency.sent_keys(request)) > 1:
        raise IdempotencyKeyRepeatedError
    idempotency.check_key(key)
    return idempotency.Idempotency(
        unit,
        store,
        idempotency.request_key(request, caller, key),
        idempotency.fingerprint(await request.body()),
        response,
        render_refusal,
    )


AgeGroupRepositoryDep = Annotated[AgeGroupRepository, Depends(get_age_group_repository)]
EnrollmentRepositoryDep = Annotated[EnrollmentRepository, Depends(get_enrollment_repository)]
EnrollmentQueueDep = Annotated[EnrollmentQueue, Depends(get_enrollment_queue)]
IdempotencyDep = Annotated[idempotency.Idempotency, Depends(get_idempotency)]
WebhookRepositoryDep = Annotated[WebhookRepository, Depends(get_webhook_repository)]
DeliveryRepositoryDep = Annotated[DeliveryRepository, Depends(get_delivery_repository)]
DeliveryQueueDep = Annotated[DeliveryQueue, Depends(get_delivery_queue)]
ResolverDep = Annotated[Resolver, Depends(get_resolver)]
CpfKeyDep = Annotated[CpfKey, Depends(get_request_cpf_key)]


async def get_request_metrics() -> MetricsEmitter:
    """The process's metrics emitter, for a route."""
    return get_metrics()


MetricsDep = Annotated[MetricsEmitter, Depends(get_request_metrics)]


@lru_cache
def get_cursor_seal() -> CursorSeal:
    """The seal of the lists' cursors, keyed by the cursor secret, read when first needed (one
    per process: cleared after SnapStart priming, so no snapshot holds the key)."""
    return CursorSeal(SecretKey(get_secretsmanager_client, get_api_settings().cursor_secret_arn))


async def get_request_cursor_seal() -> CursorSeal:
    """The process's cursor seal, for a route."""
    return get_cursor_seal()


CursorSealDep = Annotated[CursorSeal, Depends(get_request_cursor_seal)]
