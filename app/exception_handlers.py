"""The one place that maps domain errors to HTTP responses."""

import logging
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.routing import Match

from app.errors import (
    AgeNotAllowedError,
    DependencyError,
    DependencyUnavailableError,
    IdempotencyKeyInvalidError,
    IdempotencyKeyReusedError,
    NotFoundError,
    RequestInProgressError,
)
from app.middleware import REQUEST_ID_HEADER, resolve_request_id
from app.security import ForbiddenError

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 1
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class ErrorDetail(BaseModel):
    """What was wrong, in words."""

    detail: str


class InternalError(ErrorDetail):
    """A generic error; the request id finds its log lines."""

    request_id: str


class ValidationErrorItem(BaseModel):
    """One thing wrong with a request, where it is, and its kind."""

    loc: list[str | int]
    msg: str
    type: str


class ValidationErrors(BaseModel):
    """What was wrong with a request, in FastAPI's shape for validation errors."""

    detail: list[ValidationErrorItem]


class Forbidden(BaseModel):
    """API Gateway's answer to a missing or wrong API key."""

    message: str


# The answers of an operation that takes an `Idempotency-Key`, beside the common ones.
IDEMPOTENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    status.HTTP_409_CONFLICT: {
        "model": ErrorDetail,
        "description": "The first request with this Idempotency-Key is still in progress",
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds"}},
    },
    status.HTTP_422_UNPROCESSABLE_CONTENT: {
        "model": ValidationErrors,
        "description": "Invalid body, or an Idempotency-Key already used with another body",
    },
}

# Answers any route can give, documented once for the whole app.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    status.HTTP_400_BAD_REQUEST: {
        "model": ErrorDetail,
        "description": (
            "Malformed request: a body that is not text, a bad Content-Length, or an "
            "Idempotency-Key that is not 1 to 255 printable ASCII characters"
        ),
    },
    status.HTTP_403_FORBIDDEN: {"model": Forbidden, "description": "Missing or wrong API key"},
    status.HTTP_413_CONTENT_TOO_LARGE: {
        "model": ErrorDetail,
        "description": "Request body over 16 KiB",
    },
    status.HTTP_500_INTERNAL_SERVER_ERROR: {
        "model": InternalError,
        "description": "Unexpected error",
    },
    status.HTTP_503_SERVICE_UNAVAILABLE: {
        "model": ErrorDetail,
        "description": "A dependency is throttling or unavailable; retry after `Retry-After`",
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds"}},
    },
}


def request_id(request: Request) -> str:
    """The id `RequestIdMiddleware` gave this request."""
    found = request.scope.get("state", {}).get("request_id")
    return str(found) if found else resolve_request_id(request.scope)


async def _forbidden(request: Request, exc: Exception) -> JSONResponse:
    # The same status and body as API Gateway's answer to a missing or wrong key.
    return JSONResponse({"message": "Forbidden"}, status_code=status.HTTP_403_FORBIDDEN)


# Domain errors that refuse a request for what it asks: its answer, and what a retry gets.
REFUSALS: dict[type[Exception], int] = {
    NotFoundError: status.HTTP_404_NOT_FOUND,
    AgeNotAllowedError: status.HTTP_400_BAD_REQUEST,
}


def refusal(exc: Exception) -> tuple[int, dict[str, str]] | None:
    """The status and body that refuse a request for `exc`, or None if it is no refusal."""
    code = next((code for kind, code in REFUSALS.items() if isinstance(exc, kind)), None)
    return None if code is None else (code, {"detail": str(exc)})


class ReplayedRefusalError(Exception):
    """The remembered refusal of the first request with an `Idempotency-Key`, to answer again."""

    def __init__(self, status_code: int, body: str, headers: dict[str, str]) -> None:
        super().__init__(status_code)
        self.status_code = status_code
        self.body = body
        self.headers = headers


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    answer = refusal(exc)
    assert answer is not None
    code, body = answer
    return JSONResponse(body, status_code=code)


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
    logger.warning("Dependency unavailable: %s", exc)
    return JSONResponse(
        {"detail": f"{exc}, please retry later"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _internal(request: Request, exc: Exception) -> JSONResponse:
    rid = request_id(request)
    logger.error("Unhandled error", exc_info=exc)
    # Answered by Starlette's error middleware, outside the one that sets the header.
    return JSONResponse(
        {"detail": "Internal server error", "request_id": rid},
        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        headers={REQUEST_ID_HEADER: rid},
    )


async def _method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
    # The router names only the methods of the first route that matched the path: ask every
    # route, as routing would, which methods it takes at this path.
    allowed = [
        method
        for method in HTTP_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]
    return JSONResponse(
        {"detail": "Method Not Allowed"},
        status_code=status.HTTP_405_METHOD_NOT_ALLOWED,
        headers={"Allow": ", ".join(allowed)},
    )


def register_exception_handlers(app: FastAPI) -> None:
    """Install the mapping from domain errors to responses on `app`."""
    app.add_exception_handler(status.HTTP_405_METHOD_NOT_ALLOWED, _method_not_allowed)
    app.add_exception_handler(ForbiddenError, _forbidden)
    for kind in REFUSALS:
        app.add_exception_handler(kind, _refused)
    app.add_exception_handler(ReplayedRefusalError, _replayed_refusal)
    app.add_exception_handler(IdempotencyKeyInvalidError, _bad_request)
    app.add_exception_handler(IdempotencyKeyReusedError, _key_reused)
    app.add_exception_handler(RequestInProgressError, _in_progress)
    app.add_exception_handler(DependencyUnavailableError, _unavailable)
    app.add_exception_handler(DependencyError, _internal)
    app.add_exception_handler(Exception, _internal)
