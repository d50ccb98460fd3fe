"""An erased enrollment stays erased, whatever order its message and its erasure come in; and a
processed one expires `RETENTION_DAYS` later."""

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient

from app.config import get_processor_settings
from app.domain import processing
from app.domain.personal_data import SECONDS_PER_DAY
from local.aws_shapes import LambdaContext, sqs_event
from processor.handler import handler
from tests.conftest import VALID_CPF

NAME = "Ana Souza"


@pytest.fixture
def pending(
    client: TestClient, age_group: Callable[[int, int], dict[str, Any]]
) -> Callable[[], str]:
    """A PENDING enrollment requested through the API: its id."""
    age_group(0, 150)

    def create() -> str:
        response = client.post("/enrollments", json={"name": NAME, "age": 30, "cpf": VALID_CPF})
        assert response.status_code == 202
        enrollment_id: str = response.json()["enrollment_id"]
        return enrollment_id

    return create


def delivered(enrollment_id: str) -> dict[str, Any]:
    """The message of an enrollment, delivered as Lambda delivers it; the handler's response."""
    event = sqs_event(json.dumps({"enrollment_id": enrollment_id}))
    response: dict[str, Any] = handler(event, LambdaContext())  # type: ignore[assignment]
    return response


def stored(enrollment_id: str) -> dict[str, Any]:
    item: dict[str, Any] = boto3.client("dynamodb").get_item(
        TableName=get_processor_settings().enrollments_table,
        Key={"enrollment_id": {"S": enrollment_id}},
    )["Item"]
    return item


def assert_still_erased(enrollment_id: str, tombstone: dict[str, Any], client: TestClient) -> None:
    item = stored(enrollment_id)
    assert item["status"]["S"] == "ERASED"
    assert not {"name", "age", "cpf", "cpf_hash"} & set(item)
    assert client.get(f"/enrollments/{enrollment_id}").json() == tombstone


def test_erased_before_its_message_it_is_left_erased_without_the_work(
    client: TestClient,
    pending: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    enrollment_id = pending()
    tombstone = client.delete(f"/enrollments/{enrollment_id}").json()
    worked: list[float] = []

    async def work(delay: float) -> None:
        worked.append(delay)

    monkeypatch.setattr(processing, "simulate_work", work)
    caplog.set_level(logging.INFO)

    assert delivered(enrollment_id) == {"batchItemFailures": []}

    assert worked == []
    assert_still_erased(enrollment_id, tombstone, client)
    assert "Enrollment was erased: left as it is" in caplog.messages


def test_erased_during_its_work_it_is_not_marked_processed(
    client: TestClient,
    pending: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    enrollment_id = pending()
    erased: list[dict[str, Any]] = []

    async def erased_meanwhile(delay: float) -> None:
        # The enrollment was read PENDING; it is erased before the work ends.
        erased.append(client.delete(f"/enrollments/{enrollment_id}").json())

    monkeypatch.setattr(processing, "simulate_work", erased_meanwhile)
    capsys.readouterr()

    assert delivered(enrollment_id) == {"batchItemFailures": []}

    [tombstone] = erased
    assert_still_erased(enrollment_id, tombstone, client)
    # Not counted as processed: no metric line names it.
    assert "EnrollmentProcessed" not in capsys.readouterr().out


def test_erased_after_it_was_processed_a_redelivery_leaves_it_erased(
    client: TestClient, pending: Callable[[], str]
) -> None:
    enrollment_id = pending()
    assert delivered(enrollment_id) == {"batchItemFailures": []}
    assert stored(enrollment_id)["status"]["S"] == "PROCESSED"
    tombstone = client.delete(f"/enrollments/{enrollment_id}").json()

    assert delivered(enrollment_id) == {"batchItemFailures": []}

    assert_still_erased(enrollment_id, tombstone, client)


def test_with_a_retention_a_processed_enrollment_expires_that_many_days_later(
    client: TestClient, pending: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETENTION_DAYS", "7")
    get_processor_settings.cache_clear()
    enrollment_id = pending()
    assert "expires_at" not in stored(enrollment_id)
    before = time.time()

    assert delivered(enrollment_id) == {"batchItemFailures": []}

    expires_at = int(stored(enrollment_id)["expires_at"]["N"])
    assert before + 7 * SECONDS_PER_DAY - 1 <= expires_at <= time.time() + 7 * SECONDS_PER_DAY


def test_without_a_retention_a_processed_enrollment_is_kept(
    client: TestClient, pending: Callable[[], str]
) -> None:
    assert get_processor_settings().retention_days == 0
    enrollment_id = pending()

    assert delivered(enrollment_id) == {"batchItemFailures": []}

    item = stored(enrollment_id)
    assert item["status"]["S"] == "PROCESSED"
    assert "expires_at" not in item
