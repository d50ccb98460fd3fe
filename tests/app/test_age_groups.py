from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import boto3
import pytest
from fastapi.testclient import TestClient

from app.adapters.age_groups import AgeGroupRepository
from app.adapters.aws import get_dynamodb_client
from app.api.dependencies import get_age_group_repository
from app.config import get_api_settings
from app.domain.services import MAX_AGE_GROUPS
from tests.conftest import app_with_docs

CreateAgeGroup = Callable[[int, int], dict[str, Any]]


def test_create_returns_the_stored_group(client: TestClient) -> None:
    response = client.post("/age-groups", json={"min_age": 18, "max_age": 30})

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"age_group_id", "min_age", "max_age", "created_at"}
    assert (body["min_age"], body["max_age"]) == (18, 30)
    UUID(body["age_group_id"])
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None
    assert client.get("/age-groups").json() == [body]


def test_list_is_empty_without_groups(client: TestClient) -> None:
    response = client.get("/age-groups")

    assert response.status_code == 200
    assert response.json() == []


def test_list_is_ordered_by_min_then_max_age(client: TestClient, age_group: CreateAgeGroup) -> None:
    for bounds in [(40, 60), (0, 17), (18, 65), (18, 30), (0, 5)]:
        age_group(*bounds)

    listed = client.get("/age-groups").json()

    assert [(g["min_age"], g["max_age"]) for g in listed] == [
        (0, 5),
        (0, 17),
        (18, 30),
        (18, 65),
        (40, 60),
    ]


def test_list_follows_every_scan_page(client: TestClient, age_group: CreateAgeGroup) -> None:
    created = {age_group(age, age + 1)["age_group_id"] for age in range(7)}
    scans: list[dict[str, Any]] = []
    dynamodb = get_dynamodb_client()
    dynamodb.meta.events.register("provide-client-params.dynamodb.Scan", _record_into(scans))
    client.app.dependency_overrides[get_age_group_repository] = lambda: AgeGroupRepository(  # type: ignore[attr-defined]
        dynamodb, get_api_settings().age_groups_table, scan_page_size=2
    )

    listed = client.get("/age-groups").json()

    assert {g["age_group_id"] for g in listed} == created
    assert len(scans) >= 4, "a page size of 2 over 7 items needs at least 4 scans"
    assert all(scan["Limit"] == 2 for scan in scans)


def _record_into(calls: list[dict[str, Any]]) -> Callable[..., None]:
    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(dict(params))

    return record


def test_delete_removes_the_group(client: TestClient, age_group: CreateAgeGroup) -> None:
    kept = age_group(0, 10)
    deleted = age_group(11, 20)

    response = client.delete(f"/age-groups/{deleted['age_group_id']}")

    assert response.status_code == 200
    assert deleted["age_group_id"] in response.json()["message"]
    assert client.get("/age-groups").json() == [kept]


def test_delete_of_an_unknown_group_is_404_and_changes_nothing(
    client: TestClient, age_group: CreateAgeGroup
) -> None:
    kept = age_group(0, 10)
    unknown = uuid4()

    response = client.delete(f"/age-groups/{unknown}")

    assert response.status_code == 404
    assert response.json() == {"detail": f"Age group {unknown} not found"}
    assert client.get("/age-groups").json() == [kept]


def test_delete_twice_is_404_the_second_time(client: TestClient, age_group: CreateAgeGroup) -> None:
    group_id = age_group(0, 10)["age_group_id"]

    assert client.delete(f"/age-groups/{group_id}").status_code == 200
    assert client.delete(f"/age-groups/{group_id}").status_code == 404


def test_delete_with_a_malformed_id_is_422(client: TestClient) -> None:
    response = client.delete("/age-groups/not-a-uuid")

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "age_group_id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"min_age": 10}, "max_age"),
        ({"max_age": 10}, "min_age"),
        ({"min_age": "10", "max_age": 20}, "min_age"),
        ({"min_age": 10, "max_age": 20.5}, "max_age"),
        ({"min_age": 10.5, "max_age": 20}, "min_age"),
        ({"min_age": False, "max_age": 20}, "min_age"),
        ({"min_age": None, "max_age": 20}, "min_age"),
        ({"min_age": -1, "max_age": 20}, "min_age"),
        ({"min_age": 10, "max_age": 151}, "max_age"),
        ({"min_age": 10, "max_age": 20, "label": "adults"}, "label"),
    ],
)
def test_create_rejects_an_invalid_body(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    response = client.post("/age-groups", json=body)

    assert response.status_code == 422
    assert field in {error["loc"][-1] for error in response.json()["detail"]}
    assert client.get("/age-groups").json() == []


def test_create_rejects_a_range_that_ends_before_it_starts(client: TestClient) -> None:
    response = client.post("/age-groups", json={"min_age": 30, "max_age": 18})

    assert response.status_code == 422
    assert "min_age must be less than or equal to max_age" in response.text
    assert (
        boto3.client("dynamodb").scan(TableName=get_api_settings().age_groups_table)["Count"] == 0
    )


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'{"min_age": 1, "max_age": 2'])
def test_create_rejects_a_body_that_is_not_a_json_object(client: TestClient, raw: bytes) -> None:
    response = client.post("/age-groups", content=raw, headers={"content-type": "application/json"})

    assert response.status_code == 422


def test_single_age_group_is_allowed(client: TestClient) -> None:
    response = client.post("/age-groups", json={"min_age": 150, "max_age": 150})

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/age-groups", "GET, HEAD, POST"),
        ("OPTIONS", "/age-groups", "GET, HEAD, POST"),
        ("PATCH", "/age-groups/00000000-0000-4000-8000-000000000000", "DELETE"),
        ("PUT", "/enrollments/00000000-0000-4000-8000-000000000000", "GET, HEAD, DELETE"),
    ],
)
def test_a_wrong_method_is_405_naming_every_method_of_the_path(
    client: TestClient, method: str, path: str, allowed: str
) -> None:
    response = client.request(method, path)

    assert response.status_code == 405
    assert response.headers["Allow"] == allowed


def put_age_groups(count: int) -> None:
    """`count` age groups in the table, written directly."""
    table = boto3.resource("dynamodb").Table(get_api_settings().age_groups_table)
    with table.batch_writer() as batch:
        for _ in range(count):
            batch.put_item(
                Item={
                    "age_group_id": str(uuid4()),
                    "min_age": 0,
                    "max_age": 150,
                    "created_at": "2026-01-01T00:00:00+00:00",
                }
            )


def test_age_groups_are_capped_with_a_409_until_one_is_deleted(client: TestClient) -> None:
    put_age_groups(MAX_AGE_GROUPS - 1)
    last = client.post("/age-groups", json={"min_age": 1, "max_age": 2})

    refused = client.post("/age-groups", json={"min_age": 3, "max_age": 4})

    assert last.status_code == 201
    assert (refused.status_code, refused.json()) == (
        409,
        {
            "detail": f"At most {MAX_AGE_GROUPS} age groups may be registered: "
            "delete one before adding another"
        },
    )
    assert len(client.get("/age-groups").json()) == MAX_AGE_GROUPS
    assert client.delete(f"/age-groups/{last.json()['age_group_id']}").status_code == 200
    assert client.post("/age-groups", json={"min_age": 3, "max_age": 4}).status_code == 201


def test_the_cap_is_documented_on_the_operation() -> None:
    operation = app_with_docs().openapi()["paths"]["/age-groups"]["post"]

    assert str(MAX_AGE_GROUPS) in operation["responses"]["409"]["description"]
