"""The `Idempotency-Key` header: a retried `POST` gets the first answer, not a second resource.

Follows the IETF draft "The Idempotency-Key HTTP Header Field": the client picks a key per
operation and sends it again with every retry. A key belongs to the caller's API key, and is
remembered with the request's fingerprint and answer for 24 hours (`app.repositories.idempotency`).
"""

import hashlib
import json
import re
from collections.abc import Callable
from contextlib import suppress
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel

from app.config import Settings, get_settings
from app.dependencies import get_idempotency_repository
from app.errors import IdempotencyKeyInvalidError
from app.exception_handlers import ReplayedRefusalError, refusal
from app.repositories.idempotency import Answer, Claim, IdempotencyRepository

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Printable ASCII; a field value cannot begin or end with a space, which HTTP strips.
KEY_PATTERN = r"^[!-~]([ -~]{0,253}[!-~])?$"
_KEY_RE = re.compile(KEY_PATTERN)

Resource = TypeVar("Resource", bound=BaseModel)


class Idempotency:
    """What a `POST` route needs to execute its request at most once per key."""

    def __init__(
        self,
        store: IdempotencyRepository | None = None,
        request_key: str = "",
        fingerprint: str = "",
        response: Response | None = None,
    ) -> None:
        self._store = store
        self._request_key = request_key
        self._fingerprint = fingerprint
        self._response = response

    def run(self, model: type[Resource], create: Callable[[Claim | None], Resource]) -> Resource:
        """The resource `create` makes, or the one the first request with this key made.

        `create` must complete the claim it is given in the write that stores the resource. A
        refusal it raises is remembered as the answer; any other failure gives up the claim, so
        that a retry executes afresh.
        """
        if self._store is None:
            return create(None)
        outcome = self._store.claim(self._request_key, self._fingerprint)
        if isinstance(outcome, Answer):
            return self._replay(model, outcome)
        try:
            return create(outcome)
        except Exception as exc:
            answer = refusal(exc)
            if answer is None:
                self._store.release(outcome)
            else:
                status, body = answer
                self._store.remember(outcome, status, json.dumps(body))
            raise

    def _replay(self, model: type[Resource], answer: Answer) -> Resource:
        if answer.status is not None:
            raise ReplayedRefusalError(answer.status, answer.body, {REPLAYED_HEADER: "true"})
        assert self._response is not None
        self._response.headers[REPLAYED_HEADER] = "true"
        return model.model_validate_json(answer.body)


WITHOUT_KEY = Idempotency()


async def get_idempotency(
    request: Request,
    response: Response,
    key: Annotated[
        str | None,
        Header(
            alias=IDEMPOTENCY_KEY_HEADER,
            description=(
                "A key of your choice, 1 to 255 printable ASCII characters, unique to this "
                "request: send it again with every retry of the request. For 24 hours, a retry "
                "with the same key and body gets the first answer (with `Idempotent-Replayed: "
                "true`) and creates nothing; the same key with another body is a `422`, and "
                "while the first request is still in progress a `409`."
            ),
            json_schema_extra={"pattern": KEY_PATTERN},
        ),
    ] = None,
) -> Idempotency:
    """The request's idempotency, from its `Idempotency-Key` header (none without one)."""
    if key is None:
        return WITHOUT_KEY
    if not _KEY_RE.fullmatch(key):
        raise IdempotencyKeyInvalidError
    route = request.scope.get("route")
    operation = f"{request.method} {getattr(route, 'path', request.url.path)}"
    settings = get_settings()
    request_key = _digest(_caller(request, settings), operation, key)
    store = await get_idempotency_repository()
    return Idempotency(store, request_key, _fingerprint(await request.body()), response)


IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]


def _caller(request: Request, settings: Settings) -> str:
    """Whose key this is: the API key API Gateway identified, or the one the app checks.

    Only a digest of it is stored (`_digest`), never the configured key's value.
    """
    event = request.scope.get("aws.event") or {}
    identity = event.get("requestContext", {}).get("identity") or {}
    if key_id := identity.get("apiKeyId"):
        return f"api-key-id {key_id}"
    if settings.api_key is not None:
        return f"api-key {settings.api_key.get_secret_value()}"
    return "anonymous"


def _fingerprint(body: bytes) -> str:
    """The request body's digest: equal JSON documents, however spaced or ordered, are equal."""
    with suppress(ValueError):
        body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(body).hexdigest()


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
