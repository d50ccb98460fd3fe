"""Swagger UI at `/docs`, from assets on this machine: the page makes no request to a CDN.

The assets come from the fastapi-offline package, which is in the `local` extra and not in the
Lambda artifact: docs are off on AWS, and `create_app` imports this module only when they are on.
The routes are plain Starlette routes, as FastAPI's own docs routes are, and the API key check
lets them through (`create_app`): the page loads without a key and sends the one the reader
enters under Authorize.
"""

import importlib.util

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

DOCS_URL = "/docs"
ASSETS_URL = "/docs/assets"
# The package's own folder of assets: swagger-ui-bundle.js, swagger-ui.css, favicon.png.
ASSETS_PACKAGE = ("fastapi_offline", "static")
SWAGGER_UI_PARAMETERS = {
    # Swagger UI would otherwise ask validator.swagger.io about the schema.
    "validatorUrl": None,
    # The key survives a reload of the page.
    "persistAuthorization": True,
}


def add_docs(app: FastAPI) -> None:
    """Serve Swagger UI for `app`'s schema at `/docs`, and its assets under `/docs/assets`."""
    openapi_url = app.openapi_url
    if openapi_url is None:
        raise ValueError("Swagger UI needs the app's OpenAPI schema")
    if importlib.util.find_spec(ASSETS_PACKAGE[0]) is None:
        raise RuntimeError(
            "DOCS_ENABLED needs the fastapi-offline package (the `local` extra), "
            "which the Lambda artifacts leave out"
        )

    async def swagger_ui(request: Request) -> HTMLResponse:
        # Behind an API Gateway stage, root_path is the stage (StageRootPathMiddleware).
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )

    app.mount(ASSETS_URL, StaticFiles(packages=[ASSETS_PACKAGE]), name="docs-assets")
    app.add_route(DOCS_URL, swagger_ui, methods=["GET"], include_in_schema=False)
