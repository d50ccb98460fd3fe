"""One router per resource, and what their routes share."""

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

# The documentation of the `Location` header of a `201` or `202`.
LOCATION_HEADER: dict[str, Any] = {
    "Location": {"schema": {"type": "string"}, "description": "The URL of the resource"}
}


def location(request: Request, route_name: str, **params: object) -> str:
    """The absolute path of a route's URL, with the stage prefix behind API Gateway."""
    return f"{request.scope.get('root_path', '')}{request.app.url_path_for(route_name, **params)}"


def check_given_once(request: Request, parameters: type[BaseModel]) -> None:
    """Refuse a query parameter of `parameters` given more than once, naming it (a 422): which
    value the client meant is unknown, as for a repeated `Idempotency-Key`."""
    errors = [
        {
            "type": "repeated_parameter",
            "loc": ("query", name),
            "msg": f"{name} must be given once",
            "input": request.query_params.getlist(name),
        }
        for name in parameters.model_fields
        if len(request.query_params.getlist(name)) > 1
    ]
    if errors:
        raise RequestValidationError(errors)
