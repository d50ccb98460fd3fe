import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import boto3
import pytest
from fastapi.testclient import TestClient

from app.config import get_api_settings
from local.template import Stack
from tests.conftest import VALID_CPF, queued_messages

CreateAgeGroup = Callable[[int, int], dict[str, Any]]


def enrollment(**overrides: Any) -> dict[str, Any]:
    return {"name": "Maria da Silva", "age": 22, "cpf": VALID_CPF} | overrides


def stored_enrollments() -> list[dict[str, Any]]:
    table = get_api_settings().enrollments_table
    return boto3.client("dynamodb").scan(TableName=table)["Items"]


def test_enrollment_is_accepted_as_pending_and_queued(
    client: TestClient, age_group: CreateAgeGroup, stack: Stack
) -> None:
    age_group(18, 30)

    response = client.post("/enrollments", json=enrollment(cpf="529.982.247-25"))

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "PENDING"
    assert (body["name"], body["age"], body["cpf"]) == ("Maria da Silva", 22, VALID_CPF)
    enrollment_id = body["enrollment_id"]
    UUID(enrollment_id)
    messages = queued_messages(stack)
    assert [json.loads(m["Body"]) for m in messages] == [{"enrollment_id": enrollment_id}]


def test_enrollment_can_be_read_back_in_full(client: TestClient, age_group: CreateAgeGroup) -> None:
    age_group(18, 30)
    created = client.post("/enrollments", json=enrollment(name="  Ana  ")).json()

    response = client.get(f"/enrollments/{created['enrollment_id']}")

    assert response.status_code == 200
    body = response.json()
    assert body == created
    assert set(body) == {
        "enrollment_id",
        "name",
        "age",
        "cpf",
        "status",
        "created_at",
        "updated_at",
    }
    assert body["name"] == "Ana"
    assert datetime.fromisoformat(body["created_at"]) == datetime.fromisoformat(body["updated_at"])


def test_each_enrollment_gets_a_new_id(client: TestClient, age_group: CreateAgeGroup) -> None:
    age_group(0, 150)

    ids = {client.post("/enrollments", json=enrollment()).json()["enrollment_id"] for _ in range(3)}

    assert len(ids) == 3


@pytest.mark.parametrize("age", [18, 24, 30, 40, 45])
def test_age_on_or_inside_any_group_bound_is_accepted(
    client: TestClient, age_group: CreateAgeGroup, age: int
) -> None:
    age_group(18, 30)
    age_group(40, 45)

    assert client.post("/enrollments", json=enrollment(age=age)).status_code == 202


@pytest.mark.parametrize("age", [17, 31, 39, 46])
def test_age_outside_every_group_is_400_and_stores_nothing(
    client: TestClient, age_group: CreateAgeGroup, stack: Stack, age: int
) -> None:
    age_group(18, 30)
    age_group(40, 45)

    response = client.post("/enrollments", json=enrollment(age=age))

    assert response.status_code == 400
    assert response.json() == {"detail": f"Age {age} is not in any registered age group"}
    assert stored_enrollments() == []
    assert queued_messages(stack) == []


def test_no_age_group_means_no_enrollment(client: TestClient) -> None:
    response = client.post("/enrollments", json=enrollment())

    assert response.status_code == 400


def test_age_check_reads_every_page_of_age_groups(
    client: TestClient, age_group: CreateAgeGroup
) -> None:
    from app.adapters.age_groups import AgeGroupRepository
    from app.adapters.aws import get_dynamodb_client
    from app.api.dependencies import get_age_group_repository

    for age in range(0, 20, 2):
        age_group(age, age)
    age_group(100, 110)
    client.app.dependency_overrides[get_age_group_repository] = lambda: AgeGroupRepository(  # type: ignore[attr-defined]
        get_dynamodb_client(), get_api_settings().age_groups_table, scan_page_size=1
    )

    assert client.post("/enrollments", json=enrollment(age=105)).status_code == 202


def test_get_of_an_unknown_enrollment_is_404(client: TestClient) -> None:
    unknown = uuid4()

    response = client.get(f"/enrollments/{unknown}")

    assert response.status_code == 404
    assert response.json() == {"detail": f"Enrollment {unknown} not found"}


def test_get_with_a_malformed_id_is_422(client: TestClient) -> None:
    response = client.get("/enrollments/123")

    assert response.status_code == 422


def test_get_reads_with_strong_consistency(client: TestClient, age_group: CreateAgeGroup) -> None:
    from app.adapters.aws import get_dynamodb_client

    age_group(0, 150)
    enrollment_id = client.post("/enrollments", json=enrollment()).json()["enrollment_id"]
    reads: list[dict[str, Any]] = []
    get_dynamodb_client().meta.events.register(
        "provide-client-params.dynamodb.GetItem", lambda params, **_: reads.append(dict(params))
    )

    assert client.get(f"/enrollments/{enrollment_id}").status_code == 200
    assert [r["ConsistentRead"] for r in reads] == [True]
