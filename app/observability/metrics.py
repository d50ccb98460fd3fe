"""The service's CloudWatch metrics: their names in one place, and how the API emits them.

Both functions emit in CloudWatch's embedded metric format (EMF): a JSON line on stdout, which
Lambda sends to CloudWatch Logs, which extracts the metrics from it; no API call, no permission.
The processor emits through Powertools Metrics, which it bundles for batch processing. The API
writes the line itself: Powertools would add 5.6 MB to its artifact and its import to the cold
start, for what fits in `emf_document`. The template's alarms and dashboard name these metrics,
and its tests compare them with `Metric`.
"""

import json
import sys
import time
from collections.abc import Mapping
from enum import StrEnum

from app.config import get_settings
from app.observability.logs import current_request_id

NAMESPACE = "EnrollmentService"
# The one dimension: the stack's name, so that two stacks in one account keep their metrics apart.
SERVICE_DIMENSION = "service"


class Metric(StrEnum):
    """The metrics of the namespace, and what each counts or measures."""

    ENROLLMENT_REQUESTED = "EnrollmentRequested"  # accepted: 202
    ENROLLMENT_REJECTED = "EnrollmentRejected"  # the age is in no group: 400
    ENROLLMENT_PROCESSED = "EnrollmentProcessed"  # moved to PROCESSED
    RECORD_FAILED = "RecordFailed"  # reported as a batch item failure, to be retried
    ORPHAN_MESSAGE = "OrphanMessage"  # its enrollment was never written: deleted, not retried
    PROCESSING_LAG = "ProcessingLag"  # from created_at to PROCESSED
    # API Gateway's 429s, from its access log by the template's metric filter, not by code.
    GATEWAY_THROTTLED = "GatewayThrottled"


UNITS: dict[Metric, str] = {
    Metric.ENROLLMENT_REQUESTED: "Count",
    Metric.ENROLLMENT_REJECTED: "Count",
    Metric.ENROLLMENT_PROCESSED: "Count",
    Metric.RECORD_FAILED: "Count",
    Metric.ORPHAN_MESSAGE: "Count",
    Metric.PROCESSING_LAG: "Milliseconds",
    Metric.GATEWAY_THROTTLED: "Count",
}


def emf_document(
    values: Mapping[Metric, float], service: str, properties: Mapping[str, str]
) -> dict[str, object]:
    """One EMF document: the metrics' values under the service dimension, with properties."""
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [[SERVICE_DIMENSION]],
                    "Metrics": [{"Name": name, "Unit": UNITS[name]} for name in values],
                }
            ],
        },
        SERVICE_DIMENSION: service,
        **properties,
        **{str(name): value for name, value in values.items()},
    }


def emit(metric: Metric, value: float = 1) -> None:
    """Print one EMF line for a metric of the request being served, with its request id."""
    request_id = current_request_id()
    properties = {"request_id": request_id} if request_id else {}
    document = emf_document({metric: value}, get_settings().service_name, properties)
    # One write, newline included: `print` writes the newline apart, and the lines of requests
    # served at once in one process (locally, uvicorn's threads) would run together.
    sys.stdout.write(json.dumps(document, separators=(",", ":")) + "\n")
    sys.stdout.flush()
