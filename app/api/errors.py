"""The one place that maps domain errors to HTTP responses."""

import logging

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from app.api.answers import error_response
from app.api.echo import validation_error
from app.api.idempotency import ReplayedRefusalError
from app.api.methods import method_not_allowed
from app.api.request_id import REQUEST_ID_HEADER, resolve_request_id
from app.domain.errors import (
    AgeNotAllowedError,
    DependencyUnavailableError,
    IdempotencyKeyInvalidError,
    IdempotencyKeyReusedError,
    InvalidCursorError,
    MissingScopeError,
    NotFoundError,
    RefusalError,
    RequestInProgressError,
    TooManyAgeGroupsError,
    UnknownCallerError,
    UnsafeWebhookUrlError,
)

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 1


def request_id(request: Request) -> str:
    """The id `RequestIdMiddleware` gave this request."""
    found = request.scope.get("state", {}).get("request_id")
    return str(found) if found else resolve_request_id(request.scope)


def forbidden_response() -> Response:
    """The answer to a missing or wrong API key: API Gateway's status and body."""
    return error_response(status.HTTP_403_FORBIDDEN, message="Forbidden")


async def _forbidden(request: Request, exc: Exception) -> Response:
    return forbidden_response()


async def _missing_scope(request: Request, exc: Exception) -> Response:
    return error_response(status.HTTP_403_FORBIDDEN, message=str(exc))


# Domain errors that refuse a request for what it asks: its answer, and what a retry gets.
REFUSALS: dict[type[RefusalError], int] = {
    NotFoundError: status.HTTP_404_NOT_FOUND,
    AgeNotAllowedError: status.HTTP_400_BAD_REQUEST,
    TooManyAgeGroupsError: status.HTTP_409_CONFLICT,
    InvalidCursorError: status.HTTP_400_BAD_REQUEST,
}


def _refusal_response(exc: RefusalError) -> Response:
    code = next(code for kind, code in REFUSALS.items() if isinstance(exc, kind))
    return error_response(code, detail=str(exc))


def render_refusal(exc: RefusalError) -> tuple[int, str]:
    """The status and body of the answer to `exc`, byte for byte as the client gets it."""
    response = _refusal_response(exc)
    return response.status_code, bytes(response.body).decode()


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RefusalError)
    return _refusal_response(exc)


async def _replayed_refusal(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ReplayedRefusalError)
    return Response(exc.body, exc.status_code, headers=exc.headers, media_type="application/json")


async def _bad_request(request: Request, exc: Exception) -> Response:
    return error_response(status.HTTP_400_BAD_REQUEST, detail=str(exc))


async def _key_reused(request: Request, exc: Exception) -> Response:
    # In the shape of FastAPI's validation errors, the other 422 these operations answer.
    error = {
        "loc": ["header", "Idempotency-Key"],
        "msg": str(exc),
        "type": "idempotency_key_reused",
    }
    return error_response(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[error])


async def _unsafe_url(request: Request, exc: Exception) -> Response:
    # A URL that is well-formed but where no delivery may go: a 422 naming the rule it breaks.
    assert isinstance(exc, UnsafeWebhookUrlError)
    error = {"loc": ["body", "url"], "msg": exc.rule, "type": "unsafe_webhook_url"}
    return error_response(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[error])


async def _in_progress(request: Request, exc: Exception) -> Response:
    return error_response(
        status.HTTP_409_CONFLICT,
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
        detail=f"{exc}; retry after `Retry-After`",
    )


async def _unavailable(request: Request, exc: Exception) -> Response:
    # The log names the dependency; the client learns no table or queue of ours.
    logger.warning("Dependency unavailable: %s", exc)
    return error_response(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
        detail="A dependency is unavailable, please retry later",
    )


def internal_error_response(request_id: str) -> Response:
    """The answer to a bug or a failing dependency: no detail but the id of its log lines."""
    return error_response(
        status.HTTP_500_INTERNAL_SERVER_ERROR,
        {REQUEST_ID_HEADER: request_id},
        detail="Internal server error",
        request_id=request_id,
    )


async def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return error_response(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[validation_error(error) for error in exc.errors()],
    )


def register_exception_handlers(app: FastAPI) -> None:
    """Install the mapping from domain errors to responses on `app`."""
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(status.HTTP_405_METHOD_NOT_ALLOWED, method_not_allowed)
    app.add_exception_handler(UnknownCallerError, _forbidden)
    app.add_exception_handler(MissingScopeError, _missing_scope)
    app.add_exception_handler(RefusalError, _refused)
    app.add_exception_handler(ReplayedRefusalError, _replayed_refusal)
    app.add_exception_handler(IdempotencyKeyInvalidError, _bad_request)
    app.add_exception_handler(IdempotencyKeyReusedError, _key_reused)
    app.add_exception_handler(RequestInProgressError, _in_progress)
    app.add_exception_handler(UnsafeWebhookUrlError, _unsafe_url)
    app.add_exception_handler(DependencyUnavailableError, _unavailable)
    # Any other exception, a `DependencyError` that no retry fixes (access denied) included, is a
    # bug: `UnhandledErrorMiddleware` answers it, and logs it once.
