"""A message whose enrollment was never written: retried while a request could still write it,
deleted and counted once none can."""

import json
import logging
import time
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest

from app.domain.processing import ORPHAN_MARGIN_SECONDS, orphan_age_seconds
from app.observability.metrics import Metric
from local.aws_shapes import QUEUE_ARN, REGION, LambdaContext, sqs_message, sqs_record
from local.template import Stack, load_template
from processor.handler import handler
from tests.conftest import clear_cached_providers
from tests.emf import emf_documents, service_metrics

# The template's ApiTimeoutSeconds, which sets the API function's timeout and the processor's copy.
API_TIMEOUT_SECONDS = int(load_template()["Parameters"]["ApiTimeoutSeconds"]["Default"])


@pytest.fixture(autouse=True)
def api_timeout(monkeypatch: pytest.MonkeyPatch, stack: Stack) -> None:
    """The API function's timeout, as the template gives it to the processor."""
    monkeypatch.setenv("API_TIMEOUT_SECONDS", str(API_TIMEOUT_SECONDS))
    clear_cached_providers()


def orphan_event(age_seconds: float, request_id: str) -> dict[str, Any]:
    """One record for an enrollment that does not exist, sent `age_seconds` ago."""
    body = json.dumps({"enrollment_id": str(uuid4())})
    sent_at_ms = int((time.time() - age_seconds) * 1000)
    message = sqs_message(body, request_id=request_id, sent_at_ms=sent_at_ms)
    return {"Records": [sqs_record(message, QUEUE_ARN, REGION)]}


@pytest.fixture
def metrics(capsys: pytest.CaptureFixture[str]) -> Callable[[], dict[Metric, list[float]]]:
    def read() -> dict[Metric, list[float]]:
        return service_metrics(emf_documents(capsys.readouterr().out))

    return read


def test_the_orphan_age_is_the_api_timeout_and_a_margin() -> None:
    assert orphan_age_seconds(API_TIMEOUT_SECONDS) == API_TIMEOUT_SECONDS + ORPHAN_MARGIN_SECONDS


def test_an_old_orphan_is_deleted_counted_and_logged_with_its_request_id(
    caplog: pytest.LogCaptureFixture, metrics: Callable[[], dict[Metric, list[float]]]
) -> None:
    event = orphan_event(orphan_age_seconds(API_TIMEOUT_SECONDS) + 5, request_id="req-orphan-old")

    with caplog.at_level(logging.INFO):
        response = handler(event, LambdaContext())

    # A success: Lambda's event source mapping deletes the message.
    assert response == {"batchItemFailures": []}
    assert metrics() == {Metric.ORPHAN_MESSAGE: [1]}
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.getMessage() == "Orphan message deleted: its enrollment was never written"
    assert warning.request_id == "req-orphan-old"  # type: ignore[attr-defined]
    assert warning.message_id == event["Records"][0]["messageId"]  # type: ignore[attr-defined]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_young_orphan_is_still_retried(
    caplog: pytest.LogCaptureFixture, metrics: Callable[[], dict[Metric, list[float]]]
) -> None:
    # Its request may still be within the API's timeout, about to write the enrollment.
    event = orphan_event(orphan_age_seconds(API_TIMEOUT_SECONDS) - 5, request_id="req-orphan-young")

    with caplog.at_level(logging.INFO):
        response = handler(event, LambdaContext())

    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert metrics() == {Metric.RECORD_FAILED: [1]}
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


def test_a_record_without_a_sent_timestamp_is_never_taken_for_an_orphan(
    metrics: Callable[[], dict[Metric, list[float]]],
) -> None:
    event = orphan_event(orphan_age_seconds(API_TIMEOUT_SECONDS) + 5, request_id="req-no-timestamp")
    del event["Records"][0]["attributes"]["SentTimestamp"]

    response = handler(event, LambdaContext())

    assert len(response["batchItemFailures"]) == 1
    assert metrics() == {Metric.RECORD_FAILED: [1]}
