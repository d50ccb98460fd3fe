"""The one way an error's body is written, whoever answers: a route's handler, a middleware, the
Lambda handler, or the local stand-in for API Gateway.

Every body is compact JSON (as Starlette writes it), `{"detail": ...}` for the app's own answers
and `{"message": ...}` in API Gateway's shape.
"""

import json
from collections.abc import Iterable

from starlette.responses import Response
from starlette.types import Send


def error_body(**members: object) -> bytes:
    """An error's JSON body, with these members."""
    return json.dumps(members, ensure_ascii=False, separators=(",", ":")).encode()


def error_response(
    status: int, headers: dict[str, str] | None = None, **members: object
) -> Response:
    """An error's answer, for a handler to return."""
    return Response(error_body(**members), status, headers, media_type="application/json")


async def send_error(
    send: Send, status: int, headers: Iterable[tuple[bytes, bytes]] = (), **members: object
) -> None:
    """Answer an error through ASGI's `send`, for a middleware that answers before the app."""
    body = error_body(**members)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
