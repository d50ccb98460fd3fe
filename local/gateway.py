"""What API Gateway does in front of the API, done locally from the same definitions.

`make run` creates the template's usage plan and the API keys in the emulator's API Gateway
(`provision_gateway`), as the stack has them on AWS: the stack's own key (`local-dev-key`) and a
client's (`local-client-key`, with the default scopes). `LocalGateway` then answers every request
as API Gateway would, before the app sees it:

- no API key, a key sent twice, an unknown or disabled key, or a key of no usage plan: `403
  {"message": "Forbidden"}`, whatever the path, method or body (the local docs pages aside);
- past the usage plan's `RateLimit`/`BurstLimit` for the key, or the stage's `MethodSettings`
  throttle for all keys together: `429 {"message": "Too Many Requests"}`;
- otherwise the request goes on, naming its key as API Gateway's event does
  (`requestContext.identity.apiKeyId`), so the app knows the caller as it does on Lambda.

The keys are read from the emulator again every `LOCAL_GATEWAY_REFRESH_SECONDS`, so a key disabled
by `enrollment-clients --local revoke` is refused within that time; and as soon as a request brings
a key the gateway does not know, at most once every `UNKNOWN_KEY_REREAD_SECONDS`, so a key just
added works within a second while a flood of bad keys costs one read a second at most.

API Gateway takes no key value shorter than 20 characters, and `local-dev-key` is shorter: the two
local keys are created with values of API Gateway's choosing, and the gateway also knows them by
these short aliases (`LOCAL_KEY_ALIASES`); whether each is enabled is still the emulator's word.
"""

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from app.adapters import clients
from app.api.answers import send_error
from app.api.request_id import REQUEST_ID_HEADER, resolve_request_id
from app.domain.clients import DEFAULT_SCOPES, Client

if TYPE_CHECKING:
    from mypy_boto3_apigateway import APIGatewayClient
    from mypy_boto3_dynamodb import DynamoDBClient

    from local.template import Stack

API_RESOURCE = "Api"
# Paths API Gateway does not guard in `make run`: Swagger UI and the schema it reads.
OPEN_PATHS = ("/docs", "/openapi.json")
LOCAL_CLIENT_NAME = "local-client"
# An unknown key may be one added since the last read: the keys are read again for it, but no
# sooner than this after the last read, whatever the number of unknown keys meanwhile.
UNKNOWN_KEY_REREAD_SECONDS = 1.0


@dataclass(frozen=True)
class Throttle:
    """A steady rate (requests a second) and a burst, as API Gateway's token bucket takes them."""

    rate: float
    burst: int


def usage_plan_throttle(template: dict[str, Any]) -> Throttle:
    """The usage plan's throttle, per key, from the template's API."""
    plan = template["Resources"]["UsagePlan"]["Properties"]["Throttle"]
    return Throttle(float(plan["RateLimit"]), int(plan["BurstLimit"]))


# The template parameter that sets the usage plan's monthly quota per key; 0 is none.
QUOTA_PARAMETER = "UsagePlanMonthlyQuota"


def usage_plan_quota(template: dict[str, Any]) -> int | None:
    """The usage plan's monthly quota per key as the template deploys it by default (None: none).

    The plan's `Quota` is the parameter's, or none where it is 0 (`HasUsagePlanQuota`).
    """
    return int(template["Parameters"][QUOTA_PARAMETER]["Default"]) or None


def stage_throttle(template: dict[str, Any]) -> Throttle:
    """The stage's method throttling, for all keys together, from the template's API."""
    [settings] = template["Resources"][API_RESOURCE]["Properties"]["MethodSettings"]
    return Throttle(float(settings["ThrottlingRateLimit"]), int(settings["ThrottlingBurstLimit"]))


def provision_gateway(
    template: dict[str, Any],
    apigateway: "APIGatewayClient",
    dynamodb: "DynamoDBClient",
    stack: "Stack",
    stack_key: str,
    client_key: str,
) -> dict[str, str]:
    """Create the usage plan and both keys in the emulator; record their ids in `stack`.

    The stack's key becomes `!Ref StackApiKey` and the plan `!Ref UsagePlan`, as the template
    names them; the client's key gets a record with the default scopes in the clients table. Returns
    the aliases: each local key's value, and the id of the key it stands for.
    """
    auth = template["Resources"]["UsagePlan"]["Properties"]
    throttle = usage_plan_throttle(template)
    quota = usage_plan_quota(template)
    plan = apigateway.create_usage_plan(
        name=f"{stack.name}-plan",
        description=auth.get("Description", ""),
        throttle={"rateLimit": throttle.rate, "burstLimit": throttle.burst},
        **({"quota": {"limit": quota, "period": "MONTH"}} if quota else {}),  # type: ignore[arg-type]
    )
    stack.refs["UsagePlan"] = plan["id"]
    keys: dict[str, str] = {}
    aliases: dict[str, str] = {}
    for name, value in (("stack", stack_key), (LOCAL_CLIENT_NAME, client_key)):
        key = apigateway.create_api_key(name=f"{stack.name}-{name}", enabled=True)
        apigateway.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
        keys[name] = key["id"]
        aliases[value] = key["id"]
    stack.refs["StackApiKey"] = keys["stack"]
    record = Client(
        api_key_id=keys[LOCAL_CLIENT_NAME], name=LOCAL_CLIENT_NAME, scopes=DEFAULT_SCOPES
    )
    dynamodb.put_item(TableName=stack.refs["ClientsTable"], Item=clients.to_item(record))
    return aliases


