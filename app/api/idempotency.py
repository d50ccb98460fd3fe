"""The `Idempotency-Key` header: a retried `POST` gets the first answer, not a second resource.

Follows the IETF draft "The Idempotency-Key HTTP Header Field": the client picks a key per
operation and sends it again with every retry. A key belongs to the caller's API key, and is
remembered with the request's fingerprint and answer for 24 hours (`app.adapters.idempotency`);
an answer that carries personal data (an enrollment) is remembered as its resource's id alone,
and a replay reads the resource again as it is then (`Recall`).
See docs/adr/0003-idempotency-keys.md.
"""

import hashlib
import json
import logging
from collections.abc import Callable
from contextlib import suppress
from typing import Generic, TypeVar

from fastapi import Request, Response
from pydantic import BaseModel

from app.adapters.claims import Answer
from app.adapters.idempotency import IdempotencyRepository
from app.adapters.unit_of_work import DynamoDBUnitOfWork
from app.domain.clients import Caller
from app.domain.errors import IdempotencyKeyInvalidError, RefusalError

logger = logging.getLogger(__name__)

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Printable ASCII; a field value cannot begin or end with a space, which HTTP strips. The
# pattern documents the header; `check_key` tests the same without a regex to compile at init.
KEY_PATTERN = r"^[!-~]([ -~]{0,253}[!-~])?$"
KEY_MAX_LENGTH = 255
KEY_DESCRIPTION = (
    "A key of your choice, 1 to 255 printable ASCII characters, unique to this request: send it "
    "again with every retry of the request. For 24 hours, a retry with the same key and body gets "
    "the first answer (with `Idempotent-Replayed: true`) and creates nothing; the same key with "
    "another body is a `422`, and while the first request is still in progress a `409`."
)

Resource = TypeVar("Resource", bound=BaseModel)
# How a refusal is answered: its status and body, exactly as the client first got them.
RenderRefusal = Callable[[RefusalError], tuple[int, str]]


class Recall(Generic[Resource]):
    """How a resource's answer is remembered by reference: by its id, the resource read again
    when the answer is replayed, as it is then (an enrollment erased since: its tombstone)."""

    def __init__(
        self, identify: Callable[[Resource], str], load: Callable[[str], Resource]
    ) -> None:
        self.identify = identify
        self.load = load


class ReplayedRefusalError(Exception):
    """The remembered refusal of the first request with an `Idempotency-Key`, to answer again."""

    def __init__(self, status_code: int, body: str) -> None:
        super().__init__(status_code)
        self.status_code = status_code
        self.body = body
        self.headers = {REPLAYED_HEADER: "true"}


class Idempotency:
    """What a `POST` route needs to execute its request at most once per key."""

    def __init__(
        self,
        unit: DynamoDBUnitOfWork,
        store: IdempotencyRepository | None = None,
        request_key: str = "",
        fingerprint: str = "",
        response: Response | None = None,
        render_refusal: RenderRefusal | None = None,
    ) -> None:
        self._unit = unit
        self._store = store
        self._request_key = request_key
        self._fingerprint = fingerprint
        self._response = response
        self._render_refusal = render_refusal

    def run(
        self,
        model: type[Resource],
        create: Callable[[DynamoDBUnitOfWork], Resource],
        recall: Recall[Resource] | None = None,
    ) -> Resource:
        """The resource `create` stages, committed; or the one the first request with this key made.

        With a key, the claim's completion is committed with the resource: its answer's body, or
        with `recall` only its id. A refusal `create` raises is remembered as the answer; any
        other failure gives up the claim, so that a retry executes afresh. Either way the
        original error is what propagates.
        """
        if self._store is None:
            resource = create(self._unit)
            self._unit.commit()
            return resource
        outcome = self._store.claim(self._request_key, self._fingerprint)
        if isinstance(outcome, Answer):
            return self._replay(model, outcome, recall)
        try:
            resource = create(self._unit)
            if recall is None:
                self._store.complete(outcome, resource.model_dump_json(), self._unit)
            else:
                self._store.complete_by_reference(outcome, recall.identify(resource), self._unit)
            self._unit.commit()
        except RefusalError as exc:
            assert self._render_refusal is not None
            try:
                self._store.remember(outcome, *self._render_refusal(exc))
            except Exception:
                # The claim's lease runs out and a retry executes afresh: the refusal stands.
                logger.warning("The refusal could not be remembered", exc_info=True)
            raise
        except Exception:
            try:
                self._store.release(outcome)
            except Exception:
                # The claim's lease runs out, then a retry executes afresh.
                logger.warning("The idempotency claim could not be given up", exc_info=True)
            raise
        return resource

    def _replay(
        self, model: type[Resource], answer: Answer, recall: Recall[Resource] | None
    ) -> Resource:
        if answer.status is not None:
            raise ReplayedRefusalError(answer.status, answer.body)
        assert self._response is not None
        if recall is None:
            resource = model.model_validate_json(answer.body)
        else:
            # A record completed with the whole body (before the resource was remembered by
            # reference) is read again by the id in it all the same.
            resource_id = answer.resource_id or recall.identify(
                model.model_validate_json(answer.body)
            )
            resource = recall.load(resource_id)
        self._response.headers[REPLAYED_HEADER] = "true"
        return resource


def check_key(key: str) -> None:
    """Raise `IdempotencyKeyInvalidError` unless `key` is 1 to 255 printable ASCII characters."""
    # Among ASCII characters, the printable ones are ` ` to `~`.
    printable = key.isascii() and key.isprintable()
    if not (printable and 0 < len(key) <= KEY_MAX_LENGTH and key[0] != " " != key[-1]):
        raise IdempotencyKeyInvalidError


def request_key(request: Request, caller: Caller, key: str) -> str:
    """The record's key: a digest of the caller, the operation and the client's key."""
    route = request.scope.get("route")
    operation = f"{request.method} {getattr(route, 'path', request.url.path)}"
    return _digest(f"api-key-id {caller.api_key_id}", operation, key)


def sent_keys(request: Request) -> list[str]:
    """Every `Idempotency-Key` the request carries.

    Behind API Gateway, the event's own list: Mangum joins a repeated header into one value
    (`k1, k2`), which could be a key of its own.
    """
    event = request.scope.get("aws.event") or {}
    values = (event.get("multiValueHeaders") or {}).get(IDEMPOTENCY_KEY_HEADER.lower())
    if isinstance(values, list):
        return [str(value) for value in values]
    return request.headers.getlist(IDEMPOTENCY_KEY_HEADER)


def fingerprint(body: bytes) -> str:
    """The request body's digest: equal JSON documents, however spaced or ordered, are equal.

    A body that is not JSON is taken as it is, however parsing it fails: not JSON, not text
    (`ValueError`), or nested too deep for the parser (`RecursionError`).
    """
    with suppress(ValueError, RecursionError):
        body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(body).hexdigest()


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
