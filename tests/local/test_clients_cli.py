"""`enrollment-clients` on AWS: the stack found from its outputs, against moto's CloudFormation,
API Gateway and DynamoDB."""

import json
from typing import Any

import boto3
import pytest

from app.adapters import clients
from local.clients import main
from local.template import Stack

STACK = "enrollment-test"


@pytest.fixture
def deployed(stack: Stack) -> str:
    """A stack whose outputs name a usage plan and the clients table, as the template's do."""
    plan = boto3.client("apigateway").create_usage_plan(name="plan")["id"]
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            "UsagePlanId": {"Value": plan},
            "ClientsTableName": {"Value": stack.refs["ClientsTable"]},
        },
    }
    boto3.client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(template))
    return plan


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    code = main(["--stack", STACK, "--region", "us-east-1", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out else None, err


def test_add_creates_a_key_on_the_plan_and_a_record(
    deployed: str, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, added, _ = run(capsys, "add", "partner-a")

    assert code == 0
    assert added["name"] == "partner-a"
    assert added["scopes"] == ["age-groups:read", "enrollments:read", "enrollments:write"]
    apigateway = boto3.client("apigateway")
    key = apigateway.get_api_key(apiKey=added["api_key_id"], includeValue=True)
    assert key["value"] == added["api_key"]
    assert key["enabled"] is True
    attached = apigateway.get_usage_plan_keys(usagePlanId=deployed)["items"]
    assert [k["id"] for k in attached] == [added["api_key_id"]]
    item = boto3.client("dynamodb").get_item(
        TableName=stack.refs["ClientsTable"], Key={"api_key_id": {"S": added["api_key_id"]}}
    )["Item"]
    assert clients.from_item(item).enabled


def test_add_with_scopes_list_and_revoke(
    deployed: str, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, added, _ = run(capsys, "add", "reporting", "--scope", "enrollments:read-all")
    assert (code, added["scopes"]) == (0, ["enrollments:read-all"])

    code, listed, _ = run(capsys, "list")
    assert code == 0
    assert [(c["name"], c["scopes"], c["enabled"]) for c in listed] == [
        ("reporting", ["enrollments:read-all"], True)
    ]
    assert "api_key" not in listed[0]

    code, revoked, _ = run(capsys, "revoke", "reporting")
    assert (code, revoked["enabled"]) == (0, False)
    key = boto3.client("apigateway").get_api_key(apiKey=added["api_key_id"])
    assert key["enabled"] is False
    assert run(capsys, "list")[1][0]["enabled"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "twice"], "A client named twice exists already"),
        (["revoke", "nobody"], "No client named nobody"),
    ],
)
def test_errors_are_one_line_and_a_non_zero_exit(
    deployed: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert run(capsys, "add", "twice")[0] == 0

    code, out, err = run(capsys, *args)

    assert (code, out) == (1, None)
    assert err == f"enrollment-clients: {message}\n"


def test_an_unknown_stack_is_named(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "list")

    assert (code, out) == (1, None)
    assert err.startswith(f"enrollment-clients: No stack {STACK} in us-east-1")
    assert len(err.splitlines()) == 1


def test_an_unknown_scope_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["add", "x", "--scope", "enrollments:delete"])

    assert exited.value.code == 2
    assert "unknown scope 'enrollments:delete'" in capsys.readouterr().err


def test_local_without_make_run_says_so(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from local.config import get_local_settings

    monkeypatch.setenv("LOCAL_STATE_FILE", str(tmp_path / "none.json"))
    get_local_settings.cache_clear()
    try:
        code = main(["--local", "list"])
    finally:
        get_local_settings.cache_clear()

    assert code == 1
    assert "make run is not running here" in capsys.readouterr().err
