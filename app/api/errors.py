"""The one place that maps domain errors to HTTP responses."""

import logging
import math
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.constants import REF_TEMPLATE
from fastapi.responses import JSONResponse, Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.idempotency import ReplayedRefusalError
from app.api.middleware import REQUEST_ID_HEADER, resolve_request_id
from app.api.text import is_unicode, is_utf8
from app.domain.errors import (
    AgeNotAllowedError,
    DependencyUnavailableError,
    IdempotencyKeyInvalidError,
    IdempotencyKeyReusedError,
    MissingScopeError,
    NotFoundError,
    RefusalError,
    RequestInProgressError,
    TooManyAgeGroupsError,
    UnknownCallerError,
)

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 1
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


RETRY_AFTER_DOCS = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds"}}


def error_answer(description: str, shape: str = "ErrorDetail", **fields: Any) -> dict[str, Any]:
    """An error answer for the OpenAPI document, its body's shape by name.

    The shapes are models of app.api.openapi, which only a served document builds: a `model`
    here would have FastAPI build a field for each answer of each operation, at init and again
    on the first request, on Lambda too.
    """
    content = {"application/json": {"schema": {"$ref": REF_TEMPLATE.format(model=shape)}}}
    return {"description": description, **fields, "content": content}


# The answers of an operation that takes an `Idempotency-Key`, beside the common ones.
IDEMPOTENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    status.HTTP_409_CONFLICT: error_answer(
        "The first request with this Idempotency-Key is still in progress",
        headers=RETRY_AFTER_DOCS,
    ),
    status.HTTP_422_UNPROCESSABLE_CONTENT: error_answer(
        "Invalid body, or an Idempotency-Key already used with another body",
        "ValidationErrors",
    ),
}

# Answers any route can give, documented once for the whole app.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    status.HTTP_400_BAD_REQUEST: error_answer(
        "Malformed request: a body that is not UTF-8 text, JSON nested too deep to parse, "
        "a bad Content-Length, or an Idempotency-Key that is not 1 to 255 printable ASCII "
        "characters"
    ),
    status.HTTP_403_FORBIDDEN: error_answer(
        "Missing or wrong API key, a key of no enabled client, or a key without the "
        "operation's scope (`x-scopes`), which `message` names",
        "GatewayMessage",
    ),
    status.HTTP_413_CONTENT_TOO_LARGE: error_answer("Request body over 16 KiB"),
    status.HTTP_429_TOO_MANY_REQUESTS: error_answer(
        "Over the key's usage plan or the stage's throttle: API Gateway's answer",
        "GatewayMessage",
    ),
    status.HTTP_500_INTERNAL_SERVER_ERROR: error_answer("Unexpected error", "InternalError"),
    status.HTTP_503_SERVICE_UNAVAILABLE: error_answer(
        "A dependency is throttling or unavailable; retry after `Retry-After`",
        headers=RETRY_AFTER_DOCS,
    ),
}


def request_id(request: Request) -> str:
    """The id `RequestIdMiddleware` gave this request."""
    found = request.scope.get("state", {}).get("request_id")
    return str(found) if found else resolve_request_id(request.scope)


def forbidden_response() -> JSONResponse:
    """The answer to a missing or wrong API key: API Gateway's status and body."""
    return JSONResponse({"message": "Forbidden"}, status_code=status.HTTP_403_FORBIDDEN)


async def _forbidden(request: Request, exc: Exception) -> JSONResponse:
    return forbidden_response()


async def _missing_scope(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"message": str(exc)}, status_code=status.HTTP_403_FORBIDDEN)


# Domain errors that refuse a request for what it asks: its answer, and what a retry gets.
REFUSALS: dict[type[RefusalError], int] = {
    NotFoundError: status.HTTP_404_NOT_FOUND,
    AgeNotAllowedError: status.HTTP_400_BAD_REQUEST,
    TooManyAgeGroupsError: status.HTTP_409_CONFLICT,
}


def _refusal_response(exc: RefusalError) -> JSONResponse:
    code = next(code for kind, code in REFUSALS.items() if isinstance(exc, kind))
    return JSONResponse({"detail": str(exc)}, status_code=code)


def render_refusal(exc: RefusalError) -> tuple[int, str]:
    """The status and body of the answer to `exc`, byte for byte as the client gets it."""
    response = _refusal_response(exc)
    return response.status_code, bytes(response.body).decode()


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RefusalError)
    return _refusal_response(exc)


async def _replayed_refusal(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ReplayedRefusalError)
    return Response(exc.body, exc.status_code, headers=exc.headers, media_type="application/json")


async def _bad_request(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_400_BAD_REQUEST)


