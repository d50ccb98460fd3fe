"""ASGI middleware: small, and only for what must happen before a route is chosen."""

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 16 * 1024


class _BodyTooLargeError(Exception):
    pass


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
    """Answer `413` to a request body over `max_bytes`, before anything parses it."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = {"detail": f"Request body exceeds {self.max_bytes} bytes"}
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _send_json(send, 400, {"detail": "Invalid Content-Length header"})
                return
            if int(declared) > self.max_bytes:
                await _send_json(send, 413, too_large)
                return

        # A chunked body declares no length: count it as it arrives.
        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLargeError:
            if response_started:
                raise
            await _send_json(send, 413, too_large)


class StageRootPathMiddleware:
    """Behind an API Gateway stage, tell the app its public prefix (`/Prod`) for the docs' links.

    REST API events carry the path without the stage, so routing is unchanged; only URLs the app
    builds for the client (the docs' `openapi.json`) need the prefix.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        event = scope.get("aws.event")
        if scope["type"] == "http" and event and not scope.get("root_path"):
            stage = event.get("requestContext", {}).get("stage")
            if stage:
                scope = {**scope, "root_path": f"/{stage}"}
        await self.app(scope, receive, send)
