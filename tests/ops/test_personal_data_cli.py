"""`enrollment-data` on AWS: the stack found from its outputs, against moto's CloudFormation,
DynamoDB, Secrets Manager, CloudWatch Logs and STS; a person's enrollments found by their CPF's
keyed hash, erased, and every use audited."""

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient

from app.adapters.tables import CPF_HASH_ATTRIBUTE
from app.api.dependencies import get_cpf_key
from app.config import get_api_settings
from app.domain.personal_data import SECONDS_PER_DAY
from local.template import Stack
from ops.personal_data import main
from tests.conftest import VALID_CPF

STACK = "enrollment-data-test"
OTHER_CPF = "11144477735"
NAMES = ("Maria da Silva", "Maria S.", "M. da Silva")


def deploy(stack: Stack, retention_days: int = 0) -> None:
    """A stack whose outputs name the enrollments table, the CPF's key and the audit log, as the
    template's do, with its RetentionDays."""
    template = {
        "Parameters": {"RetentionDays": {"Type": "Number", "Default": 0}},
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            "EnrollmentsTableName": {"Value": stack.refs["EnrollmentsTable"]},
            "CpfKeySecretArn": {"Value": stack.refs["CpfKeySecret"]},
            "AuditLogGroupName": {"Value": stack.refs["AuditLogGroup"]},
        },
    }
    boto3.client("cloudformation").create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "RetentionDays", "ParameterValue": str(retention_days)}],
    )


