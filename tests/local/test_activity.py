"""What `make run` shows of the service: its summary of the metrics, and its log lines."""

import json
import logging

from app.observability.metrics import Metric, emf_document
from local.activity import Activity, percentile
from local.process import LOG_DATE_FORMAT, LOG_FORMAT, ContextFormatter


def emf_line(values: dict[Metric, float]) -> str:
    return json.dumps(emf_document(values, "enrollment-service", {}))


def powertools_line(values: dict[Metric, list[float]]) -> str:
    """An EMF line as Powertools prints it: each value a list."""
    document = json.loads(emf_line(dict.fromkeys(values, 0.0)))
    document.update({str(name): samples for name, samples in values.items()})
    return json.dumps(document)


def test_the_summary_counts_the_metrics_and_takes_the_lags_since_the_last_line() -> None:
    activity = Activity()
    for _ in range(3):
        assert activity.observe(emf_line({Metric.ENROLLMENT_REQUESTED: 1}))
    assert activity.observe(emf_line({Metric.ENROLLMENT_REJECTED: 1}))
    assert activity.observe(
        powertools_line(
            {
                Metric.ENROLLMENT_PROCESSED: [1, 1],
                Metric.PROCESSING_LAG: [4000.0, 6000.0],
                Metric.RECORD_FAILED: [1],
            }
        )
    )

    line = activity.summary(pending=1)

    assert line == (
        "Enrollments: 3 accepted, 1 rejected, 2 processed, 1 pending on the queue, "
        "1 record failures; lag p50 4.0 s, p99 6.0 s (2 since the last line)"
    )


def test_documents_printed_at_once_by_concurrent_invocations_are_all_counted() -> None:
    activity = Activity()
    requested = emf_line({Metric.ENROLLMENT_REQUESTED: 1})

    assert activity.observe(requested + requested + powertools_line({Metric.RECORD_FAILED: [1]}))

    line = activity.summary(pending=0)
    assert line is not None
    assert line.startswith("Enrollments: 2 accepted, 0 rejected, 0 processed")
    assert "1 record failures" in line
    assert not activity.observe(requested + "{not json")


def test_the_summary_is_quiet_once_nothing_happens() -> None:
    activity = Activity()
    assert activity.summary(pending=0) is None
    activity.observe(emf_line({Metric.ENROLLMENT_REQUESTED: 1}))

    assert activity.summary(pending=1) is not None
    # Still pending: worth a line, though no metric came.
    assert activity.summary(pending=1) is not None
    assert activity.summary(pending=0) is None


def test_other_lines_are_not_metrics() -> None:
    activity = Activity()

    for line in ["hello", "{not json", '{"a": 1}', '{"_aws": {}}', "[]"]:
        assert not activity.observe(line)
    assert activity.summary(pending=0) is None


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]

    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile([7.0], 0.99) == 7


def record(**ids: str) -> logging.LogRecord:
    line = logging.LogRecord(
        "app.domain.services", logging.INFO, __file__, 1, "Enrollment accepted", (), None
    )
    line.__dict__.update(ids, component="api")
    return line


def test_local_lines_end_with_the_ids_they_carry() -> None:
    formatter = ContextFormatter(LOG_FORMAT, LOG_DATE_FORMAT)

    text = formatter.format(record(enrollment_id="e-1", request_id="r-1"))

    assert text.endswith(
        "app.domain.services: Enrollment accepted [request_id=r-1 enrollment_id=e-1]"
    )
    assert formatter.format(record()).endswith("app.domain.services: Enrollment accepted")
