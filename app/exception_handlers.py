"""The one place that maps domain errors to HTTP responses."""

import logging
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.routing import Match

from app.errors import (
    AgeNotAllowedError,
    DependencyError,
    DependencyUnavailableError,
    NotFoundError,
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


class Forbidden(BaseModel):
    """API Gateway's answer to a missing or wrong API key."""

    message: str


# Answers any route can give, documented once for the whole app.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    status.HTTP_400_BAD_REQUEST: {
        "model": ErrorDetail,
        "description": "Malformed request: a body that is not text, or a bad Content-Length",
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


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_404_NOT_FOUND)


async def _age_not_allowed(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_400_BAD_REQUEST)


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
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(AgeNotAllowedError, _age_not_allowed)
    app.add_exception_handler(DependencyUnavailableError, _unavailable)
    app.add_exception_handler(DependencyError, _internal)
    app.add_exception_handler(Exception, _internal)
