"""The API key check, for runs where API Gateway is not in front to do it."""

import hmac
from typing import Annotated

from fastapi import Security
from fastapi.security import APIKeyHeader

from app.config import get_settings

API_KEY_HEADER = "x-api-key"

# auto_error=False: the check below answers as API Gateway does, not with FastAPI's own 403.
api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)


class ForbiddenError(Exception):
    """The request has no API key or a wrong one."""


async def require_api_key(provided: Annotated[str | None, Security(api_key_header)]) -> None:
    """Reject the request unless it carries the configured API key (when one is configured)."""
    expected = get_settings().api_key
    if expected is None:
        return
    if provided is None or not hmac.compare_digest(
        provided.encode(), expected.get_secret_value().encode()
    ):
        raise ForbiddenError
