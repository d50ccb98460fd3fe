"""The app's own API key check, used where API Gateway is not in front (local runs)."""

from collections.abc import Iterator

import boto3
import pytest
from fastapi.testclient import TestClient

from app.api.factory import create_app
from app.api.security import ApiKeyMiddleware, authorize
from app.config import get_api_settings
from local.template import Stack
from tests.conftest import API_KEY, app_with_docs

SAMPLE_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def keyed_client(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("API_KEY", API_KEY)
    monkeypatch.setenv("DOCS_ENABLED", "true")
    get_api_settings.cache_clear()
    with TestClient(create_app()) as client:
        yield client


def every_route() -> list[tuple[str, str]]:
    """Method and concrete path of every operation the app's OpenAPI document lists."""
    paths = app_with_docs().openapi()["paths"]
    return [
        (
            method.upper(),
            path.format(
                age_group_id=SAMPLE_ID, enrollment_id=SAMPLE_ID, delivery_id="dlv_0123456789abcdef"
            ),
        )
        for path, operations in paths.items()
        for method in operations
    ]


def test_every_route_is_found() -> None:
    assert len(every_route()) == 13


def test_the_key_check_is_installed_on_the_app_not_per_route() -> None:
    # Routes hidden from the OpenAPI document are covered too: the check guards the whole app.
    middleware: list[object] = [entry.cls for entry in create_app().user_middleware]

    assert ApiKeyMiddleware in middleware
    assert authorize in [d.dependency for d in create_app().router.dependencies]


@pytest.mark.parametrize(("method", "path"), every_route())
@pytest.mark.parametrize("headers", [{}, {"x-api-key": "wrong"}, {"x-api-key": ""}])
def test_every_route_rejects_a_missing_or_wrong_key(
    keyed_client: TestClient, method: str, path: str, headers: dict[str, str]
) -> None:
    response = keyed_client.request(method, path, headers=headers, json={})

    assert response.status_code == 403
    assert response.json() == {"message": "Forbidden"}


def test_the_right_key_is_let_in(keyed_client: TestClient) -> None:
    response = keyed_client.get("/age-groups", headers={"x-api-key": API_KEY})

    assert response.status_code == 200


def test_a_key_that_only_starts_like_the_right_one_is_rejected(keyed_client: TestClient) -> None:
    response = keyed_client.get("/age-groups", headers={"x-api-key": API_KEY + "x"})

    assert response.status_code == 403


def test_the_check_happens_before_the_body_is_validated(keyed_client: TestClient) -> None:
    response = keyed_client.post("/age-groups", json={"min_age": "bad"})

    assert response.status_code == 403


def test_docs_are_open_and_offer_the_key_scheme(keyed_client: TestClient) -> None:
    assert keyed_client.get("/docs").status_code == 200
    schema = keyed_client.get("/openapi.json").json()

    assert schema["components"]["securitySchemes"] == {
        "APIKeyHeader": {"type": "apiKey", "in": "header", "name": "x-api-key"}
    }
    for path_item in schema["paths"].values():
        for operation in path_item.values():
            assert operation["security"] == [{"APIKeyHeader": []}]


@pytest.mark.usefixtures("stack")
@pytest.mark.parametrize(("method", "path"), every_route())
def test_with_no_gateway_in_front_and_no_configured_key_the_app_serves_no_one(
    method: str, path: str
) -> None:
    # `uvicorn app.main:app` with no API_KEY: no key is checked, so no caller is known.
    with TestClient(create_app()) as anyone:
        response = anyone.request(method, path, headers={"x-api-key": "anything"}, json={})

    assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})
    assert (
        boto3.client("dynamodb").scan(TableName=get_api_settings().age_groups_table)["Count"] == 0
    )


def test_docs_are_off_unless_enabled(client: TestClient) -> None:
    assert client.get("/docs").status_code == 404
    assert client.get("/openapi.json").status_code == 404
