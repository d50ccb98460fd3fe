"""`enrollment-clients` on AWS: the stack found from its outputs, against moto's CloudFormation,
API Gateway and DynamoDB."""

import json
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import boto3
import pytest

from app.adapters import clients, deliveries
from app.domain.clients import DEFAULT_SCOPES
from app.domain.models.webhooks import DeliveryAttempt, DeliveryOutcome
from local.template import Stack
from ops.clients import ClientsError, Target, add, main
from ops.config import LocalState
from tests.conftest import add_client, queued_messages

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
            "WebhookDeliveriesTableName": {"Value": stack.refs["WebhookDeliveriesTable"]},
            "WebhookDeliveryQueueUrl": {"Value": stack.refs["WebhookDeliveryQueue"]},
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
    assert added["scopes"] == [
        "age-groups:read",
        "enrollments:read",
        "enrollments:write",
        "webhooks:write",
    ]
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


# --- Names: one client each, valid, kept when revoked ---


def target(stack: Stack, plan: str) -> Target:
    """What `main` finds from the stack's outputs, with clients of this test's own."""
    apigateway, dynamodb = boto3.client("apigateway"), boto3.client("dynamodb")
    return Target(STACK, apigateway, dynamodb, plan, stack.refs["ClientsTable"])


def test_two_adds_of_one_name_at_once_make_one_client(
    deployed: str, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = target(stack, deployed), target(stack, deployed)
    other: list[dict[str, Any]] = []

    def other_add_in_between(model: Any, **_: Any) -> None:
        # Two adds at once: the other one runs whole between this one's check and its write.
        if model.name in {"PutItem", "TransactWriteItems"} and not other:
            other.append(add(second, "partner-a", DEFAULT_SCOPES))

    first.dynamodb.meta.events.register("before-call.dynamodb", other_add_in_between)

    with pytest.raises(ClientsError, match=r"^A client named partner-a exists already$"):
        add(first, "partner-a", DEFAULT_SCOPES)

    [winner] = other
    listed = run(capsys, "list")[1]
    assert [(c["name"], c["api_key_id"]) for c in listed] == [("partner-a", winner["api_key_id"])]
    # The loser's key is deleted: no key without its record.
    keys = boto3.client("apigateway").get_api_keys()["items"]
    assert [k["id"] for k in keys] == [winner["api_key_id"]]
    code, revoked, _ = run(capsys, "revoke", "partner-a")
    assert (code, revoked["api_key_ids"]) == (0, [winner["api_key_id"]])


def test_a_name_is_claimed_by_an_item_no_reader_takes_for_a_client(
    deployed: str, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    added = run(capsys, "add", "partner-a")[1]

    table = stack.refs["ClientsTable"]
    dynamodb = boto3.client("dynamodb")
    keys = {item["api_key_id"]["S"] for item in dynamodb.scan(TableName=table)["Items"]}
    [claim] = keys - {added["api_key_id"]}
    repository = clients.ClientRepository(dynamodb, table)
    assert repository.get(claim) is None
    assert repository.get(added["api_key_id"]) is not None
    assert [c["api_key_id"] for c in run(capsys, "list")[1]] == [added["api_key_id"]]


def test_an_add_whose_write_took_effect_unseen_keeps_its_client(
    deployed: str, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    adding = target(stack, deployed)
    writer = boto3.client("dynamodb")
    sent: list[Any] = []

    def first_attempt_took_effect(params: dict[str, Any], **_: Any) -> None:
        # The SDK retries a write whose answer was lost; the retry meets what the first wrote.
        if not sent:
            sent.append(writer.transact_write_items(**params))

    adding.dynamodb.meta.events.register(
        "provide-client-params.dynamodb.TransactWriteItems", first_attempt_took_effect
    )

    added = add(adding, "partner-a", DEFAULT_SCOPES)

    assert sent
    assert [c["api_key_id"] for c in run(capsys, "list")[1]] == [added["api_key_id"]]
    assert boto3.client("apigateway").get_api_key(apiKey=added["api_key_id"])["enabled"]


def test_clients_of_one_name_from_before_names_were_unique_are_listed_and_revoked_together(
    deployed: str, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    apigateway = boto3.client("apigateway")
    keys = [apigateway.create_api_key(name="old", enabled=True)["id"] for _ in range(2)]
    ids = sorted(add_client(key, name="twin").api_key_id for key in keys)

    listed = run(capsys, "list")[1]
    code, revoked, err = run(capsys, "revoke", "twin")

    assert [(c["name"], c["api_key_id"]) for c in listed] == [("twin", key) for key in ids]
    assert (code, err) == (0, "")
    assert revoked == {"name": "twin", "api_key_ids": ids, "enabled": False}
    assert [apigateway.get_api_key(apiKey=key)["enabled"] for key in ids] == [False, False]
    assert [c["enabled"] for c in run(capsys, "list")[1]] == [False, False]


@pytest.mark.parametrize(
    "name",
    ["", " partner-a", "partner-a ", "partner\na", "tab\tbed", "\x1b[31mred", "x" * 65],
    ids=["empty", "leading-space", "trailing-space", "newline", "tab", "escape", "too-long"],
)
def test_an_invalid_name_is_a_one_line_usage_error(
    deployed: str, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        run(capsys, "add", name)

    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert f"invalid client name {name!r}" in err
    assert boto3.client("apigateway").get_api_keys()["items"] == []


@pytest.mark.parametrize("name", ["x" * 64, "Parceiro São Paulo (2)"])
def test_a_name_of_64_printable_characters_with_inner_spaces_is_valid(
    deployed: str, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    code, added, _ = run(capsys, "add", name)

    assert (code, added["name"]) == (0, name)


def test_a_revoked_name_is_enabled_again_not_added_again(
    deployed: str, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    added = run(capsys, "add", "partner-a")[1]
    assert run(capsys, "revoke", "partner-a")[0] == 0

    code, out, err = run(capsys, "add", "partner-a")
    assert (code, out) == (1, None)
    assert err == (
        "enrollment-clients: A client named partner-a exists already, revoked: "
        "`enrollment-clients enable partner-a` gives its key back\n"
    )

    code, enabled, _ = run(capsys, "enable", "partner-a")
    assert (code, enabled) == (
        0,
        {"name": "partner-a", "api_key_ids": [added["api_key_id"]], "enabled": True},
    )
    assert boto3.client("apigateway").get_api_key(apiKey=added["api_key_id"])["enabled"] is True
    assert [c["enabled"] for c in run(capsys, "list")[1]] == [True]
    assert run(capsys, "enable", "nobody")[2] == "enrollment-clients: No client named nobody\n"


# --- Where: the options before or after the command ---


def test_the_stack_and_region_go_before_or_after_the_command(
    deployed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["add", "partner-a", "--stack", STACK, "--region", "us-east-1"]) == 0
    capsys.readouterr()
    assert main(["--region", "us-east-1", "list", "--stack", STACK]) == 0

    assert [c["name"] for c in json.loads(capsys.readouterr().out)] == ["partner-a"]


@pytest.fixture
def state_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Where `--local` looks for `make run`'s stack: a file of this test's (none yet)."""
    path = tmp_path / "local-stack.json"
    monkeypatch.setenv("LOCAL_STATE_FILE", str(path))
    return path


@pytest.mark.parametrize("args", [["--local", "list"], ["list", "--local"]])
def test_local_goes_before_or_after_the_command(
    state_file: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    assert main(args) == 1
    assert "make run is not running here" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["--local", "--stack", "s", "list"],
        ["--local", "list", "--stack", "s"],
        ["--stack", "s", "list", "--local"],
        ["list", "--stack", "s", "--local"],
    ],
)
def test_local_and_stack_exclude_each_other_in_any_position(
    capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)

    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "not allowed with argument" in err


# --- Errors: one line, 2 for usage, 1 for a failure ---


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith("enrollment-clients: ")
    return err


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "Invalid JSON"),
        ("[]", "Input should be an object"),
        ('{"region": "us-east-1"}', "endpoint_url: Field required"),
    ],
)
def test_a_corrupt_local_state_file_is_one_line(
    state_file: Path, capsys: pytest.CaptureFixture[str], content: str, reason: str
) -> None:
    state_file.write_text(content)

    assert main(["--local", "list"]) == 1
    err = one_line_error(capsys)
    assert str(state_file) in err
    assert reason in err
    assert "restart make run" in err


def test_an_unreachable_local_stack_is_one_line(
    state_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A port bound and not listening: connecting is refused at once. One attempt: no retries.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        state = LocalState(
            endpoint_url=f"http://127.0.0.1:{port}",
            region="us-east-1",
            stack_name="local",
            usage_plan_id="plan",
            clients_table="clients",
            api_url="http://127.0.0.1:8000",
            enrollments_table="enrollments",
            cpf_key_secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:k-AbCdEf",
            audit_log_group="/local/audit",
            retention_days=0,
            webhook_deliveries_table="deliveries",
            webhook_delivery_queue_url=f"http://127.0.0.1:{port}/queue",
        )
        state_file.write_text(state.model_dump_json())

        assert main(["--local", "list"]) == 1

    err = one_line_error(capsys)
    assert f"http://127.0.0.1:{port}" in err
    assert "is make run still running?" in err


def test_no_region_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))

    assert main(["list"]) == 2
    assert "no AWS region: give --region" in one_line_error(capsys)


def test_no_credentials_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Nothing is sent: botocore looks for credentials before it signs the first request.
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    assert main(["--region", "us-east-1", "list"]) == 1
    assert "no AWS credentials" in one_line_error(capsys)


def test_aws_refusing_is_one_line_and_leaves_no_key(
    deployed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            "UsagePlanId": {"Value": deployed},
            "ClientsTableName": {"Value": "no-such-table"},
        },
    }
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(StackName="other", TemplateBody=json.dumps(template))

    assert main(["--stack", "other", "--region", "us-east-1", "add", "partner-a"]) == 1

    assert "enrollment-clients: AWS refused: " in one_line_error(capsys)
    assert boto3.client("apigateway").get_api_keys()["items"] == []


# --- A client's webhook deliveries, for the operator ---


def attempt(number: int, outcome: str, status_code: int | None) -> DeliveryAttempt:
    enrollment = UUID(int=number)
    return DeliveryAttempt(
        delivery_id=f"dlv_{number:020x}",
        webhook_id=f"msg_{enrollment.hex}_enrollment_processed",
        event_type="enrollment.processed",
        enrollment_id=enrollment,
        attempt=1,
        outcome=DeliveryOutcome(outcome),
        status_code=status_code,
        attempted_at=datetime(2026, 12, 6, 12, number, tzinfo=UTC),
    )


def test_deliveries_lists_a_clients_attempts_newest_first_and_the_failed_alone(
    deployed: str, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, added, _ = run(capsys, "add", "partner-a")
    assert code == 0
    dynamodb = boto3.client("dynamodb")
    for made in (attempt(1, "delivered", 204), attempt(2, "failed", 503)):
        dynamodb.put_item(
            TableName=stack.refs["WebhookDeliveriesTable"],
            Item=deliveries.to_item(added["api_key_id"], made),
        )

    code, listed, _ = run(capsys, "deliveries", "partner-a")
    assert code == 0
    assert [(a["delivery_id"], a["outcome"]) for a in listed] == [
        (attempt(2, "failed", 503).delivery_id, "failed"),
        (attempt(1, "delivered", 204).delivery_id, "delivered"),
    ]
    code, failed, _ = run(capsys, "deliveries", "--failed", "partner-a")
    assert [a["status_code"] for a in failed] == [503]


def test_redeliver_queues_the_attempts_event_for_its_client(
    deployed: str, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, added, _ = run(capsys, "add", "partner-a")
    failed = attempt(3, "failed", 503)
    boto3.client("dynamodb").put_item(
        TableName=stack.refs["WebhookDeliveriesTable"],
        Item=deliveries.to_item(added["api_key_id"], failed),
    )

    code, queued, _ = run(capsys, "redeliver", "partner-a", failed.delivery_id)

    assert code == 0
    assert queued == {
        "webhook_id": failed.webhook_id,
        "enrollment_id": str(failed.enrollment_id),
    }
    [message] = queued_messages(stack, "WebhookDeliveryQueue")
    job = json.loads(message["Body"])
    assert (job["owner"], job["enrollment_id"], job["attempt"]) == (
        added["api_key_id"],
        str(failed.enrollment_id),
        1,
    )


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("redeliver", "partner-a", "dlv_0000000000000000ffff"), "has no delivery attempt"),
        (("redeliver", "nobody", "dlv_01"), "No client named 'nobody'"),
    ],
)
def test_a_delivery_command_that_cannot_act_is_one_line(
    deployed: str, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], error: str
) -> None:
    assert run(capsys, "add", "partner-a")[0] == 0

    assert main(["--stack", STACK, "--region", "us-east-1", *args]) == 1
    assert error in one_line_error(capsys)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("redeliver", "partner-a", "not-an-id"), "invalid delivery id 'not-an-id'"),
        (("deliveries", "partner-a", "--limit", "101"), "invalid limit '101': 1 to 100"),
    ],
)
def test_an_invalid_delivery_id_or_limit_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], error: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(list(args))

    assert exited.value.code == 2
    assert error in capsys.readouterr().err
