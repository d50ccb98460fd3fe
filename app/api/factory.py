"""The FastAPI application, built from the settings."""

from fastapi import Depends, FastAPI, Security

from app.api.documented import COMMON_RESPONSES
from app.api.errors import register_exception_handlers
from app.api.middleware import HeadMiddleware, RequestBodyMiddleware, StageRootPathMiddleware
from app.api.operations import DeclaredSample, check_declared, declared_samples
from app.api.request_id import RequestIdMiddleware
from app.api.routers import age_groups, enrollments, webhook_events, webhooks
from app.api.security import (
    ApiKeyMiddleware,
    api_key_header,
    authorize,
)
from app.api.unhandled import UnhandledErrorMiddleware
from app.config import get_api_settings

OPENAPI_URL = "/openapi.json"
# The app's routers, one per resource: every operation of the API is a route of one of them.
ROUTERS = (age_groups.router, enrollments.router, webhooks.router)


def samples() -> list[DeclaredSample]:
    """Every declared sample of every operation of the API (app/api/operations.py)."""
    return declared_samples([route for router in ROUTERS for route in router.routes])


def create_app() -> FastAPI:
    """Build the application from the settings; every route requires a caller with its scope."""
    docs = get_api_settings().docs_enabled
    app = FastAPI(
        title="Enrollment service",
        summary="Age groups and asynchronously processed enrollment requests.",
        version="0.1.0",
        # Docs are served by app.api.docs, from local assets instead of a CDN.
        docs_url=None,
        redoc_url=None,
        openapi_url=OPENAPI_URL if docs else None,
        # The key's scheme, documented on every operation (the docs page's Authorize), and the
        # caller's right to the operation. Where the app checks the key itself, ApiKeyMiddleware
        # has already refused a request without it.
        dependencies=[Security(api_key_header), Depends(authorize)],
        # The answers any operation can give, for the OpenAPI document.
        responses=COMMON_RESPONSES,
        # No redirect from `/age-groups/` to `/age-groups`: Starlette builds its URL from the
        # `Host` header, and behind API Gateway it would lack the stage.
        redirect_slashes=False,
    )
    for router in ROUTERS:
        check_declared(router)
        app.include_router(router)
    app.webhooks.include_router(webhook_events.events)
    register_exception_handlers(app)
    # Middleware added later wraps what was added before.
    app.add_middleware(HeadMiddleware)
    app.add_middleware(RequestBodyMiddleware)
    open_paths: list[str] = []
    open_prefixes: tuple[str, ...] = ()
    if docs:
        # Imported here: the docs' assets package is in the `local` extra, not in the Lambda
        # artifact, and the error shapes are models that only the served document needs.
        from app.api.docs import ASSETS_URL, DOCS_URL, add_docs
        from app.api.openapi import add_error_shapes

        add_error_shapes(app)
        add_docs(app)
        open_paths = [DOCS_URL, OPENAPI_URL]
        open_prefixes = (f"{ASSETS_URL}/",)
    app.add_middleware(StageRootPathMiddleware)
    # Before the path, the method and the body are looked at, as API Gateway checks it; on the
    # paths the app routes, without the stage.
    app.add_middleware(ApiKeyMiddleware, open_paths=open_paths, open_prefixes=open_prefixes)
    app.add_middleware(UnhandledErrorMiddleware)
    # Outermost: every answer, a 400 or 413 from the body limit and a bug's 500 included,
    # carries the request id, and so does every log line.
    app.add_middleware(RequestIdMiddleware)
    return app