@pytest.fixture
def enroll(
    client: TestClient, age_group: Callable[[int, int], dict[str, Any]]
) -> Callable[[str, str], str]:
    """Request an enrollment through the API: its id."""
    age_group(0, 150)

    def create(name: str, cpf: str) -> str:
        response = client.post("/enrollments", json={"name": name, "age": 30, "cpf": cpf})
        assert response.status_code == 202, response.text
        enrollment_id: str = response.json()["enrollment_id"]
        return enrollment_id

    return create


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    # What the API printed before (its metric lines) is not the command's.
    capsys.readouterr()
    code = main(["--stack", STACK, "--region", "us-east-1", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out else None, err


def audit_lines(stack: Stack) -> list[dict[str, Any]]:
    events = boto3.client("logs").filter_log_events(logGroupName=stack.refs["AuditLogGroup"])
    return [json.loads(event["message"]) for event in events["events"]]


def item(enrollment_id: str) -> dict[str, Any]:
    found: dict[str, Any] = boto3.client("dynamodb").get_item(
        TableName=get_api_settings().enrollments_table,
        Key={"enrollment_id": {"S": enrollment_id}},
    )["Item"]
    return found


def test_find_then_erase_every_enrollment_of_one_cpf(
    stack: Stack,
    client: TestClient,
    enroll: Callable[[str, str], str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    deploy(stack)
    ids = [enroll(name, VALID_CPF) for name in NAMES]
    someone_else = enroll("João Souza", OTHER_CPF)

    code, found, _ = run(capsys, "find", "529.982.247-25")

    assert code == 0
    assert found["cpf"] == "*********25"
    assert [e["enrollment_id"] for e in found["enrollments"]] == ids
    assert [e["name"] for e in found["enrollments"]] == list(NAMES)
    assert {e["owner"] for e in found["enrollments"]} == {"in-process"}
    assert all("cpf" not in e for e in found["enrollments"])

    code, erased, _ = run(capsys, "erase", VALID_CPF)

    assert code == 0
    assert [t["enrollment_id"] for t in erased["erased"]] == ids
    for tombstone in erased["erased"]:
        assert tombstone["status"] == "ERASED"
        assert not {"name", "age"} & set(tombstone)
        assert client.get(f"/enrollments/{tombstone['enrollment_id']}").json()["status"] == "ERASED"
    assert run(capsys, "find", VALID_CPF)[1]["enrollments"] == []
    # The other person's enrollment is as it was.
    assert item(someone_else)["cpf"]["S"] == OTHER_CPF
    assert run(capsys, "find", OTHER_CPF)[1]["enrollments"][0]["enrollment_id"] == someone_else
    stored = json.dumps(boto3.client("dynamodb").scan(TableName=stack.refs["EnrollmentsTable"]))
    assert VALID_CPF not in stored
    assert not any(name in stored for name in NAMES)


def test_every_use_is_audited_with_the_operators_identity_and_no_personal_data(
    stack: Stack, enroll: Callable[[str, str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    deploy(stack)
    ids = [enroll(name, VALID_CPF) for name in NAMES[:2]]

    run(capsys, "find", VALID_CPF)
    run(capsys, "erase", VALID_CPF)
    run(capsys, "find", VALID_CPF)

    lines = audit_lines(stack)
    operator = boto3.client("sts").get_caller_identity()["Arn"]
    assert [(line["action"], line.get("enrollment_id")) for line in lines] == [
        *(("find", i) for i in ids),
        *(("erase", i) for i in ids),
        ("find", None),
    ]
    assert {line["operator"] for line in lines} == {operator}
    assert {line["logger"] for line in lines} == {"enrollment.audit"}
    # One id per run, as a request's lines share its id.
    assert len({line["request_id"] for line in lines}) == 3
    assert VALID_CPF not in json.dumps(lines)
    assert not any(name in json.dumps(lines) for name in NAMES)


def test_an_erased_tombstone_expires_after_the_stacks_retention(
    stack: Stack, enroll: Callable[[str, str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    deploy(stack, retention_days=90)
    enrollment_id = enroll(NAMES[0], VALID_CPF)

    run(capsys, "erase", VALID_CPF)

    tombstone = item(enrollment_id)
    erased_at = datetime.fromisoformat(tombstone["erased_at"]["S"])
    expires_at = int(tombstone["expires_at"]["N"])
    assert expires_at == int(erased_at.timestamp()) + 90 * SECONDS_PER_DAY


def test_after_a_rotation_both_keys_find_and_reindex_moves_every_hash_to_the_new_one(
    stack: Stack,
    enroll: Callable[[str, str], str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    deploy(stack)
    before = enroll(NAMES[0], VALID_CPF)
    secrets = boto3.client("secretsmanager")
    secrets.put_secret_value(SecretId=stack.refs["CpfKeySecret"], SecretString="rotated-key")
    # The API's processes take the new key once the one they hold is old enough.
    get_cpf_key().forget()
    after = enroll(NAMES[1], VALID_CPF)
    assert item(before)[CPF_HASH_ATTRIBUTE] != item(after)[CPF_HASH_ATTRIBUTE]

    assert [e["enrollment_id"] for e in run(capsys, "find", VALID_CPF)[1]["enrollments"]] == [
        before,
        after,
    ]

    code, reindexed, _ = run(capsys, "reindex")

    assert (code, reindexed["reindexed"]) == (0, 1)
    assert item(before)[CPF_HASH_ATTRIBUTE] == item(after)[CPF_HASH_ATTRIBUTE]
    last = audit_lines(stack)[-1]
    assert (last["action"], last["written"], "enrollment_id" in last) == ("reindex", "1", False)
    # A second rotation: what was reindexed is found under the key that is now the previous one.
    secrets.put_secret_value(SecretId=stack.refs["CpfKeySecret"], SecretString="third-key")
    assert len(run(capsys, "find", VALID_CPF)[1]["enrollments"]) == 2


def test_reindex_hashes_enrollments_stored_before_the_index_and_skips_the_erased(
    stack: Stack,
    client: TestClient,
    enroll: Callable[[str, str], str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    deploy(stack)
    older, erased = enroll(NAMES[0], VALID_CPF), enroll(NAMES[1], VALID_CPF)
    dynamodb = boto3.client("dynamodb")
    dynamodb.update_item(
        TableName=stack.refs["EnrollmentsTable"],
        Key={"enrollment_id": {"S": older}},
        UpdateExpression=f"REMOVE {CPF_HASH_ATTRIBUTE}",
    )
    client.delete(f"/enrollments/{erased}")
    assert [e["enrollment_id"] for e in run(capsys, "find", VALID_CPF)[1]["enrollments"]] == []

    code, reindexed, _ = run(capsys, "reindex")

    assert (code, reindexed["reindexed"]) == (0, 1)
    assert CPF_HASH_ATTRIBUTE not in item(erased)
    assert [e["enrollment_id"] for e in run(capsys, "find", VALID_CPF)[1]["enrollments"]] == [older]


@pytest.mark.parametrize("cpf", ["52998224724", "1234", "111.111.111-11"])
def test_an_invalid_cpf_is_a_one_line_usage_error(
    capsys: pytest.CaptureFixture[str], cpf: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["find", cpf])

    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert err.startswith("enrollment-data find: argument cpf: CPF ")


def test_a_stack_without_the_outputs_is_named(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    boto3.client("cloudformation").create_stack(
        StackName=STACK,
        TemplateBody=json.dumps({"Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}}}),
    )

    code, out, err = run(capsys, "find", VALID_CPF)

    assert (code, out) == (1, None)
    assert err == (
        f"enrollment-data: Stack {STACK} has no output AuditLogGroupName, CpfKeySecretArn, "
        "EnrollmentsTableName\n"
    )