async def _key_reused(request: Request, exc: Exception) -> JSONResponse:
    # In the shape of FastAPI's validation errors, the other 422 these operations answer.
    error = {
        "loc": ["header", "Idempotency-Key"],
        "msg": str(exc),
        "type": "idempotency_key_reused",
    }
    return JSONResponse({"detail": [error]}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _in_progress(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": f"{exc}; retry after `Retry-After`"},
        status_code=status.HTTP_409_CONFLICT,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    # The log names the dependency; the client learns no table or queue of ours.
    logger.warning("Dependency unavailable: %s", exc)
    return JSONResponse(
        {"detail": "A dependency is unavailable, please retry later"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def internal_error_response(request_id: str) -> JSONResponse:
    """The answer to a bug or a failing dependency: no detail but the id of its log lines."""
    return JSONResponse(
        {"detail": "Internal server error", "request_id": request_id},
        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        headers={REQUEST_ID_HEADER: request_id},
    )


# How deep an echoed input may nest: deeper than any body these operations take, and far from
# the recursion limit that rendering a deeper one would reach.
MAX_ECHO_DEPTH = 32


def _text(value: str) -> str:
    """`value` with each lone surrogate replaced by U+FFFD."""
    if is_unicode(value):
        return value
    return "".join("\ufffd" if "\ud800" <= char <= "\udfff" else char for char in value)


def _echoable(value: object) -> bool:
    """Whether JSON carries `value` as it is: finite numbers, text that is Unicode, not too deep.

    A request's JSON may hold what its answer's cannot (`NaN`, `-1e400`, `"\\ud800"`), and a
    body FastAPI does not parse as JSON reaches the model as bytes.
    """
    pending: list[tuple[object, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_ECHO_DEPTH:
            return False
        if isinstance(item, str):
            if not is_unicode(item):
                return False
        elif isinstance(item, bytes):
            if not is_utf8(item):
                return False
        elif isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif isinstance(item, list | tuple):
            pending.extend((member, depth + 1) for member in item)
        elif isinstance(item, dict):
            pending.extend((member, depth + 1) for pair in item.items() for member in pair)
        elif item is not None and not isinstance(item, int):
            return False
    return True


def _validation_error(error: dict[str, Any]) -> dict[str, Any]:
    """One of FastAPI's validation errors, in its shape, with only what JSON can carry.

    An input is echoed only if it is `_echoable`; the location and message always are, their
    text made Unicode (a field's name is the client's).
    """
    item: dict[str, Any] = {
        "type": error["type"],
        "loc": [_text(part) if isinstance(part, str) else part for part in error["loc"]],
        "msg": _text(error["msg"]),
    }
    if "input" in error and _echoable(error["input"]):
        item["input"] = jsonable_encoder(error["input"])
    # A validator's error is an exception, which FastAPI renders as `{}`: its message says more.
    context = {
        name: str(value) if isinstance(value, Exception) else value
        for name, value in error.get("ctx", {}).items()
    }
    if context and _echoable(context):
        item["ctx"] = jsonable_encoder(context)
    return item


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(
        {"detail": [_validation_error(error) for error in exc.errors()]},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


async def _method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
    # The router names only the methods of the first route that matched the path: ask every
    # route, as routing would, which methods it takes at this path.
    routed = {
        method
        for method in HTTP_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    }
    # `HeadMiddleware` answers HEAD wherever GET is taken.
    if "GET" in routed:
        routed.add("HEAD")
    allowed = [method for method in HTTP_METHODS if method in routed]
    return JSONResponse(
        {"detail": "Method Not Allowed"},
        status_code=status.HTTP_405_METHOD_NOT_ALLOWED,
        headers={"Allow": ", ".join(allowed)},
    )


def register_exception_handlers(app: FastAPI) -> None:
    """Install the mapping from domain errors to responses on `app`."""
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(status.HTTP_405_METHOD_NOT_ALLOWED, _method_not_allowed)
    app.add_exception_handler(UnknownCallerError, _forbidden)
    app.add_exception_handler(MissingScopeError, _missing_scope)
    app.add_exception_handler(RefusalError, _refused)
    app.add_exception_handler(ReplayedRefusalError, _replayed_refusal)
    app.add_exception_handler(IdempotencyKeyInvalidError, _bad_request)
    app.add_exception_handler(IdempotencyKeyReusedError, _key_reused)
    app.add_exception_handler(RequestInProgressError, _in_progress)
    app.add_exception_handler(DependencyUnavailableError, _unavailable)
    # Any other exception, a `DependencyError` that no retry fixes (access denied) included, is a
    # bug: `UnhandledErrorMiddleware` answers it, and logs it once.


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
