"""CloudWatch's embedded metric format (EMF), read as CloudWatch Logs reads it, with its rules.

The rules are the specification's: a root `_aws` member with an integer millisecond `Timestamp`
and `CloudWatchMetrics` directives; each directive a `Namespace`, `Dimensions` (sets of names of
root members whose values are strings, at most 30 per set) and `Metrics` (at most 100, each a
`Name` and a CloudWatch `Unit`); each metric's value a root member, a number or up to 100 numbers.
"""

import json
from collections.abc import Iterable
from typing import Any

from app.observability.metrics import NAMESPACE, SERVICE_DIMENSION, Metric

# The units CloudWatch accepts (the specification's list).
CLOUDWATCH_UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
    "Terabits/Second", "Count/Second", "None",
}  # fmt: skip


def validate(document: dict[str, Any]) -> None:
    """Fail unless `document` is a valid EMF document."""
    aws = document["_aws"]
    assert isinstance(aws["Timestamp"], int), aws
    assert aws["Timestamp"] > 1_000_000_000_000, "milliseconds since the epoch"
    assert isinstance(aws["CloudWatchMetrics"], list)
    assert aws["CloudWatchMetrics"]
    for directive in aws["CloudWatchMetrics"]:
        assert isinstance(directive["Namespace"], str)
        assert 1 <= len(directive["Namespace"]) <= 1024
        for dimension_set in directive["Dimensions"]:
            assert len(dimension_set) <= 30
            for dimension in dimension_set:
                assert isinstance(document[dimension], str), dimension
        assert 1 <= len(directive["Metrics"]) <= 100
        for definition in directive["Metrics"]:
            assert set(definition) <= {"Name", "Unit", "StorageResolution"}, definition
            assert definition.get("Unit", "None") in CLOUDWATCH_UNITS, definition
            value = document[definition["Name"]]
            values = value if isinstance(value, list) else [value]
            assert 1 <= len(values) <= 100
            for number in values:
                assert not isinstance(number, bool), value
                assert isinstance(number, int | float), value


def emf_documents(output: str) -> list[dict[str, Any]]:
    """The EMF documents among the lines of `output`, each validated."""
    documents = []
    for line in output.splitlines():
        if line.startswith('{"_aws"'):
            document: dict[str, Any] = json.loads(line)
            validate(document)
            documents.append(document)
    return documents


def service_metrics(
    documents: Iterable[dict[str, Any]], service: str = "enrollment-service"
) -> dict[Metric, list[float]]:
    """Every value of the service's metrics in `documents`, checking namespace, unit, dimension."""
    values: dict[Metric, list[float]] = {}
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == NAMESPACE
            assert directive["Dimensions"] == [[SERVICE_DIMENSION]]
            assert document[SERVICE_DIMENSION] == service
            for definition in directive["Metrics"]:
                metric = Metric.named(definition["Name"])
                assert definition["Unit"] == metric.unit
                value = document[metric]
                values.setdefault(metric, []).extend(value if isinstance(value, list) else [value])
    return values
