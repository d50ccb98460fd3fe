"""`make smoke STACK=name`: the URL and the key found from a stack, against moto's CloudFormation
and API Gateway; the errors that stop it before any request; how long it waits for processing."""

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from moto import mock_aws

from ops.config import SmokeSettings
from ops.smoke import SmokeError, Target, resolve_target, retry_after, smoke, target_of_stack

STACK_NAME = "enrollment-staging"
KEY_VALUE = "a-key-value-of-forty-characters-or-so-00"
# A port nothing listens on: the smoke gets as far as its first request.
UNREACHABLE_URL = "http://127.0.0.1:9/v1"


def deployed_stack(api_url: str, key_id: str, name: str = STACK_NAME) -> None:
    """A stack with the two outputs the smoke reads, as template.yaml's deployment has them."""
    template = {
        "Resources": {"Handle": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            "ApiUrl": {"Value": api_url},
            "ApiKeyId": {"Value": key_id},
        },
    }
    boto3.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))


@pytest.fixture
def aws() -> Iterator[str]:
    """moto's CloudFormation and API Gateway, with an API key; its id."""
    with mock_aws():
        key = boto3.client("apigateway").create_api_key(
            name="enrollment-key", enabled=True, value=KEY_VALUE
        )
        yield key["id"]


def clients() -> tuple[Any, Any]:
    return boto3.client("cloudformation"), boto3.client("apigateway")


def test_the_url_and_the_key_value_come_from_the_stack(aws: str) -> None:
    deployed_stack("https://abc123.execute-api.us-east-1.amazonaws.com/v1", aws)

    target = target_of_stack(STACK_NAME, *clients())

    assert target == Target("https://abc123.execute-api.us-east-1.amazonaws.com/v1", KEY_VALUE)


def test_a_stack_that_does_not_exist_is_named_with_its_region(aws: str) -> None:
    with pytest.raises(SmokeError, match=r"^No stack named 'enrollment-prod' in us-east-1$"):
        target_of_stack("enrollment-prod", *clients())


def test_a_stack_without_the_outputs_is_a_clear_error(aws: str) -> None:
    boto3.client("cloudformation").create_stack(
        StackName="other",
        TemplateBody=json.dumps({"Resources": {"Handle": {"Type": "AWS::SQS::Queue"}}}),
    )

    with pytest.raises(SmokeError, match="has no output ApiUrl, ApiKeyId"):
        target_of_stack("other", *clients())


def test_an_api_key_id_that_does_not_exist_is_a_clear_error(aws: str) -> None:
    deployed_stack("https://abc123.execute-api.us-east-1.amazonaws.com/v1", "nokey12345")

    with pytest.raises(SmokeError, match="Cannot read the API key nokey12345"):
        target_of_stack(STACK_NAME, *clients())


def test_the_smoke_of_a_stack_requests_the_url_of_its_outputs(aws: str) -> None:
    deployed_stack(UNREACHABLE_URL, aws)
    out = io.StringIO()

    code = smoke(SmokeSettings(stack=STACK_NAME, smoke_read_only=True), out)

    assert code == 1
    assert f"Smoke test of {UNREACHABLE_URL} (reads only)" in out.getvalue()
    assert f"Cannot reach {UNREACHABLE_URL}" in out.getvalue()


def test_the_smoke_of_a_missing_stack_fails_before_any_request(aws: str) -> None:
    out = io.StringIO()

    code = smoke(SmokeSettings(stack="enrollment-prod"), out)

    assert code == 1
    assert out.getvalue() == "FAILED: No stack named 'enrollment-prod' in us-east-1\n"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({}, "Give STACK=name, or API_URL=https://... and API_KEY=..."),
        ({"api_url": "http://127.0.0.1:8000"}, "Give STACK=name, or API_URL"),
        ({"stack": "s", "api_url": "http://127.0.0.1:8000"}, "not both"),
    ],
)
def test_the_target_must_be_a_url_and_a_key_or_a_stack(
    given: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("API_URL", "API_KEY", "STACK"):
        monkeypatch.delenv(name, raising=False)

    with pytest.raises(SmokeError, match=message.replace(".", r"\.")):
        resolve_target(SmokeSettings.model_validate(given))


def accepted(headers: dict[str, str]) -> httpx.Response:
    """A 202 of POST /enrollments with these headers."""
    request = httpx.Request("POST", "https://api.example.com/v1/enrollments")
    return httpx.Response(202, headers=headers, json={}, request=request)


def test_the_wait_for_processing_is_the_202s_retry_after() -> None:
    assert retry_after(accepted({"Retry-After": "6"})) == 6


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Retry-After": "0"},
        {"Retry-After": "1.5"},
        {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"},
    ],
)
def test_a_202_without_retry_after_in_seconds_fails_naming_it(headers: dict[str, str]) -> None:
    with pytest.raises(SmokeError, match=r"^Retry-After is not whole seconds") as failure:
        retry_after(accepted(headers))

    assert "POST https://api.example.com/v1/enrollments -> 202" in str(failure.value)