class TokenBucket:
    """API Gateway's throttle: `burst` requests at once, refilled at `rate` a second."""

    def __init__(self, throttle: Throttle) -> None:
        self._throttle = throttle
        self._tokens = float(throttle.burst)
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Take a token if one is left; False means throttled."""
        with self._lock:
            now = time.monotonic()
            refill = (now - self._at) * self._throttle.rate
            self._tokens = min(float(self._throttle.burst), self._tokens + refill)
            self._at = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


@dataclass
class _Keys:
    """The enabled keys of the usage plan, by value, as last read from the emulator."""

    ids: dict[str, str] = field(default_factory=dict)
    read_at: float = float("-inf")


class LocalGateway:
    """ASGI middleware: API Gateway's key check and throttling in front of the app."""

    def __init__(
        self,
        app: ASGIApp,
        apigateway: "APIGatewayClient",
        usage_plan_id: str,
        per_key: Throttle,
        stage: Throttle,
        refresh_seconds: float = 10.0,
        aliases: dict[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self._apigateway = apigateway
        self._usage_plan_id = usage_plan_id
        self._per_key = per_key
        self._stage = TokenBucket(stage)
        self._buckets: dict[str, TokenBucket] = {}
        self._refresh_seconds = refresh_seconds
        self._keys = _Keys()
        self._aliases = aliases or {}
        self._clock = clock
        self._lock = threading.Lock()
        # One reader of the emulator at a time: the requests that find the keys stale meanwhile
        # use them as they are, rather than all asking the emulator at once; one with an unknown
        # key waits for that read, which may know it.
        self._refreshing = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(OPEN_PATHS):
            await self.app(scope, receive, send)
            return
        values = [value for name, value in scope["headers"] if name == b"x-api-key"]
        if self._older_than(self._refresh_seconds):
            await run_in_threadpool(self._refresh_once, self._refresh_seconds)
        key = values[0].decode("latin-1") if len(values) == 1 else None
        key_id = None if key is None else self._keys.ids.get(key)
        if key is not None and key_id is None and self._older_than(UNKNOWN_KEY_REREAD_SECONDS):
            await run_in_threadpool(self._refresh_once, UNKNOWN_KEY_REREAD_SECONDS, True)
            key_id = self._keys.ids.get(key)
        if key is None or key_id is None:
            await _answer(scope, send, 403, "Forbidden")
            return
        if not self._bucket(key_id).take() or not self._stage.take():
            await _answer(scope, send, 429, "Too Many Requests")
            return
        identity = {"apiKeyId": key_id, "apiKey": key}
        scope = {**scope, "aws.event": {"requestContext": {"identity": identity}}}
        await self.app(scope, receive, send)

    def _bucket(self, key_id: str) -> TokenBucket:
        with self._lock:
            return self._buckets.setdefault(key_id, TokenBucket(self._per_key))

    def _older_than(self, seconds: float) -> bool:
        return self._clock() - self._keys.read_at > seconds

    def _refresh_once(self, max_age: float, wait: bool = False) -> None:
        """Read the keys again if they are older than `max_age`, unless another request is
        reading them: then wait for that read if `wait` or if the keys were never read, else
        use the keys as they are."""
        never_read = self._keys.read_at == float("-inf")
        if self._refreshing.acquire(blocking=wait or never_read):
            try:
                if self._older_than(max_age):
                    self._refresh()
            finally:
                self._refreshing.release()

    def _refresh(self) -> None:
        # The keys are as old as the start of the read: a key added while it ran may be missing.
        started = self._clock()
        attached = {
            key["id"]
            for key in _pages(
                self._apigateway.get_usage_plan_keys, "items", usagePlanId=self._usage_plan_id
            )
        }
        usable = {
            key["id"]: key.get("value")
            for key in _pages(self._apigateway.get_api_keys, "items", includeValues=True)
            if key.get("enabled") and key["id"] in attached
        }
        ids = {value: key_id for key_id, value in usable.items() if value}
        ids |= {alias: key_id for alias, key_id in self._aliases.items() if key_id in usable}
        self._keys = _Keys(ids, started)


def _pages(operation: Any, field_name: str, **params: Any) -> Iterable[dict[str, Any]]:
    while True:
        page = operation(**params)
        yield from page.get(field_name, [])
        if not page.get("position"):
            return
        params["position"] = page["position"]


async def _answer(scope: Scope, send: Send, status: int, message: str) -> None:
    """API Gateway's own answer, with a request id as its gateway responses carry one (the
    template's `GatewayResponses`): here the app's, from the client's header or a new one."""
    request_id = (REQUEST_ID_HEADER.encode(), resolve_request_id(scope).encode())
    await send_error(send, status, [request_id], message=message)


def gateway_app(
    app: ASGIApp,
    template: dict[str, Any],
    usage_plan_id: str,
    refresh_seconds: float,
    aliases: dict[str, str],
) -> LocalGateway:
    """`app` behind the gateway of `template`'s API, with the emulator's keys."""
    return LocalGateway(
        app,
        boto3.client("apigateway"),
        usage_plan_id,
        usage_plan_throttle(template),
        stage_throttle(template),
        refresh_seconds,
        aliases,
    )
