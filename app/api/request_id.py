"""Each request's id: API Gateway's, or locally a sane one the client sent, or a new one; on every
log line of the request and on its answer."""

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability.logs import bind

REQUEST_ID_HEADER = "x-request-id"
# A client's id is taken only if it is a plain token: it goes into logs, headers and messages.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def resolve_request_id(scope: Scope) -> str:
    """The id of a request: API Gateway's, else the client's `X-Request-Id` if sane, else new.

    Behind API Gateway its id is the one its own logs and X-Ray know; a client's header is not
    trusted there. Locally a client (or a proxy) may send one, to find its request in the logs.
    """
    event = scope.get("aws.event") or {}
    from_gateway = event.get("requestContext", {}).get("requestId")
    if from_gateway:
        return str(from_gateway)
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER.encode():
            sent = bytes(value).decode("latin-1")
            if _SANE_REQUEST_ID.fullmatch(sent):
                return sent
            break
    return str(uuid.uuid4())


class RequestIdMiddleware:
    """Give each request its id: on its log lines, in `request.state`, and as `X-Request-Id`.

    It is the outermost of the app's middleware: every answer gets the header, a bug's `500`
    (`app.api.unhandled.UnhandledErrorMiddleware`, inside this one) included.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = resolve_request_id(scope)
        # The scope is shared with the middleware inside, which may answer with the id.
        scope.setdefault("state", {})["request_id"] = request_id
        # Each request runs in its own task, whose copy of the context ends with it.
        bind(request_id=request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != REQUEST_ID_HEADER.encode()
                ]
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)
