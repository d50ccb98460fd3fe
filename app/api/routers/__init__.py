"""One router per resource, and what their routes share."""

from typing import Any

from fastapi import Request

# The documentation of the `Location` header of a `201` or `202`.
LOCATION_HEADER: dict[str, Any] = {
    "Location": {"schema": {"type": "string"}, "description": "The URL of the resource"}
}


def location(request: Request, route_name: str, **params: object) -> str:
    """The absolute path of a route's URL, with the stage prefix behind API Gateway."""
    return f"{request.scope.get('root_path', '')}{request.app.url_path_for(route_name, **params)}"
