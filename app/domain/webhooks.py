"""Webhooks, as the Standard Webhooks specification has them: the secret, the signature and the
retry schedule. Where a delivery may go: `app.domain.destinations`.

- A secret is 32 random bytes, base64, behind `whsec_`; a delivery is signed with HMAC-SHA256
  over `id.timestamp.body`, as `v1,<base64>`; during a rotation with both secrets, the
  signatures space-separated.
- An event's id (`webhook-id`) follows from the enrollment: every attempt and every duplicate of
  one event carries the same, so that a receiver can drop the repeats.
- A delivery that fails is tried again after the next delay of the schedule, with jitter, or
  after the receiver's `Retry-After` if that is later; past the schedule it is exhausted.
"""

import base64
import hashlib
import hmac
import random
import secrets
from collections.abc import Iterable, Sequence
from typing import NamedTuple
from uuid import UUID

SECRET_PREFIX = "whsec_"  # noqa: S105 (the spec's prefix of every secret, not one)
SECRET_BYTES = 32
# The spec's example schedule, after the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h;
# the last attempt comes 31.6 h after the first.
RETRY_DELAYS: tuple[float, ...] = (5, 300, 1_800, 7_200, 18_000, 36_000, 50_400)
# Each delay is drawn within this share of itself, so that retries of many deliveries that failed
# together do not arrive together.
JITTER = 0.2
# An endpoint whose every delivery has failed this long is disabled.
FAILING_FOR_SECONDS = 3 * 24 * 60 * 60
# After a rotation, the previous secret signs too, this long.
ROTATION_OVERLAP_SECONDS = 24 * 60 * 60
# A receiver has this long to answer (the spec: 15 to 30 s).
TIMEOUT_SECONDS = 15.0


def new_secret() -> str:
    """A new signing secret, as the receiver is given it."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `v1` signature of one delivery under one secret."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signatures(secrets_: Iterable[str], webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: a signature under each secret, space-separated."""
    return " ".join(signature(secret, webhook_id, timestamp, body) for secret in secrets_)


def event_id(enrollment_id: UUID, event_type: str) -> str:
    """The `webhook-id` of an enrollment's event: the same for every attempt and duplicate."""
    kind = event_type.replace(".", "_")
    return f"msg_{enrollment_id.hex}_{kind}"


def delivery_id(at: float) -> str:
    """A new attempt's id: its time in milliseconds, then random, so that ids sort by time."""
    return f"dlv_{int(at * 1000):012x}{secrets.token_hex(4)}"


def next_delay(
    attempt: int,
    retry_after: float | None = None,
    delays: Sequence[float] = RETRY_DELAYS,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds until the attempt after `attempt` (the first is 1), or None when none is left.

    The schedule's delay, within `JITTER` of itself; no sooner than the receiver's `Retry-After`.
    """
    if attempt > len(delays):
        return None
    delay = delays[attempt - 1]
    jittered = delay * (1 + (rng or random).uniform(-JITTER, JITTER))
    return max(jittered, retry_after or 0.0)


class Answer(NamedTuple):
    """What came of one POST: the status, when to try again if the receiver says, or why there
    was no answer."""

    status: int | None = None
    retry_after: float | None = None
    error: str | None = None
