"""The `405 Method Not Allowed`, with every method the path takes in `Allow`."""

from fastapi import Request, status
from starlette.responses import Response
from starlette.routing import Match

from app.api.answers import error_response

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    # The router names only the methods of the first route that matched the path: ask every
    # route, as routing would, which methods it takes at this path.
    routed = {
        method
        for method in HTTP_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    }
    # `HeadMiddleware` answers HEAD wherever GET is taken.
    if "GET" in routed:
        routed.add("HEAD")
    allowed = [method for method in HTTP_METHODS if method in routed]
    return error_response(
        status.HTTP_405_METHOD_NOT_ALLOWED,
        {"Allow": ", ".join(allowed)},
        detail="Method Not Allowed",
    )
