"""What `make run` tells of the service's activity, from the metrics its functions emit.

The API and the processor print their metrics on stdout in CloudWatch's embedded metric format, as
on Lambda. The supervisor reads those lines instead of showing them, sums them up here, and while
anything happens logs one line every few seconds: what the dashboard would show.
"""

import json
import math
import threading
from collections import Counter
from collections.abc import Sequence

from app.observability.metrics import NAMESPACE, Metric


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of `values` (not empty): as CloudWatch reads p50 and p99."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def emf_values(line: str) -> dict[str, list[float]] | None:
    """The values of the service's metrics in one line of EMF documents; None if it is not one.

    A line may hold several documents: Powertools prints a document and its newline in two
    writes, so the documents of invocations running at once in one process can run together.
    """
    line = line.strip()
    if not line.startswith("{"):
        return None
    decoder = json.JSONDecoder()
    values: dict[str, list[float]] = {}
    position = 0
    while position < len(line):
        try:
            document, position = decoder.raw_decode(line, position)
            directives = document["_aws"]["CloudWatchMetrics"]
        except (ValueError, KeyError, TypeError):
            return None
        for directive in directives:
            if directive.get("Namespace") != NAMESPACE:
                continue
            for definition in directive["Metrics"]:
                value = document[definition["Name"]]
                values.setdefault(definition["Name"], []).extend(
                    value if isinstance(value, list) else [value]
                )
    return values


class Activity:
    """The metrics seen so far; `summary()` tells what changed since it was last asked."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: Counter[str] = Counter()
        self._lags: list[float] = []
        self._reported: Counter[str] = Counter()

    def observe(self, line: str) -> bool:
        """Count the metrics of an EMF line; False (nothing counted) for any other line."""
        values = emf_values(line)
        if values is None:
            return False
        with self._lock:
            for name, samples in values.items():
                if name == Metric.PROCESSING_LAG:
                    self._lags.extend(samples)
                else:
                    self._totals[name] += int(sum(samples))
        return True

    def summary(self, pending: int | None) -> str | None:
        """One line of totals, pending enrollments and the latest lags; None while idle.

        `pending` is the enrollment queue's depth (waiting and in flight), as the dashboard
        shows it; the lags are those of the enrollments processed since the previous line.
        """
        with self._lock:
            totals = Counter(self._totals)
            lags, self._lags = self._lags, []
        if totals == self._reported and not pending:
            return None
        self._reported = totals
        if lags:
            p50, p99 = (percentile(lags, fraction) / 1000 for fraction in (0.5, 0.99))
            lag = f"lag p50 {p50:.1f} s, p99 {p99:.1f} s ({len(lags)} since the last line)"
        else:
            lag = "none processed since the last line"
        return (
            f"Enrollments: {totals[Metric.ENROLLMENT_REQUESTED]} accepted, "
            f"{totals[Metric.ENROLLMENT_REJECTED]} rejected, "
            f"{totals[Metric.ENROLLMENT_PROCESSED]} processed, "
            f"{'?' if pending is None else pending} pending on the queue, "
            f"{totals[Metric.RECORD_FAILED]} record failures; {lag}"
        )
