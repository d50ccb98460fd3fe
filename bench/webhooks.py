"""Webhook latency: from an enrollment's `PROCESSED` to its delivery, through the local stack.

Each enrollment's time is the receiver's clock when the delivery arrived, less the event's
`processed_at` (the enrollment's `updated_at`, written by the processor): the whole path of the
emulator's stream, the notifier's stream mapping (`local.stream`), the delivery queue and its
poller (`local.poller`), and the POST to a receiver on the loopback address, which the local stack
lets through (`WEBHOOK_ALLOW_LOOPBACK_HTTP`). Both clocks are this machine's.

The floor is the last step alone: one delivery signed with the app's own code
(`app.domain.notification.signed_headers`) and POSTed with the notifier's own HTTP adapter
(`app.adapters.webhook_http.post`) to the same receiver, from the start of the signing to the
delivery's arrival.
"""

import json
import tempfile
import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import NamedTuple

import httpx

from app.adapters import webhook_http
from app.domain.destinations import check_url
from app.domain.models.webhooks import WebhookEndpoint
from app.domain.notification import signed_headers
from app.domain.webhooks import TIMEOUT_SECONDS, new_secret
from bench.common import AwsStack, Figure, median
from bench.progress import step
from local.activity import percentile
from local.config import LocalSettings
from local.emulator import free_port
from local.stream import POLL_INTERVAL_SECONDS
from local.supervisor import LocalService
from ops.receiver import Receiver, listening

ENROLLMENTS = 100
RATE_PER_SECOND = 10.0
FLOOR_RUNS = 100
# Short: the figure starts at PROCESSED, so the processing delay only spaces the run out.
DELAY_SECONDS = 0.5
# The goal: a receiver hears of an enrollment within a second of its PROCESSED, at p99.
P99_GOAL_SECONDS = 1.0


def receiver() -> AbstractContextManager[Receiver]:
    """A receiver on 127.0.0.1 answering 204, each delivery with its time of arrival."""
    return listening(path="/webhooks/enrollments")


class Latency(NamedTuple):
    """Percentiles of seconds from PROCESSED to the delivery's arrival, and how many arrived."""

    p50: float
    p99: float
    samples: int


def delivery_seconds(arrivals: Sequence[tuple[float, bytes]]) -> dict[str, float]:
    """Seconds from each enrollment's `processed_at` to its first delivery's arrival, by id.

    A delivery that comes again (at least once) is not a second sample: the receiver already knew.
    """
    first: dict[str, float] = {}
    for at, body in sorted(arrivals):
        data = json.loads(body)["data"]
        processed = datetime.fromisoformat(data["processed_at"]).timestamp()
        first.setdefault(data["enrollment_id"], at - processed)
    return first


def latency(seconds: Mapping[str, float] | Sequence[float]) -> Latency:
    """p50 and p99 (nearest rank, as CloudWatch reads them) of the samples."""
    values = list(seconds.values()) if isinstance(seconds, Mapping) else list(seconds)
    if not values:
        raise ValueError("no delivery arrived: no latency to report")
    return Latency(percentile(values, 0.5), percentile(values, 0.99), len(values))


def _floor_samples(target: Receiver, runs: int) -> list[float]:
    """Seconds of one signed POST each, from the start of its signing to its arrival."""
    destination = check_url(target.url, webhook_http.SystemResolver(), allow_loopback_http=True)
    now = datetime.now(UTC)
    endpoint = WebhookEndpoint(
        url=target.url, enabled=True, created_at=now, updated_at=now, secret=new_secret()
    )
    samples = []
    for index in range(runs):
        body = json.dumps({"data": {"enrollment_id": f"floor-{index}"}}).encode()
        seen = len(target.deliveries)
        start = time.time()
        headers = signed_headers(endpoint, f"msg_floor_{index}", body, start)
        answer = webhook_http.post(destination, body, headers, TIMEOUT_SECONDS)
        assert answer.status == 204, answer
        [arrived] = target.wait_for(seen + 1, 5)[seen:]
        samples.append(arrived.received_at - start)
    return samples


class Run(NamedTuple):
    """How long the sending took, and the median seconds from PROCESSED to an attempt's start."""

    sent: float
    to_attempt: float


