"""Fixtures of the API's tests."""

from collections.abc import Iterator

import boto3
import pytest
from fastapi.testclient import TestClient

from app.api.factory import create_app
from app.config import get_api_settings
from app.domain.clients import DEFAULT_SCOPES, Scope
from local.gateway import gateway_app, provision_gateway
from local.template import Stack, load_template
from tests.conftest import add_client

STACK_KEY = "stack-key-of-the-tests"
CLIENT_KEY = "client-key-of-the-tests"


@pytest.fixture
def open_group(client: TestClient) -> None:
    """An age group that admits every age."""
    assert client.post("/age-groups", json={"min_age": 0, "max_age": 150}).status_code == 201


@pytest.fixture
def gateway(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The app behind the local gateway, keys and plan in moto; the stack key's id configured."""
    template = load_template()
    aliases = provision_gateway(
        template, boto3.client("apigateway"), boto3.client("dynamodb"), stack, STACK_KEY, CLIENT_KEY
    )
    monkeypatch.setenv("STACK_API_KEY_ID", stack.refs["StackApiKey"])
    get_api_settings.cache_clear()
    app = gateway_app(create_app(), template, stack.refs["UsagePlan"], 0, aliases)
    with TestClient(app) as client:
        yield client


def as_key(key: str) -> dict[str, str]:
    return {"x-api-key": key}


def new_client_key(scopes: frozenset[Scope] = DEFAULT_SCOPES) -> str:
    """A client added as `enrollment-clients add` does: its key on the plan, its record."""
    apigateway = boto3.client("apigateway")
    plan = apigateway.get_usage_plans()["items"][0]["id"]
    key = apigateway.create_api_key(name="partner", enabled=True)
    apigateway.create_usage_plan_key(usagePlanId=plan, keyId=key["id"], keyType="API_KEY")
    add_client(key["id"], scopes, name=f"partner-{key['id']}")
    return str(key["value"])
