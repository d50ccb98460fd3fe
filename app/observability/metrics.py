"""The service's CloudWatch metrics: each named once, with its unit, and one emitter for both
functions.

Both functions emit in CloudWatch's embedded metric format (EMF): a JSON line on stdout, which
Lambda sends to CloudWatch Logs, which extracts the metrics from it; no API call, no permission.
`MetricsEmitter` writes the line: the API one per metric as it happens, the processor one per
invocation, with every value of its batch. Powertools Metrics would add 5.6 MB to the API's
artifact and 13 ms to its import (make bench). The template's alarms and dashboard name these
metrics, and its tests compare them with `Metric`.
"""

import json
import sys
import time
from collections.abc import Mapping
from enum import StrEnum
from typing import Self

from app.observability.logs import current_request_id

NAMESPACE = "EnrollmentService"
# The one dimension: the stack's name, so that two stacks in one account keep their metrics apart.
SERVICE_DIMENSION = "service"


class Metric(StrEnum):
    """The metrics of the namespace, what each counts or measures, and its CloudWatch unit."""

    unit: str

    def __new__(cls, name: str, unit: str) -> Self:
        member = str.__new__(cls, name)
        member._value_ = name
        member.unit = unit
        return member

    @classmethod
    def named(cls, name: str) -> "Metric":
        """The metric called `name`; `ValueError` if there is none."""
        for metric in cls:
            if metric.value == name:
                return metric
        raise ValueError(f"No metric is called {name!r}")

    ENROLLMENT_REQUESTED = "EnrollmentRequested", "Count"  # accepted: 202
    ENROLLMENT_REJECTED = "EnrollmentRejected", "Count"  # the age is in no group: 400
    ENROLLMENT_PROCESSED = "EnrollmentProcessed", "Count"  # moved to PROCESSED
    RECORD_FAILED = "RecordFailed", "Count"  # reported as a batch item failure, to be retried
    ORPHAN_MESSAGE = "OrphanMessage", "Count"  # its enrollment was never written: deleted
    PROCESSING_LAG = "ProcessingLag", "Milliseconds"  # from created_at to PROCESSED
    WEBHOOK_DELIVERED = "WebhookDelivered", "Count"  # an endpoint answered 2xx
    WEBHOOK_ATTEMPT_FAILED = "WebhookAttemptFailed", "Count"  # any other answer, or none
    WEBHOOK_EXHAUSTED = "WebhookExhausted", "Count"  # failed, and the retry schedule is over
    # API Gateway's 429s, from its access log by the template's metric filter, not by code.
    GATEWAY_THROTTLED = "GatewayThrottled", "Count"


def emf_document(
    values: Mapping[Metric, float | list[float]], service: str, properties: Mapping[str, str]
) -> dict[str, object]:
    """One EMF document: the metrics' values under the service dimension, with properties."""
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [[SERVICE_DIMENSION]],
                    "Metrics": [{"Name": name, "Unit": name.unit} for name in values],
                }
            ],
        },
        SERVICE_DIMENSION: service,
        **properties,
        **{str(name): value for name, value in values.items()},
    }


class MetricsEmitter:
    """Values of the service's metrics, printed as one EMF line when flushed."""

    def __init__(self, service: str) -> None:
        self._service = service
        self._values: dict[Metric, list[float]] = {}

    def add(self, metric: Metric, value: float = 1) -> None:
        """Add a value, to be printed with the others by `flush`."""
        self._values.setdefault(metric, []).append(value)

    def flush(self, **properties: str) -> None:
        """Print the values added since the last flush, with `properties`, as one line."""
        if not self._values:
            return
        values = {
            metric: found[0] if len(found) == 1 else found for metric, found in self._values.items()
        }
        self._values = {}
        self._print(values, properties)

    def emit(self, metric: Metric, value: float = 1) -> None:
        """Print one metric's value now, as a line of its own with the request's id.

        It holds nothing between calls: requests served at once in one process may share the
        emitter.
        """
        request_id = current_request_id()
        self._print({metric: value}, {"request_id": request_id} if request_id else {})

    def _print(
        self, values: Mapping[Metric, float | list[float]], properties: Mapping[str, str]
    ) -> None:
        document = emf_document(values, self._service, properties)
        # One write, newline included: `print` writes the newline apart, and the lines of
        # requests served at once in one process (locally, uvicorn's threads) would run together.
        sys.stdout.write(json.dumps(document, separators=(",", ":")) + "\n")
        sys.stdout.flush()
