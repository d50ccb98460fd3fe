"""Erasure: `DELETE /enrollments/{id}` leaves a tombstone, only for the caller's own enrollment,
and afterwards no table of the stack holds the person's name or CPF, a replay included."""

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient

from app.adapters.tables import TABLES
from app.config import get_api_settings
from app.domain.clients import DEFAULT_SCOPES, Scope
from app.domain.personal_data import SECONDS_PER_DAY
from app.entrypoints.events import rest_event
from app.observability.audit import AUDIT_LOGGER
from local.aws_shapes import LambdaContext
from local.template import Stack
from processor.handler import handler as processor
from tests.conftest import VALID_CPF, add_client, queued_event

pytestmark = pytest.mark.usefixtures("open_group")

NAME = "Maria da Silva"
ENROLLMENT = {"name": NAME, "age": 22, "cpf": VALID_CPF}
FORMATTED_CPF = f"{VALID_CPF[:3]}.{VALID_CPF[3:6]}.{VALID_CPF[6:9]}-{VALID_CPF[9:]}"
TOMBSTONE_FIELDS = {"enrollment_id", "status", "created_at", "updated_at", "erased_at"}


def item_of(enrollment_id: str) -> dict[str, Any]:
    item: dict[str, Any] = boto3.client("dynamodb").get_item(
        TableName=get_api_settings().enrollments_table,
        Key={"enrollment_id": {"S": enrollment_id}},
    )["Item"]
    return item


def every_item(stack: Stack) -> str:
    """Every item of every table of the stack, as one text."""
    dynamodb = boto3.client("dynamodb")
    return json.dumps(
        [dynamodb.scan(TableName=stack.refs[spec.logical_id])["Items"] for spec in TABLES]
    )


def test_erasure_leaves_a_tombstone_without_the_personal_data(client: TestClient) -> None:
    created = client.post("/enrollments", json=ENROLLMENT).json()
    path = f"/enrollments/{created['enrollment_id']}"

    erased = client.delete(path)

    assert erased.status_code == 200
    tombstone = erased.json()
    assert set(tombstone) == TOMBSTONE_FIELDS
    assert tombstone["status"] == "ERASED"
    assert tombstone["created_at"] == created["created_at"]
    assert tombstone["erased_at"] == tombstone["updated_at"] > created["updated_at"]
    # Removed, not blanked: the item has no such attribute at all.
    item = item_of(created["enrollment_id"])
    assert not {"name", "age", "cpf", "cpf_hash"} & set(item)
    assert item["owner"]["S"] == "in-process"
    # Read, or erased again: the same tombstone.
    read = client.get(path)
    assert (read.status_code, read.json()) == (200, tombstone)
    assert "Retry-After" not in read.headers
    again = client.delete(path)
    assert (again.status_code, again.json()) == (200, tombstone)


def test_an_unknown_enrollment_is_404(client: TestClient) -> None:
    response = client.delete("/enrollments/00000000-0000-4000-8000-000000000099")

    assert response.status_code == 404


def test_the_enrollment_index_holds_the_cpfs_keyed_hash_never_the_cpf(
    client: TestClient, stack: Stack
) -> None:
    created = client.post("/enrollments", json=ENROLLMENT).json()

    cpf_hash = item_of(created["enrollment_id"])["cpf_hash"]["S"]

    assert len(cpf_hash) == 64
    assert VALID_CPF not in cpf_hash
    assert "cpf_hash" not in created


def test_a_replay_after_erasure_answers_the_tombstone(client: TestClient, stack: Stack) -> None:
    headers = {"Idempotency-Key": "erased-later"}
    first = client.post("/enrollments", json=ENROLLMENT, headers=headers)
    client.delete(f"/enrollments/{first.json()['enrollment_id']}")

    replayed = client.post("/enrollments", json=ENROLLMENT, headers=headers)

    assert replayed.status_code == 202
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.headers["Location"] == first.headers["Location"]
    assert set(replayed.json()) == TOMBSTONE_FIELDS
    assert replayed.json()["enrollment_id"] == first.json()["enrollment_id"]
    assert VALID_CPF not in replayed.text
    assert NAME not in replayed.text


def test_a_record_that_kept_the_whole_answer_is_replayed_from_the_enrollment(
    client: TestClient,
) -> None:
    # A record completed before answers were remembered by reference holds the whole body.
    headers = {"Idempotency-Key": "older-record"}
    first = client.post("/enrollments", json=ENROLLMENT, headers=headers).json()
    dynamodb = boto3.client("dynamodb")
    table = get_api_settings().idempotency_table
    [record] = dynamodb.scan(TableName=table)["Items"]
    del record["resource_id"]
    record["response_body"] = {"S": json.dumps(first)}
    dynamodb.put_item(TableName=table, Item=record)
    client.delete(f"/enrollments/{first['enrollment_id']}")

    replayed = client.post("/enrollments", json=ENROLLMENT, headers=headers)

    assert replayed.status_code == 202
    assert replayed.json()["status"] == "ERASED"
    assert VALID_CPF not in replayed.text


