"""The PreTraffic hook: the new version's answers decide the deployment, and it writes nothing.

The hook runs as on Lambda: its real botocore clients, its Lambda invocations answered in this
process by the version under test (the API's real handler over the template's tables in moto,
or a broken stand-in), and CodeDeploy's answer stubbed, with the verdict it must receive.
"""

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from app.config import get_api_settings as get_app_settings
from app.entrypoints.events import rest_event
from deploy_hooks.clients import get_codedeploy_client, get_lambda_client
from deploy_hooks.pre_traffic import FAILED, SUCCEEDED, handler
from local.aws_shapes import LambdaContext
from local.template import Stack, load_template, resources_of_type
from tests.aws_events import load_event
from tests.deploy_hooks.lambda_stand_in import Function, InProcessLambda, answering_invoke

pytestmark = pytest.mark.usefixtures("event_loop_as_on_lambda")

# The ARN `!Ref ApiFunction.Version` gives: the function's, qualified by the version's number.
VERSION = "arn:aws:lambda:us-east-1:123456789012:function:enrollment-service-ApiFunction-AbC123:7"
LIFECYCLE_EVENT = load_event("codedeploy_lifecycle_hook.json")


def api(event: dict[str, Any], context: Any) -> Any:
    """The new version, healthy: the API's own Lambda handler."""
    from app.main import handler as api_handler

    return api_handler(event, context)


def answer(status: int, body: Any) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "multiValueHeaders": {},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def answers_500(event: dict[str, Any], context: Any) -> Any:
    return answer(500, {"detail": "Internal server error", "request_id": "r"})


def serves_requests_without_a_key(event: dict[str, Any], context: Any) -> Any:
    # A version whose key check is broken: it takes a request that carried no key for the stack's.
    identity = event["requestContext"]["identity"]
    identity.setdefault("apiKeyId", get_app_settings().stack_api_key_id)
    return api(event, context)


def crashes(event: dict[str, Any], context: Any) -> Any:
    raise RuntimeError("cannot import name 'create_app'")


def answers_no_proxy_response(event: dict[str, Any], context: Any) -> Any:
    return {"ok": True}


def lists_age_groups_as_an_object(event: dict[str, Any], context: Any) -> Any:
    if event["path"] == "/age-groups" and event["requestContext"]["identity"].get("apiKeyId"):
        return answer(200, {"items": []})
    return api(event, context)


