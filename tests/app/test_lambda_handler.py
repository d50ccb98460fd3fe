"""The API's Lambda entry point, invoked with API Gateway REST proxy events."""

import json
from typing import Any

import pytest

from app.config import get_api_settings
from app.entrypoints.events import rest_event
from local.aws_shapes import LambdaContext
from tests.conftest import VALID_CPF

pytestmark = pytest.mark.usefixtures("event_loop_as_on_lambda")


def invoke(method: str, path: str, body: Any = None) -> tuple[int, Any]:
    from app.main import handler

    response = handler(rest_event(method, path, body), LambdaContext())
    return response["statusCode"], json.loads(response["body"])


@pytest.mark.usefixtures("stack")
def test_a_whole_enrollment_through_the_lambda_handler() -> None:
    status, group = invoke("POST", "/age-groups", {"min_age": 18, "max_age": 30})
    assert status == 201

    status, groups = invoke("GET", "/age-groups")
    assert (status, groups) == (200, [group])

    status, created = invoke("POST", "/enrollments", {"name": "Ana", "age": 20, "cpf": VALID_CPF})
    assert status == 202
    assert created["status"] == "PENDING"

    status, read = invoke("GET", f"/enrollments/{created['enrollment_id']}")
    assert (status, read) == (200, created)

    status, refused = invoke("POST", "/enrollments", {"name": "Ana", "age": 31, "cpf": VALID_CPF})
    assert status == 400
    assert "31" in refused["detail"]

    status, deleted = invoke("DELETE", f"/age-groups/{group['age_group_id']}")
    assert status == 200
    assert group["age_group_id"] in deleted["message"]

    status, _ = invoke("DELETE", f"/age-groups/{group['age_group_id']}")
    assert status == 404


@pytest.mark.usefixtures("stack")
def test_the_root_path_behind_the_proxy_is_an_unknown_route() -> None:
    status, body = invoke("GET", "/")

    assert (status, body) == (404, {"detail": "Not Found"})


@pytest.mark.usefixtures("stack")
@pytest.mark.parametrize("stage", ["v1", "enrollments", "age"])
def test_docs_behind_a_stage_link_to_the_staged_schema_and_routes_still_match(
    monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    monkeypatch.setenv("DOCS_ENABLED", "true")
    get_api_settings.cache_clear()
    from mangum import Mangum

    from app.api.factory import create_app

    staged = Mangum(create_app(), lifespan="off")

    def invoke_staged(method: str, path: str) -> dict[str, Any]:
        event = rest_event(method, path, stage=stage)
        response: dict[str, Any] = staged(event, LambdaContext())
        return response

    docs = invoke_staged("GET", "/docs")
    assert docs["statusCode"] == 200
    assert f"'/{stage}/openapi.json'" in docs["body"]
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"):
        assert f'"/{stage}/docs/assets/{asset}"' in docs["body"]
        assert invoke_staged("GET", f"/docs/assets/{asset}")["statusCode"] == 200
    schema = invoke_staged("GET", "/openapi.json")
    assert "/enrollments/{enrollment_id}" in json.loads(schema["body"])["paths"]
    # A stage named like a resource must not eat the resource's path.
    missing = "00000000-0000-4000-8000-000000000000"
    response = invoke_staged("GET", f"/enrollments/{missing}")
    assert json.loads(response["body"]) == {"detail": f"Enrollment {missing} not found"}
    assert invoke_staged("GET", "/age-groups")["statusCode"] == 200
    not_allowed = invoke_staged("PUT", "/age-groups")
    assert (not_allowed["statusCode"], not_allowed["headers"]["allow"]) == (405, "GET, HEAD, POST")
