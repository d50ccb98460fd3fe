"""ASGI middleware: small, and only for what must happen before a route is chosen."""

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 16 * 1024


async def _send_json(send: Send, status: int, body: dict[str, str]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class BodySizeLimitMiddleware:
    """Answer `413` to a request body over `max_bytes`, before anything parses it.

    A declared `Content-Length` over the limit is refused at once; the body itself is counted as
    it arrives (whatever the header said, or when it is chunked), then handed on whole.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = {"detail": f"Request body exceeds {self.max_bytes} bytes"}
        declared = {value for name, value in scope["headers"] if name == b"content-length"}
        if len(declared) > 1 or not all(value.isdigit() for value in declared):
            await _send_json(send, 400, {"detail": "Invalid Content-Length header"})
            return
        if declared and int(next(iter(declared))) > self.max_bytes:
            await _send_json(send, 413, too_large)
            return

        try:
            body = await _read_body(receive, self.max_bytes)
        except _ClientDisconnectedError:
            return
        if body is None:
            await _send_json(send, 413, too_large)
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


class StageRootPathMiddleware:
    """Behind an API Gateway stage, tell the app its public prefix (`/v1`) for the URLs it gives.

    REST API events carry the path without the stage. ASGI wants `path` to include `root_path`,
    and routing takes the prefix off again, so both get it; URLs the app builds for the client
    (`Location` headers, the docs' `openapi.json`) then carry the stage.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        event = scope.get("aws.event")
        if scope["type"] == "http" and event and not scope.get("root_path"):
            stage = event.get("requestContext", {}).get("stage")
            if stage:
                prefix = f"/{stage}"
                scope = {**scope, "root_path": prefix, "path": prefix + scope["path"]}
        await self.app(scope, receive, send)
