"""The shapes of the error answers, for the OpenAPI document, where it is served.

The exception handlers (app.api.errors) write these bodies themselves, and the operations' error
answers name their shape (`app.api.documented.error_answer`). So the models exist only for the
document: `create_app` imports this module only when it serves the document, and on Lambda no
model or field is built for them, at init or on the first request (about 5 ms of a cold start).
"""

from typing import Any

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.constants import REF_TEMPLATE
from fastapi.openapi.models import Schema
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema


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


class GatewayMessage(BaseModel):
    """An answer in API Gateway's shape: a missing or wrong key or scope (403), a throttle (429)."""

    message: str


ERROR_SHAPES = (ErrorDetail, InternalError, ValidationErrors, GatewayMessage)


def error_shape_schemas() -> dict[str, Any]:
    """The JSON schemas of the error shapes and of the models they use, by name, in the form
    FastAPI gives the document's (its `Schema` model's order of keys)."""
    _, schema = models_json_schema(
        [(shape, "serialization") for shape in ERROR_SHAPES], ref_template=REF_TEMPLATE
    )
    return {
        name: jsonable_encoder(Schema(**definition), by_alias=True, exclude_none=True)
        for name, definition in schema["$defs"].items()
    }


def add_error_shapes(app: FastAPI) -> None:
    """Complete `app`'s OpenAPI document with the error shapes its answers refer to.

    FastAPI's documented way to extend its document: `app.openapi` builds it (and caches it);
    this adds the shapes to its components, in FastAPI's order, by name.
    """
    build = app.openapi
    shapes = error_shape_schemas()

    def openapi() -> dict[str, Any]:
        document = build()
        components = document.setdefault("components", {})
        schemas = components.get("schemas", {})
        if not shapes.keys() <= schemas.keys():
            components["schemas"] = dict(sorted({**schemas, **shapes}.items()))
        return document

    app.openapi = openapi  # type: ignore[method-assign]
