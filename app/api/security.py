"""The API key check, for runs where API Gateway is not in front to do it."""

import hmac
from collections.abc import Collection

from fastapi.security import APIKeyHeader
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.errors import forbidden_response
from app.config import get_settings

API_KEY_HEADER = "x-api-key"

# Documents the key in the OpenAPI document (its security scheme, on every operation), for the
# docs page's Authorize button; `ApiKeyMiddleware` checks it. auto_error=False: this reads the
# header and refuses nothing.
api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)


class ApiKeyMiddleware:
    """Refuse every request without the configured API key, as API Gateway does, before anything.

    API Gateway checks the key before it looks at the path, the method or the body: without a
    valid key, every request is a `403`. So locally the check is a middleware, outside routing and
    body parsing, and only `open_paths` (the docs page, its assets, the schema) are let through.
    A key sent twice is refused: which of the two API Gateway would check is not documented.
    Without a configured key (on AWS) every request is let through: API Gateway checked it.
    """

    def __init__(
        self, app: ASGIApp, open_paths: Collection[str] = (), open_prefixes: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.open_paths = frozenset(open_paths)
        self.open_prefixes = open_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        expected = get_settings().api_key
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