def test_after_erasure_no_table_holds_the_name_or_the_cpf(client: TestClient, stack: Stack) -> None:
    created = client.post(
        "/enrollments", json=ENROLLMENT, headers={"Idempotency-Key": "everywhere"}
    ).json()
    assert processor(queued_event(stack), LambdaContext()) == {"batchItemFailures": []}
    assert client.get(f"/enrollments/{created['enrollment_id']}").json()["status"] == "PROCESSED"
    assert VALID_CPF in every_item(stack)

    assert client.delete(f"/enrollments/{created['enrollment_id']}").status_code == 200

    stored = every_item(stack)
    for personal in (VALID_CPF, FORMATTED_CPF, NAME, "Maria"):
        assert personal not in stored
    assert created["enrollment_id"] in stored


def test_with_a_retention_the_tombstone_expires(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETENTION_DAYS", "30")
    get_api_settings.cache_clear()
    created = client.post("/enrollments", json=ENROLLMENT).json()
    before = time.time()

    client.delete(f"/enrollments/{created['enrollment_id']}")

    expires_at = int(item_of(created["enrollment_id"])["expires_at"]["N"])
    assert before + 30 * SECONDS_PER_DAY - 1 <= expires_at <= time.time() + 30 * SECONDS_PER_DAY


def test_without_a_retention_nothing_expires(client: TestClient) -> None:
    created = client.post("/enrollments", json=ENROLLMENT).json()

    client.delete(f"/enrollments/{created['enrollment_id']}")

    assert "expires_at" not in item_of(created["enrollment_id"])


def test_an_enrollment_past_its_expiry_is_gone_before_ttl_deletes_it(client: TestClient) -> None:
    created = client.post("/enrollments", json=ENROLLMENT).json()
    boto3.client("dynamodb").update_item(
        TableName=get_api_settings().enrollments_table,
        Key={"enrollment_id": {"S": created["enrollment_id"]}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    path = f"/enrollments/{created['enrollment_id']}"

    assert client.get(path).status_code == 404
    assert client.delete(path).status_code == 404


# --- Who may erase: through the handler, as API Gateway names each key ---


@pytest.fixture
def invoke(stack: Stack) -> Iterator[Callable[..., tuple[int, Any]]]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def call(method: str, path: str, body: Any = None, **event: Any) -> tuple[int, Any]:
        from app.main import handler

        response = handler(rest_event(method, path, body, **event), LambdaContext())
        return response["statusCode"], json.loads(response["body"])

    yield call
    asyncio.set_event_loop(None)
    loop.close()


def test_a_client_erases_its_own_enrollments_and_no_other(
    invoke: Callable[..., tuple[int, Any]],
) -> None:
    add_client("owner-key-id", DEFAULT_SCOPES | {Scope.ENROLLMENTS_ERASE})
    # Reads every enrollment, and may erase: its own only.
    add_client("auditor-key-id", {Scope.ENROLLMENTS_READ_ALL, Scope.ENROLLMENTS_ERASE})
    add_client("partner-key-id", DEFAULT_SCOPES)
    _, created = invoke("POST", "/enrollments", ENROLLMENT, api_key_id="owner-key-id")
    path = f"/enrollments/{created['enrollment_id']}"

    assert invoke("DELETE", path, api_key_id="auditor-key-id")[0] == 404
    assert invoke("DELETE", path, api_key_id="partner-key-id") == (
        403,
        {"message": "This API key lacks the scope enrollments:erase"},
    )
    assert invoke("GET", path, api_key_id="auditor-key-id")[1]["cpf"] == VALID_CPF
    # The stack's own key holds the scope, and likewise erases only its own.
    assert invoke("DELETE", path)[0] == 404

    status, tombstone = invoke("DELETE", path, api_key_id="owner-key-id")

    assert (status, tombstone["status"]) == (200, "ERASED")
    assert invoke("GET", path, api_key_id="auditor-key-id") == (200, tombstone)


def test_a_new_client_does_not_hold_the_erase_scope() -> None:
    assert Scope.ENROLLMENTS_ERASE not in DEFAULT_SCOPES


# --- The audit log ---


def audit_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    fields = ("action", "api_key_id", "enrollment_id", "request_id")
    return [
        {name: getattr(record, name, None) for name in fields} | {"line": record.getMessage()}
        for record in caplog.records
        if record.name == AUDIT_LOGGER
    ]


def test_reads_of_anothers_enrollment_and_erasures_are_audited(
    invoke: Callable[..., tuple[int, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    add_client("owner-key-id", DEFAULT_SCOPES | {Scope.ENROLLMENTS_ERASE})
    add_client("auditor-key-id", {Scope.ENROLLMENTS_READ_ALL})
    _, created = invoke("POST", "/enrollments", ENROLLMENT, api_key_id="owner-key-id")
    enrollment_id, path = created["enrollment_id"], f"/enrollments/{created['enrollment_id']}"
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)

    invoke("GET", path, api_key_id="owner-key-id", request_id="own-read")
    invoke("GET", path, api_key_id="auditor-key-id", request_id="audited-read")
    invoke("DELETE", path, api_key_id="owner-key-id", request_id="the-erasure")
    invoke("GET", path, api_key_id="auditor-key-id", request_id="tombstone-read")

    assert audit_lines(caplog) == [
        {
            "action": action,
            "api_key_id": key,
            "enrollment_id": enrollment_id,
            "request_id": request_id,
            "line": f"Audit: {action}",
        }
        for action, key, request_id in [
            ("read", "auditor-key-id", "audited-read"),
            ("erase", "owner-key-id", "the-erasure"),
            ("read", "auditor-key-id", "tombstone-read"),
        ]
    ]
    everything = json.dumps([vars(r) for r in caplog.records], default=str)
    assert VALID_CPF not in everything
    assert NAME not in everything
