"""The webhook routes: a client's endpoint, its secret, and its deliveries, through the TestClient
and the Lambda handler."""

import base64
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.domain.clients import DEFAULT_SCOPES, Scope
from app.entrypoints.events import rest_event
from local.aws_shapes import LambdaContext
from tests.conftest import add_client, in_process_app, offline
from tests.webhooks import FakeResolver

URL = "https://partner.example/webhooks/enrollments"


def test_put_sets_the_endpoint_and_answers_its_secret(client: TestClient) -> None:
    response = client.put("/webhook", json={"url": URL})

    assert response.status_code == 200
    body = response.json()
    assert body["url"] == URL
    assert body["secret"].startswith("whsec_")
    assert len(base64.b64decode(body["secret"].removeprefix("whsec_"))) >= 24


def test_the_secret_stays_the_same_across_puts_until_rotated(client: TestClient) -> None:
    first = client.put("/webhook", json={"url": URL}).json()["secret"]
    second = client.put("/webhook", json={"url": URL + "/v2"}).json()

    assert second == {"url": URL + "/v2", "secret": first}

    rotated = client.post("/webhook/rotate-secret")
    assert rotated.status_code == 200
    assert rotated.json()["secret"] not in (first, None)
    assert rotated.json()["url"] == URL + "/v2"


def test_get_shows_the_endpoint_without_its_secret(client: TestClient) -> None:
    assert client.get("/webhook").status_code == 404
    secret = client.put("/webhook", json={"url": URL}).json()["secret"]

    response = client.get("/webhook")

    assert response.status_code == 200
    body = response.json()
    assert (body["url"], body["enabled"], body["disabled_reason"]) == (URL, True, None)
    assert secret not in response.text
    assert "secret" not in body


def test_get_says_why_deliveries_stopped(client: TestClient) -> None:
    from app.adapters.aws import get_dynamodb_client
    from app.adapters.webhooks import WebhookRepository
    from app.config import get_api_settings
    from tests.conftest import IN_PROCESS_CALLER

    client.put("/webhook", json={"url": URL})
    WebhookRepository(get_dynamodb_client(), get_api_settings().webhooks_table).disable(
        IN_PROCESS_CALLER.api_key_id, "every delivery failed for 3 days"
    )

    body = client.get("/webhook").json()

    assert (body["enabled"], body["disabled_reason"]) == (False, "every delivery failed for 3 days")
    # Setting it again enables it.
    client.put("/webhook", json={"url": URL})
    assert client.get("/webhook").json()["enabled"] is True


def test_delete_removes_the_endpoint(client: TestClient) -> None:
    client.put("/webhook", json={"url": URL})

    assert client.delete("/webhook").status_code == 204
    assert client.get("/webhook").status_code == 404
    assert client.delete("/webhook").status_code == 404
    assert client.post("/webhook/rotate-secret").status_code == 404


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://partner.example/hooks", "must use https"),
        ("https://internal.example/hooks", "public address"),
        ("https://metadata.example/", "link-local"),
        ("https://nowhere.example/", "must resolve"),
        ("https://partner.example/#frag", "fragment"),
        ("partner.example/hooks", "absolute https URL"),
    ],
)
def test_a_url_no_delivery_may_go_to_is_a_422_naming_the_rule(
    stack: Any, url: str, rule: str
) -> None:
    resolver = FakeResolver(
        {
            "internal.example": ["10.0.4.2"],
            "metadata.example": ["169.254.169.254"],
            "nowhere.example": [],
        }
    )
    with TestClient(offline(in_process_app(), resolver)) as client:
        response = client.put("/webhook", json={"url": url})

        assert response.status_code == 422
        [error] = response.json()["detail"]
        assert error["loc"] == ["body", "url"]
        assert rule in error["msg"]
        assert client.get("/webhook").status_code == 404


@pytest.mark.usefixtures("stack", "event_loop_as_on_lambda")
@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/", "https://10.0.0.1/", "http://partner.example/webhooks"],
)
def test_through_the_lambda_handler_an_unsafe_url_is_a_422(url: str) -> None:
    from app.main import handler

    response = handler(rest_event("PUT", "/webhook", {"url": url}), LambdaContext())

    assert response["statusCode"] == 422
    assert json.loads(response["body"])["detail"][0]["type"] == "unsafe_webhook_url"


@pytest.mark.usefixtures("stack", "event_loop_as_on_lambda")
def test_the_routes_need_the_webhooks_scope_which_new_clients_hold() -> None:
    from app.main import handler

    assert Scope.WEBHOOKS_WRITE in DEFAULT_SCOPES
    add_client("no-webhooks", DEFAULT_SCOPES - {Scope.WEBHOOKS_WRITE})
    add_client("partner", DEFAULT_SCOPES)
    body = {"url": "https://93.184.215.14/hooks"}

    refused = handler(
        rest_event("PUT", "/webhook", body, api_key_id="no-webhooks"), LambdaContext()
    )
    allowed = handler(rest_event("PUT", "/webhook", body, api_key_id="partner"), LambdaContext())

    assert refused["statusCode"] == 403
    assert "webhooks:write" in refused["body"]
    assert allowed["statusCode"] == 200


@pytest.mark.usefixtures("stack", "event_loop_as_on_lambda")
def test_each_client_has_its_own_endpoint() -> None:
    from app.main import handler

    add_client("partner-a")
    add_client("partner-b")
    handler(
        rest_event("PUT", "/webhook", {"url": "https://93.184.215.14/a"}, api_key_id="partner-a"),
        LambdaContext(),
    )

    other = handler(rest_event("GET", "/webhook", api_key_id="partner-b"), LambdaContext())

    assert other["statusCode"] == 404


def test_the_deliveries_list_is_empty_then_validated(client: TestClient) -> None:
    assert client.get("/webhook/deliveries").json() == {"items": []}
    assert client.get("/webhook/deliveries?limit=0").status_code == 422
    assert client.get("/webhook/deliveries?limit=101").status_code == 422
    assert client.get("/webhook/deliveries?colour=red").status_code == 422


def test_redelivering_an_attempt_the_client_does_not_have_is_a_404(client: TestClient) -> None:
    assert client.post("/webhook/deliveries/dlv_0123abcd/redeliver").status_code == 404
    assert client.post("/webhook/deliveries/not-an-id/redeliver").status_code == 422


def test_the_openapi_document_describes_the_event_in_its_webhooks(client: TestClient) -> None:
    from tests.conftest import app_with_docs

    document = app_with_docs().openapi()

    assert document["openapi"].startswith("3.1")
    event = document["webhooks"]["enrollment.processed"]["post"]
    headers = {p["name"] for p in event["parameters"] if p["in"] == "header"}
    assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    schema = event["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert schema.endswith("/EnrollmentProcessedEvent")
    data = document["components"]["schemas"]["EnrollmentProcessedData"]["properties"]
    assert "cpf" not in data
    assert "name" not in data
