"""The Lambda entry point of the API: Mangum, running the app's blocking calls inline.

The handler never raises: API Gateway would answer a bare 502, with no body and no request id,
and the function's error alarm would count a client's malformed request. An event the app
cannot be handed is answered here with a JSON 400 (`app.entrypoints.gateway_event`); anything
that still escapes Mangum is a JSON 500, logged once, as the app answers its own bugs.
"""

import contextvars
import logging
import uuid
from typing import Any

from fastapi import FastAPI
from mangum import Mangum

from app.api.answers import error_body
from app.api.concurrency import inline_blocking_calls
from app.api.request_id import REQUEST_ID_HEADER
from app.entrypoints.gateway_event import MalformedEventError, normalize_event, request_id_of
from app.observability.logs import bind

logger = logging.getLogger(__name__)


def answer(status: int, answer_id: str, **members: str) -> dict[str, Any]:
    """A REST proxy response with an error's JSON body and the request's id (`answer_id`)."""
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", REQUEST_ID_HEADER: answer_id},
        "multiValueHeaders": {},
        "body": error_body(**members).decode(),
        "isBase64Encoded": False,
    }


def _answer_unserved(event: object, exc: Exception) -> dict[str, Any]:
    """The answer to an event the app did not answer, logged with the request's id."""
    request_id = request_id_of(event) or str(uuid.uuid4())
    bind(request_id=request_id)
    if isinstance(exc, MalformedEventError):
        logger.warning("Malformed event refused: %s", exc)
        return answer(400, request_id, detail=str(exc))
    logger.error("Unhandled error outside the app", exc_info=exc)
    return answer(500, request_id, detail="Internal server error", request_id=request_id)


class LambdaHandler:
    """`handler(event, context)`: one API Gateway event through `app`, as Mangum runs it."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        # lifespan="off": startup work in a lifespan would run on every invocation.
        self._mangum = Mangum(app, lifespan="off")

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            checked = normalize_event(event)
            # Mangum runs the app in a task created from this context, so the task sees the flag.
            with inline_blocking_calls():
                response: dict[str, Any] = self._mangum(checked, context)
        except Exception as exc:
            # In a context of its own: the id bound for the log ends with this answer.
            return contextvars.copy_context().run(_answer_unserved, event, exc)
        return response
