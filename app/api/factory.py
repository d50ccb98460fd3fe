"""The FastAPI application, built from the settings."""

from fastapi import Depends, FastAPI

from app.api.errors import COMMON_RESPONSES, UnhandledErrorMiddleware, register_exception_handlers
from app.api.middleware import BodySizeLimitMiddleware, RequestIdMiddleware, StageRootPathMiddleware
from app.api.routers import age_groups, enrollments
from app.api.security import get_caller
from app.config import get_settings


def create_app() -> FastAPI:
    """Build the application from the settings; every route requires a known caller."""
    docs = get_settings().docs_enabled
    app = FastAPI(
        title="Enrollment service",
        summary="Age groups and asynchronously processed enrollment requests.",
        version="0.1.0",
        # Docs are served by app.api.docs, from local assets instead of a CDN.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
        dependencies=[Depends(get_caller)],
        responses=COMMON_RESPONSES,
    )
    app.include_router(age_groups.router)
    app.include_router(enrollments.router)
    register_exception_handlers(app)
    # Middleware added later wraps what was added before.
    app.add_middleware(BodySizeLimitMiddleware)
    if docs:
        # Imported here: its assets package is in the `local` extra, not in the Lambda artifact.
        from app.api.docs import add_docs

        add_docs(app)
    app.add_middleware(StageRootPathMiddleware)
    app.add_middleware(UnhandledErrorMiddleware)
    # Outermost: every answer, a 400 or 413 from the body limit and a bug's 500 included,
    # carries the request id, and so does every log line.
    app.add_middleware(RequestIdMiddleware)
    return app