@pytest.fixture
def hook_environment(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """The hook's environment as the template sets it, beside the API's on the same stack."""
    variables = load_template()["Resources"]["PreTrafficHook"]["Properties"]["Environment"]
    assert set(variables["Variables"]) == {"NEW_VERSION", "STACK_API_KEY_ID"}
    monkeypatch.setenv("NEW_VERSION", VERSION)
    monkeypatch.setenv("STACK_API_KEY_ID", stack.refs["StackApiKey"])
    return stack


@pytest.fixture
def codedeploy() -> Iterator[Stubber]:
    """CodeDeploy, stubbed on the hook's own client: each test says which verdict it expects."""
    with Stubber(get_codedeploy_client()) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def expect_verdict(codedeploy: Stubber, status: str) -> None:
    codedeploy.add_response(
        "put_lifecycle_event_hook_execution_status",
        {"lifecycleEventHookExecutionId": LIFECYCLE_EVENT["LifecycleEventHookExecutionId"]},
        {
            "deploymentId": LIFECYCLE_EVENT["DeploymentId"],
            "lifecycleEventHookExecutionId": LIFECYCLE_EVENT["LifecycleEventHookExecutionId"],
            "status": status,
        },
    )


def run_hook(version: Function) -> tuple[str, InProcessLambda]:
    """The hook, invoked as CodeDeploy invokes it, with `version` answering its requests."""
    with answering_invoke(get_lambda_client(), version) as invoked:
        status = handler(LIFECYCLE_EVENT, LambdaContext())
    return status, invoked


def stored(stack: Stack) -> dict[str, Any]:
    """Every item of the stack's tables and the messages on its queues, to compare."""
    dynamodb = boto3.client("dynamodb")
    sqs = boto3.client("sqs")
    tables = {
        logical_id: sorted(
            json.dumps(item, sort_keys=True)
            for item in dynamodb.scan(TableName=stack.refs[logical_id])["Items"]
        )
        for logical_id in resources_of_type(load_template(), "AWS::DynamoDB::Table")
    }
    queues = {
        logical_id: sqs.get_queue_attributes(
            QueueUrl=stack.refs[logical_id], AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        for logical_id in resources_of_type(load_template(), "AWS::SQS::Queue")
    }
    return {"tables": tables, "queues": queues}


def test_a_healthy_version_passes_every_check_and_traffic_may_shift(
    hook_environment: Stack, codedeploy: Stubber
) -> None:
    expect_verdict(codedeploy, SUCCEEDED)

    status, invoked = run_hook(api)

    assert status == SUCCEEDED
    # Each request went to the version under deployment, never to the alias or $LATEST.
    assert invoked.invoked == [VERSION] * 3
    key_ids = [event["requestContext"]["identity"].get("apiKeyId") for event in invoked.events]
    stack_key = hook_environment.refs["StackApiKey"]
    assert key_ids == [None, stack_key, stack_key]
    assert [event["httpMethod"] for event in invoked.events] == ["GET"] * 3


def test_the_checks_write_nothing(hook_environment: Stack, codedeploy: Stubber) -> None:
    # A stack with data: an age group and an enrollment, as production has.
    for method, path, body in (
        ("POST", "/age-groups", {"min_age": 18, "max_age": 30}),
        ("POST", "/enrollments", {"name": "Ana", "age": 20, "cpf": "52998224725"}),
    ):
        created = api(rest_event(method, path, body), LambdaContext())
        assert created["statusCode"] in (201, 202), created
    before = stored(hook_environment)
    expect_verdict(codedeploy, SUCCEEDED)

    status, invoked = run_hook(api)

    assert status == SUCCEEDED
    assert {event["httpMethod"] for event in invoked.events} == {"GET"}
    assert stored(hook_environment) == before


@pytest.mark.parametrize(
    ("version", "invocations"),
    [
        # Each stops at the first check it fails.
        (answers_500, 1),
        (serves_requests_without_a_key, 1),
        (crashes, 1),
        (answers_no_proxy_response, 1),
        (lists_age_groups_as_an_object, 2),
    ],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_a_broken_version_fails_the_deployment(
    hook_environment: Stack, codedeploy: Stubber, version: Function, invocations: int
) -> None:
    expect_verdict(codedeploy, FAILED)

    status, invoked = run_hook(version)

    assert status == FAILED
    assert invoked.invoked == [VERSION] * invocations


def test_a_version_that_cannot_read_its_tables_fails_the_deployment(
    hook_environment: Stack, codedeploy: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A new version configured with a table it cannot reach (a wrong name, a missing grant).
    monkeypatch.setenv("AGE_GROUPS_TABLE", "no-such-table")
    get_app_settings.cache_clear()
    expect_verdict(codedeploy, FAILED)

    status, invoked = run_hook(api)

    assert status == FAILED
    assert len(invoked.invoked) == 2


def test_a_hook_without_its_settings_still_fails_the_deployment_at_once(
    hook_environment: Stack, codedeploy: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without a verdict, CodeDeploy would wait an hour for one.
    monkeypatch.delenv("NEW_VERSION")
    expect_verdict(codedeploy, FAILED)

    status, invoked = run_hook(api)

    assert status == FAILED
    assert invoked.invoked == []


def test_a_verdict_codedeploy_did_not_take_makes_the_hook_raise(
    hook_environment: Stack, codedeploy: Stubber
) -> None:
    # Lambda then runs the asynchronous invocation again, checks and all.
    codedeploy.add_client_error(
        "put_lifecycle_event_hook_execution_status", "ThrottlingException", http_status_code=400
    )

    with pytest.raises(ClientError, match="ThrottlingException"):
        run_hook(api)