def _through_the_stack(target: Receiver) -> tuple[dict[str, float], Run]:
    """Each enrollment's seconds from PROCESSED to its delivery; the run's other figures."""
    settings = LocalSettings(
        port=free_port(), processing_delay_seconds=DELAY_SECONDS, api_key="bench", docs_enabled=True
    )
    log = tempfile.NamedTemporaryFile("w+", suffix=".log")  # noqa: SIM115 (closed below)
    service = LocalService(settings, output=log)
    service.start()
    try:
        with httpx.Client(
            base_url=service.api_url, headers={"x-api-key": "bench"}, timeout=30
        ) as client:
            group = client.post("/age-groups", json={"min_age": 0, "max_age": 150})
            assert group.status_code == 201, group.text
            hook = client.put("/webhook", json={"url": target.url})
            assert hook.status_code == 200, hook.text
            body = {"name": "Maria da Silva", "age": 22, "cpf": "52998224725"}
            ids = set()
            with step(f"Webhooks: {ENROLLMENTS} enrollments to a receiver", ENROLLMENTS) as advance:
                start = time.perf_counter()
                for index in range(ENROLLMENTS):
                    time.sleep(max(0.0, start + index / RATE_PER_SECOND - time.perf_counter()))
                    response = client.post("/enrollments", json=body)
                    assert response.status_code == 202, response.text
                    ids.add(response.json()["enrollment_id"])
                    advance(1)
                sent = time.perf_counter() - start
            arrivals = [
                (delivery.received_at, delivery.body)
                for delivery in target.wait_for(ENROLLMENTS, 30 * DELAY_SECONDS + 60)
            ]
            listed = client.get("/webhook/deliveries", params={"limit": ENROLLMENTS})
            assert listed.status_code == 200, listed.text
    finally:
        service.stop()
        log.close()
    seconds = delivery_seconds(arrivals)
    missing = ids - seconds.keys()
    assert not missing, f"{len(missing)} enrollments were not delivered in time"
    # When each attempt started, by the notifier's clock: what came before it is the stream
    # and the queue; what came after, the attempt's reads and its POST.
    attempted = {
        item["enrollment_id"]: datetime.fromisoformat(item["attempted_at"]).timestamp()
        for item in listed.json()["items"]
    }
    processed = {
        json.loads(body)["data"]["enrollment_id"]: datetime.fromisoformat(
            json.loads(body)["data"]["processed_at"]
        ).timestamp()
        for _, body in arrivals
    }
    before = [attempted[i] - processed[i] for i in attempted if i in processed]
    return seconds, Run(sent, median(before) if before else float("nan"))


def measure(aws: AwsStack) -> tuple[list[Figure], list[str]]:
    """PROCESSED to a receiver's delivery, p50 and p99, beside one signed POST's."""
    with receiver() as target:
        seconds, run = _through_the_stack(target)
        with step("Webhooks: signed POSTs on loopback", 1) as advance:
            floor = latency(_floor_samples(target, FLOOR_RUNS))
            advance(1)
    found = latency(seconds)
    figures = [
        Figure(
            "Webhook: PROCESSED → delivery received, p50",
            found.p50 * 1000,
            floor.p50 * 1000,
            "ms",
            None,
        ),
        Figure(
            "Webhook: PROCESSED → delivery received, p99",
            found.p99 * 1000,
            floor.p99 * 1000,
            "ms",
            None,
            limit=P99_GOAL_SECONDS * 1000,
        ),
    ]
    notes = [
        f"webhooks: {found.samples} enrollments at {RATE_PER_SECOND:g}/s ({run.sent:.1f} s) "
        "through the local stack to a receiver on 127.0.0.1, from each event's processed_at (the "
        "enrollment's updated_at) to the delivery's arrival; max "
        f"{max(seconds.values()) * 1000:.0f} ms; the attempt started a median "
        f"{run.to_attempt * 1000:.0f} ms after PROCESSED (the stream, then the delivery queue; "
        "the stream mapping polls every "
        f"{POLL_INTERVAL_SECONDS * 1000:.0f} ms when it finds nothing); floor = one delivery "
        "signed and POSTed by the "
        f"notifier's own code to the same receiver, p50 {floor.p50 * 1000:.2f} ms and p99 "
        f"{floor.p99 * 1000:.2f} ms over {floor.samples}",
    ]
    return figures, notes


def main() -> int:
    """The latency alone (`python -m bench.webhooks`): its rows and note."""
    figures, notes = measure_alone()
    print("\n".join(figure.row() for figure in figures))
    print("\n".join(notes))
    return 0


def measure_alone() -> tuple[list[Figure], list[str]]:
    """`measure`, with an emulator of its own."""
    from bench.common import emulated_stack

    with emulated_stack() as aws:
        return measure(aws)


if __name__ == "__main__":
    raise SystemExit(main())
