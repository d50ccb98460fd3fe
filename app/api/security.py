"""Who calls, and with which rights: the API key's client and its scopes.

On AWS, API Gateway checks the key (and its usage plan) before the function runs, and names it in
the event (`requestContext.identity.apiKeyId`); `make run`'s gateway does the same locally. The
app then knows the caller by that id: the stack's own key holds every scope, any other key must
belong to an enabled client record, whose scopes it holds (`app.adapters.clients`). Where no
gateway is in front and `API_KEY` is set, the app checks the key itself, as the stack's own.
With neither, it serves no one: every route answers 403.
"""

import hmac
from collections.abc import Collection
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader
from starlette.types import ASGIApp, Receive, Send
from starlette.types import Scope as ASGIScope

from app.adapters.aws import get_dynamodb_client
from app.adapters.clients import ClientCache, ClientRepository
from app.api.concurrency import run_blocking
from app.api.errors import forbidden_response
from app.api.operations import operation_of
from app.config import get_api_settings
from app.domain.clients import ALL_SCOPES, Caller
from app.domain.errors import MissingScopeError, UnknownCallerError

API_KEY_HEADER = "x-api-key"
# Documents the key in the OpenAPI document (its security scheme, on every operation), for the
# docs page's Authorize button; `ApiKeyMiddleware` checks it. auto_error=False: this reads the
# header and refuses nothing.
api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)


class ApiKeyMiddleware:
    """Refuse every request without the configured `API_KEY`, as API Gateway does, before anything.

    For the API served alone, with no gateway in front (`LOCAL_STACK=false`): API Gateway checks
    the key before it looks at the path, the method or the body, so this does too, outside
    routing and body parsing, and lets only `open_paths` (the docs page, its assets, the schema)
    through. A key sent twice is refused: which of the two API Gateway would check is not
    documented. Without a configured key (on AWS, or behind `make run`'s gateway) it lets every
    request through: the gateway in front checked it.
    """

    def __init__(
        self, app: ASGIApp, open_paths: Collection[str] = (), open_prefixes: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.open_paths = frozenset(open_paths)
        self.open_prefixes = open_prefixes

    async def __call__(self, scope: ASGIScope, receive: Receive, send: Send) -> None:
        expected = get_api_settings().api_key
        if (
            scope["type"] != "http"
            or expected is None
            or scope["path"] in self.open_paths
            or scope["path"].startswith(self.open_prefixes)
        ):
            await self.app(scope, receive, send)
            return
        sent = [value for name, value in scope["headers"] if name == API_KEY_HEADER.encode()]
        if len(sent) == 1 and hmac.compare_digest(sent[0], expected.get_secret_value().encode()):
            await self.app(scope, receive, send)
            return
        await forbidden_response()(scope, receive, send)


@lru_cache
def get_client_cache() -> ClientCache:
    """The clients this process has asked about, for `CACHE_SECONDS` each."""
    return ClientCache(ClientRepository(get_dynamodb_client(), get_api_settings().clients_table))


async def get_caller(request: Request) -> Caller:
    """The caller of this request, or `UnknownCallerError` (a 403).

    Its one parameter is the request: FastAPI analyses a dependency's signature for each route
    that needs it, at import, and a header parameter would cost a validator for each.
    """
    settings = get_api_settings()
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
        # ApiKeyMiddleware let the request in: it carries the configured key, the stack's own.
        return Caller(api_key_id=settings.stack_api_key_id, scopes=ALL_SCOPES)
    # No gateway named a key and the app checks none: nobody's request is served. This is
    # `uvicorn app.main:app` without API_KEY, or on Lambda an event that did not come through a
    # method that checks keys (a function URL, a method added by hand).
    raise UnknownCallerError


CallerDep = Annotated[Caller, Depends(get_caller)]


async def authorize(request: Request, caller: CallerDep) -> None:
    """Let the request through if the caller holds one of its operation's scopes.

    One dependency for the whole app: a dependency per route would be one more for FastAPI to
    analyse at init, and to solve on every request. An operation without scopes is refused.
    """
    declared = operation_of(request.scope.get("route"))
    scopes = declared.scopes if declared is not None else ()
    if not any(caller.may(scope) for scope in scopes):
        raise MissingScopeError(scopes[0] if scopes else "of this operation")
