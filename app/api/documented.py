"""The error answers of the OpenAPI document: each operation's, and those every operation shares.

Each names its body's shape (`error_answer`); the shapes are models of app.api.openapi, which
only a served document builds.
"""

from typing import Any

from fastapi import status
from fastapi.openapi.constants import REF_TEMPLATE

RETRY_AFTER_DOCS = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds"}}


def error_answer(description: str, shape: str = "ErrorDetail", **fields: Any) -> dict[str, Any]:
    """An error answer for the OpenAPI document, its body's shape by name.

    The shapes are models of app.api.openapi, which only a served document builds: a `model`
    here would have FastAPI build a field for each answer of each operation, at init and again
    on the first request, on Lambda too.
    """
    content = {"application/json": {"schema": {"$ref": REF_TEMPLATE.format(model=shape)}}}
    return {"description": description, **fields, "content": content}


# The answers of an operation that takes an `Idempotency-Key`, beside the common ones.
IDEMPOTENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    status.HTTP_409_CONFLICT: error_answer(
        "The first request with this Idempotency-Key is still in progress",
        headers=RETRY_AFTER_DOCS,
    ),
    status.HTTP_422_UNPROCESSABLE_CONTENT: error_answer(
        "Invalid body, or an Idempotency-Key already used with another body",
        "ValidationErrors",
    ),
}

# Answers any route can give, documented once for the whole app.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    status.HTTP_400_BAD_REQUEST: error_answer(
        "Malformed request: a body that is not UTF-8 text, JSON nested too deep to parse, "
        "a bad Content-Length, or an Idempotency-Key that is not 1 to 255 printable ASCII "
        "characters"
    ),
    status.HTTP_403_FORBIDDEN: error_answer(
        "Missing or wrong API key, a key of no enabled client, or a key without the "
        "operation's scope (`x-scopes`), which `message` names",
        "GatewayMessage",
    ),
    status.HTTP_413_CONTENT_TOO_LARGE: error_answer("Request body over 16 KiB"),
    status.HTTP_429_TOO_MANY_REQUESTS: error_answer(
        "Over the key's usage plan or the stage's throttle: API Gateway's answer",
        "GatewayMessage",
    ),
    status.HTTP_500_INTERNAL_SERVER_ERROR: error_answer("Unexpected error", "InternalError"),
    status.HTTP_503_SERVICE_UNAVAILABLE: error_answer(
        "A dependency is throttling or unavailable; retry after `Retry-After`",
        headers=RETRY_AFTER_DOCS,
    ),
}
