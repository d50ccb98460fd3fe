"""Who calls, and with which rights: the API key's client and its scopes.

On AWS, API Gateway checks the key (and its usage plan) before the function runs, and names it in
the event (`requestContext.identity.apiKeyId`); `make run`'s gateway does the same locally. The
app then knows the caller by that id: the stack's own key holds every scope, any other key must
belong to an enabled client record, whose scopes it holds (`app.adapters.clients`). Where no
gateway is in front and `API_KEY` is set, the app checks the key itself, as the stack's own.
"""

import hmac
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from app.adapters.aws import get_dynamodb_client
from app.adapters.clients import ClientCache, ClientRepository
from app.api.concurrency import run_blocking
from app.config import get_settings
from app.domain.clients import ALL_SCOPES, Caller, Scope
from app.domain.errors import MissingScopeError, UnknownCallerError

API_KEY_HEADER = "x-api-key"
# The caller of an app with no gateway in front and no key to check: tests, in one process.
IN_PROCESS = "in-process"

# auto_error=False: the check below answers as API Gateway does, not with FastAPI's own 403.
api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)


class ForbiddenError(Exception):
    """The request has no API key or a wrong one."""


@lru_cache
def get_client_cache() -> ClientCache:
    """The clients this process has asked about, for `CACHE_SECONDS` each."""
    return ClientCache(ClientRepository(get_dynamodb_client(), get_settings().clients_table))


async def get_caller(
    request: Request, provided: Annotated[str | None, Security(api_key_header)]
) -> Caller:
    """The caller of this request, or `ForbiddenError` / `UnknownCallerError`."""
    settings = get_settings()
    event = request.scope.get("aws.event") or {}
    identity = event.get("requestContext", {}).get("identity") or {}
    if key_id := identity.get("apiKeyId"):
        if key_id == settings.stack_api_key_id:
            return Caller(api_key_id=key_id, scopes=ALL_SCOPES)
        cache = get_client_cache()
        fresh, client = cache.peek(key_id)
        if not fresh:
            client = await run_blocking(cache.get, key_id)
        if client is None or not client.enabled:
            raise UnknownCallerError
        return Caller(api_key_id=key_id, scopes=client.scopes)
    if settings.api_key is not None:
        expected = settings.api_key.get_secret_value().encode()
        if provided is None or not hmac.compare_digest(provided.encode(), expected):
            raise ForbiddenError
        return Caller(api_key_id=settings.stack_api_key_id or "api-key", scopes=ALL_SCOPES)
    if settings.aws_lambda_function_name is not None:
        # On Lambda, an event without a key id did not come through a method that checks keys
        # (a function URL, a method added by hand): nobody's request is served.
        raise ForbiddenError
    return Caller(api_key_id=IN_PROCESS, scopes=ALL_SCOPES)


CallerDep = Annotated[Caller, Depends(get_caller)]


def requires(*scopes: Scope) -> Any:
    """A dependency that lets the request through if the caller holds one of `scopes`."""

    async def check(caller: CallerDep) -> None:
        if not any(caller.may(scope) for scope in scopes):
            raise MissingScopeError(scopes[0])

    return Depends(check)


def scope_docs(*scopes: Scope) -> dict[str, Any]:
    """What an operation's OpenAPI entry says of the scopes it needs."""
    return {"x-scopes": [str(scope) for scope in scopes]}
