"""A bug's answer: a `500` with the request's id, its traceback logged once."""

import logging

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import internal_error_response, request_id

logger = logging.getLogger(__name__)


class UnhandledErrorMiddleware:
    """Answer a bug with a `500` carrying the request id, and log its traceback once.

    Starlette's outermost error middleware would answer it too, but then re-raises it to the
    server: the traceback is logged twice and uvicorn drops the connection. This one sits inside
    `RequestIdMiddleware`, so the log line carries the request id, and the error ends here.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception:
            if started:
                # Half an answer is out: only the server can end the exchange, by closing it.
                raise
            logger.exception("Unhandled error")
            response = internal_error_response(request_id(Request(scope)))
            await response(scope, receive, send)
