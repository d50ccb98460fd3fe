"""The FastAPI application, and its Lambda entry point."""

from fastapi import Depends, FastAPI
from mangum import Mangum

from app.config import get_settings
from app.exception_handlers import COMMON_RESPONSES, register_exception_handlers
from app.lambda_handler import LambdaHandler
from app.logs import install_log_context
from app.middleware import BodySizeLimitMiddleware, RequestIdMiddleware, StageRootPathMiddleware
from app.routers import age_groups, enrollments
from app.security import require_api_key
from app.snapstart import register as register_snapstart_hooks


def create_app() -> FastAPI:
    """Build the application from the settings; every route requires the API key."""
    docs = get_settings().docs_enabled
    app = FastAPI(
        title="Enrollment service",
        summary="Age groups and asynchronously processed enrollment requests.",
        version="0.1.0",
        # Docs are served by app.docs, from local assets instead of a CDN.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
        dependencies=[Depends(require_api_key)],
        responses=COMMON_RESPONSES,
    )
    app.include_router(age_groups.router)
    app.include_router(enrollments.router)
    register_exception_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware)
    if docs:
        # Imported here: its assets package is in the `local` extra, not in the Lambda artifact.
        from app.docs import add_docs

        add_docs(app)
    app.add_middleware(StageRootPathMiddleware)
    # Added last, so outermost: even a 400 or 413 from the body limit carries the request id.
    app.add_middleware(RequestIdMiddleware)
    return app


install_log_context()

app = create_app()
handler = LambdaHandler(Mangum(app, lifespan="off"))
# On Lambda SnapStart, the request paths are primed before the snapshot; elsewhere nothing is.
register_snapstart_hooks(handler)
