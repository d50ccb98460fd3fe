"""ASGI middleware: small, and only for what must happen before a route is chosen."""

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.answers import send_error
from app.api.text import is_utf8

MAX_BODY_BYTES = 16 * 1024


class RequestBodyMiddleware:
    """Answer `413` to a request body over `max_bytes`, and `400` to one that is not UTF-8 text,
    before anything parses it.

    A declared `Content-Length` over the limit is refused at once; the body itself is counted as
    it arrives (whatever the header said, or when it is chunked), then handed on whole. Every
    body these operations take is JSON, which is UTF-8 (RFC 8259); FastAPI hands a body that is
    not declared JSON to the model as bytes, which an answer could not echo if they were not text.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"Request body exceeds {self.max_bytes} bytes"
        declared = {value for name, value in scope["headers"] if name == b"content-length"}
        if len(declared) > 1 or not all(value.isdigit() for value in declared):
            await send_error(send, 400, detail="Invalid Content-Length header")
            return
        if declared and int(next(iter(declared))) > self.max_bytes:
            await send_error(send, 413, detail=too_large)
            return

        try:
            body = await _read_body(receive, self.max_bytes)
        except _ClientDisconnectedError:
            return
        if body is None:
            await send_error(send, 413, detail=too_large)
            return
        if not is_utf8(body):
            await send_error(send, 400, detail="Request body is not UTF-8 text")
            return
        unread: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

        async def replay() -> Message:
            return unread.pop() if unread else await receive()

        await self.app(scope, replay, send)


class _ClientDisconnectedError(Exception):
    pass


async def _read_body(receive: Receive, max_bytes: int) -> bytes | None:
    """The whole request body, or None as soon as it grows past `max_bytes`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _ClientDisconnectedError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def public_prefix(event: dict[str, Any]) -> str:
    """What the client's URL has before the path the app routes: `/v1`, `/api`, or nothing.

    `requestContext.path` is the path the client called; `path`, the one the app routes. On the
    API's own URL the difference is the stage (`/v1/enrollments` against `/enrollments`); on a
    custom domain it is the base path mapping (`/api/enrollments`, or none at all), and the stage
    is not in the URL whatever `requestContext.stage` says.
    """
    called = str(event.get("requestContext", {}).get("path") or "").rstrip("/")
    routed = str(event.get("path") or "").rstrip("/")
    if not called.endswith(routed):
        return ""
    return called[: len(called) - len(routed)]


class StageRootPathMiddleware:
    """Behind API Gateway, tell the app its public prefix (`public_prefix`) for the URLs it gives.

    ASGI wants `path` to include `root_path`, and routing takes the prefix off again, so both get
    it; URLs the app builds for the client (`Location` headers, the docs' `openapi.json`) then
    carry it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        event = scope.get("aws.event")
        if scope["type"] == "http" and event and not scope.get("root_path"):
            prefix = public_prefix(event)
            if prefix:
                scope = {**scope, "root_path": prefix, "path": prefix + scope["path"]}
        await self.app(scope, receive, send)


class HeadMiddleware:
    """Answer `HEAD` as `GET` would, without the body: the headers of what a `GET` would get.

    Starlette's own routes do so; FastAPI's take only the methods they declare, and a route for
    both would be two operations in the OpenAPI document.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)
