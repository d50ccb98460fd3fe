"""Routes of the webhook resource: the caller's endpoint, its secret, and its deliveries.

Each client has at most one endpoint, `/webhook`, to which the notifier POSTs an
`enrollment.processed` event for each of the client's enrollments (docs/webhooks.md). Every
route needs `webhooks:write`: the endpoint's secret is shown by them alone.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from app.adapters.samples import (
    SAMPLE_DELIVERY,
    SAMPLE_ENDPOINT,
    deliveries_queried,
    delivery_queued,
    delivery_read,
    endpoint_deleted,
    endpoint_read,
    endpoint_set,
    endpoint_updated,
)
from app.api.concurrency import run_blocking
from app.api.dependencies import (
    DeliveryQueueDep,
    DeliveryRepositoryDep,
    ResolverDep,
    WebhookRepositoryDep,
)
from app.api.documented import error_answer
from app.api.operations import Operation, Sample
from app.api.security import CallerDep
from app.config import get_api_settings
from app.domain.clients import Scope
from app.domain.destinations import check_url
from app.domain.errors import NotFoundError
from app.domain.models.webhooks import (
    DeliveryAttempts,
    DeliveryJob,
    Redelivery,
    WebhookEndpoint,
    WebhookEndpointSet,
    WebhookSecret,
)

router = APIRouter(prefix="/webhook", tags=["webhooks"])

NO_ENDPOINT: dict[int | str, dict[str, Any]] = {
    status.HTTP_404_NOT_FOUND: error_answer("This API key has no webhook endpoint")
}
UNSAFE_URL: dict[int | str, dict[str, Any]] = {
    status.HTTP_422_UNPROCESSABLE_CONTENT: {
        "description": (
            "The body is invalid, or the URL is one no delivery may go to: not `https`, or its "
            "host resolves to an address that is not public. `msg` names the rule."
        )
    }
}

SET_ENDPOINT = Operation(
    Scope.WEBHOOKS_WRITE,
    samples=[Sample("PUT", "/webhook", {"url": SAMPLE_ENDPOINT.url}, calls=(endpoint_set(),))],
)


@router.put("", responses=UNSAFE_URL, openapi_extra=SET_ENDPOINT)
async def set_endpoint(
    new: WebhookEndpointSet,
    endpoints: WebhookRepositoryDep,
    resolver: ResolverDep,
    caller: CallerDep,
) -> WebhookSecret:
    """Set where the caller's events are POSTed, and enable it; verify each with `secret`.

    The secret is made by the first PUT and kept by the next ones, until it is rotated. The URL
    must be `https`, and its host must resolve to public addresses only: it is checked now, and
    again at each delivery. Scope: `webhooks:write`.
    """
    allow_loopback = get_api_settings().webhook_allow_loopback_http
    await run_blocking(check_url, new.url, resolver, allow_loopback)
    endpoint = await run_blocking(endpoints.put, caller.api_key_id, new.url)
    return WebhookSecret(url=endpoint.url, secret=endpoint.secret)


GET_ENDPOINT = Operation(
    Scope.WEBHOOKS_WRITE, samples=[Sample("GET", "/webhook", calls=(endpoint_read(),))]
)


@router.get("", responses=NO_ENDPOINT, openapi_extra=GET_ENDPOINT)
async def get_endpoint(endpoints: WebhookRepositoryDep, caller: CallerDep) -> WebhookEndpoint:
    """The caller's endpoint: its URL, whether it is enabled and, if not, why; never its
    secret. Scope: `webhooks:write`."""
    endpoint = await run_blocking(endpoints.get, caller.api_key_id)
    if endpoint is None:
        raise NotFoundError("Webhook endpoint", "of this API key")
    return endpoint


DELETE_ENDPOINT = Operation(
    Scope.WEBHOOKS_WRITE,
    samples=[Sample("DELETE", "/webhook", calls=(endpoint_deleted(),), status=204)],
)


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=NO_ENDPOINT,
    openapi_extra=DELETE_ENDPOINT,
)
async def delete_endpoint(endpoints: WebhookRepositoryDep, caller: CallerDep) -> None:
    """Remove the caller's endpoint: no event is delivered any more. Scope: `webhooks:write`."""
    await run_blocking(endpoints.delete, caller.api_key_id)


ROTATE_SECRET = Operation(
    Scope.WEBHOOKS_WRITE,
    samples=[Sample("POST", "/webhook/rotate-secret", calls=(endpoint_updated(),))],
)


@router.post("/rotate-secret", responses=NO_ENDPOINT, openapi_extra=ROTATE_SECRET)
async def rotate_secret(endpoints: WebhookRepositoryDep, caller: CallerDep) -> WebhookSecret:
    """A new secret. For 24 hours each delivery carries a signature under each secret, the new
    and the old, space-separated, so that a receiver can switch when it is ready. Scope:
    `webhooks:write`."""
    endpoint = await run_blocking(endpoints.rotate, caller.api_key_id)
    return WebhookSecret(url=endpoint.url, secret=endpoint.secret)


LIST_DELIVERIES = Operation(
    Scope.WEBHOOKS_WRITE,
    samples=[Sample("GET", "/webhook/deliveries", calls=(deliveries_queried(),))],
)


class DeliveryFilter(BaseModel):
    """Which attempts `GET /webhook/deliveries` lists; any other parameter is a 422."""

    model_config = ConfigDict(extra="forbid")

    failed: bool = Field(default=False, description="Only the attempts that were not delivered.")
    limit: int = Field(default=20, ge=1, le=100, description="How many, at most.")


@router.get("/deliveries", openapi_extra=LIST_DELIVERIES)
async def list_deliveries(
    log: DeliveryRepositoryDep,
    caller: CallerDep,
    query: Annotated[DeliveryFilter, Query()],
) -> DeliveryAttempts:
    """The caller's latest delivery attempts of the last 30 days, newest first: each with its
    outcome, the endpoint's status code or the error, and when. Scope: `webhooks:write`."""
    items = await run_blocking(log.recent, caller.api_key_id, query.limit, query.failed)
    return DeliveryAttempts(items=items)


REDELIVER = Operation(
    Scope.WEBHOOKS_WRITE,
    samples=[
        Sample(
            "POST",
            f"/webhook/deliveries/{SAMPLE_DELIVERY.delivery_id}/redeliver",
            calls=(delivery_read(), delivery_queued()),
            status=202,
        )
    ],
)


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    responses={status.HTTP_404_NOT_FOUND: error_answer("The caller has no attempt of this id")},
    openapi_extra=REDELIVER,
)
async def redeliver(
    delivery_id: Annotated[str, Path(max_length=64, pattern="^dlv_[0-9a-f]+$")],
    log: DeliveryRepositoryDep,
    queue: DeliveryQueueDep,
    caller: CallerDep,
) -> Redelivery:
    """Deliver an attempt's event again, now, on a schedule of its own: with the same
    `webhook-id`, if the enrollment is still PROCESSED and the endpoint enabled. Scope:
    `webhooks:write`."""
    attempt = await run_blocking(log.get, caller.api_key_id, delivery_id)
    job = DeliveryJob(owner=caller.api_key_id, enrollment_id=attempt.enrollment_id)
    await run_blocking(queue.schedule, job, 0)
    return Redelivery(webhook_id=attempt.webhook_id, enrollment_id=attempt.enrollment_id)
