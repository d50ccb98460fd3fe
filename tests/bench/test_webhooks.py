"""The webhook latency row: seconds from PROCESSED to a delivery, and their percentiles."""

import json

import pytest

from bench.common import Figure
from bench.webhooks import delivery_seconds, latency


def arrival(enrollment_id: str, processed_at: str, at: float) -> tuple[float, bytes]:
    """A delivery as the receiver keeps it: when it arrived (epoch s), and its body."""
    body = {"data": {"enrollment_id": enrollment_id, "processed_at": processed_at}}
    return at, json.dumps(body).encode()


# 2026-12-06T17:10:00Z in epoch seconds.
PROCESSED = 1796577000.0


def test_each_enrollment_counts_once_from_its_processed_at_to_its_first_arrival() -> None:
    arrivals = [
        arrival("b", "2026-12-06T17:10:00.500000Z", PROCESSED + 0.75),
        arrival("a", "2026-12-06T17:10:00+00:00", PROCESSED + 0.25),
        # At least once: a second delivery of `a` is not a second sample.
        arrival("a", "2026-12-06T17:10:00+00:00", PROCESSED + 9.0),
    ]

    seconds = delivery_seconds(arrivals)

    assert seconds == {"a": pytest.approx(0.25), "b": pytest.approx(0.25)}


def test_p50_and_p99_are_nearest_rank_over_the_samples() -> None:
    # 1 ms to 100 ms, shuffled: the 50th and the 99th smallest.
    samples = [((n * 37) % 100 + 1) / 1000 for n in range(100)]

    found = latency(samples)

    assert (found.p50, found.p99, found.samples) == (0.050, 0.099, 100)
    # Of 10 samples, p99 is the largest; p50 the 5th.
    assert latency({str(n): n / 10 for n in range(1, 11)})[:2] == (0.5, 1.0)


def test_no_delivery_is_no_latency_rather_than_a_zero() -> None:
    with pytest.raises(ValueError, match="no delivery"):
        latency([])


def test_a_figure_with_an_absolute_limit_is_judged_on_the_measurement_not_the_ratio() -> None:
    within = Figure("p99", 960.0, 2.4, "ms", None, limit=1000.0)
    beyond = Figure("p99", 1430.0, 13.0, "ms", None, limit=1000.0)

    assert within.row().endswith("| 400.00x | <= 1,000 ms met |")
    assert beyond.row().endswith("<= 1,000 ms NOT met |")
    assert Figure("ratio", 1.1, 1.0, "s", 1.2).row().endswith("| 1.10x | <= 1.2x met |")
