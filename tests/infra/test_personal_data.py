"""What template.yaml deploys for personal data: the CPF index and its key, the retention, a key of
the operator's own (`DataKmsKeyArn`) on what holds personal data, and the audit log group."""

import re
from typing import Any

import pytest

from app.adapters.tables import CPF_HASH_ATTRIBUTE, CPF_HASH_INDEX, EXPIRY_ATTRIBUTE
from local.template import resources_of_type
from ops.personal_data import OUTPUTS
from tests.infra.conftest import DATA_KEY_ARN, resolved

# What holds personal data: a person's name, age and CPF (the enrollments), a hash of a request's
# body with them (the idempotency records), and the key of the CPF's hash.
PERSONAL_DATA_TABLES = {"EnrollmentsTable", "IdempotencyTable"}
AWS_OWNED = {"SSEEnabled": False}


def props(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = template["Resources"][logical_id]["Properties"]
    return properties


def key_statements(template: dict[str, Any], function_id: str) -> list[dict[str, Any]]:
    """The statements of a function's role that name a KMS action."""
    return [
        statement
        for policy in props(template, f"{function_id}Role").get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
        if any(
            str(action).startswith("kms:")
            for action in (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
        )
    ]


def via(*services: str) -> dict[str, Any]:
    """A `kms:ViaService` condition on these services in the stack's region."""
    names = [{"Fn::Sub": f"{service}.${{AWS::Region}}.amazonaws.com"} for service in services]
    return {"StringEquals": {"kms:ViaService": names[0] if len(names) == 1 else names}}


def test_without_a_key_of_the_operators_the_aws_owned_key_encrypts_and_no_role_uses_kms(
    cfn: dict[str, Any],
) -> None:
    deployed = resolved(cfn)

    for table in resources_of_type(deployed, "AWS::DynamoDB::Table").values():
        assert table.get("SSESpecification", AWS_OWNED) == AWS_OWNED
    assert "KmsKeyId" not in props(deployed, "CpfKeySecret")
    for function_id in ("ApiFunction", "ProcessorFunction", "PreTrafficHook"):
        assert key_statements(deployed, function_id) == []


def test_a_key_of_the_operators_encrypts_every_table_of_personal_data_and_the_cpfs_key(
    cfn: dict[str, Any],
) -> None:
    deployed = resolved(cfn, DataKmsKeyArn=DATA_KEY_ARN)
    by_key = {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "DataKmsKeyArn"}}

    tables = resources_of_type(deployed, "AWS::DynamoDB::Table")
    encrypted = {name for name, table in tables.items() if table.get("SSESpecification") == by_key}
    assert encrypted == PERSONAL_DATA_TABLES
    # The age groups and the clients hold no person's data: the AWS owned key, at no cost.
    for name in set(tables) - PERSONAL_DATA_TABLES:
        assert tables[name].get("SSESpecification", AWS_OWNED) == AWS_OWNED
    assert props(deployed, "CpfKeySecret")["KmsKeyId"] == {"Ref": "DataKmsKeyArn"}


def test_each_role_may_decrypt_with_the_key_only_through_the_services_it_reads_through(
    cfn: dict[str, Any],
) -> None:
    deployed = resolved(cfn, DataKmsKeyArn=DATA_KEY_ARN)
    decrypt = {"Sid": "DataKey", "Effect": "Allow", "Action": "kms:Decrypt"}
    key = {"Resource": {"Ref": "DataKmsKeyArn"}}

    # The API: its tables through DynamoDB, the CPF's key through Secrets Manager.
    assert key_statements(deployed, "ApiFunction") == [
        decrypt | key | {"Condition": via("dynamodb", "secretsmanager")}
    ]
    assert key_statements(deployed, "ProcessorFunction") == [
        decrypt | key | {"Condition": via("dynamodb")}
    ]
    assert key_statements(deployed, "PreTrafficHook") == []


@pytest.mark.parametrize("value", ["", DATA_KEY_ARN])
def test_the_key_parameter_takes_a_keys_arn_or_nothing(cfn: dict[str, Any], value: str) -> None:
    parameter = cfn["Parameters"]["DataKmsKeyArn"]

    assert parameter["Default"] == ""
    assert re.fullmatch(parameter["AllowedPattern"], value)
    # An alias cannot be granted kms:Decrypt: the key's own ARN is needed.
    assert not re.fullmatch(
        parameter["AllowedPattern"], "arn:aws:kms:us-east-1:123456789012:alias/enrollments"
    )


def test_the_enrollments_are_indexed_by_the_cpfs_keyed_hash_alone(cfn: dict[str, Any]) -> None:
    table = props(cfn, "EnrollmentsTable")

    (index,) = [i for i in table["GlobalSecondaryIndexes"] if i["IndexName"] == CPF_HASH_INDEX]
    assert index == {
        "IndexName": CPF_HASH_INDEX,
        "KeySchema": [{"AttributeName": CPF_HASH_ATTRIBUTE, "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "KEYS_ONLY"},
    }
    assert {"AttributeName": CPF_HASH_ATTRIBUTE, "AttributeType": "S"} in table[
        "AttributeDefinitions"
    ]


def test_the_cpfs_key_is_generated_kept_with_the_tables_and_read_only_by_the_api(
    cfn: dict[str, Any],
) -> None:
    secret = cfn["Resources"]["CpfKeySecret"]
    assert (secret["DeletionPolicy"], secret["UpdateReplacePolicy"]) == ("Retain", "Retain")
    generated = secret["Properties"]["GenerateSecretString"]
    assert generated["PasswordLength"] >= 32
    api = props(cfn, "ApiFunction")
    assert api["Environment"]["Variables"]["CPF_KEY_SECRET_ARN"] == {"Ref": "CpfKeySecret"}
    readers = [
        function_id
        for function_id in ("ApiFunction", "ProcessorFunction", "PreTrafficHook")
        for policy in props(cfn, f"{function_id}Role").get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
        if "Fn::If" not in statement and statement["Resource"] == {"Ref": "CpfKeySecret"}
    ]
    assert readers == ["ApiFunction"]


def test_the_retention_is_a_parameter_that_keeps_data_by_default(cfn: dict[str, Any]) -> None:
    parameter = cfn["Parameters"]["RetentionDays"]

    assert (parameter["Default"], parameter["MinValue"]) == (0, 0)
    for function_id in ("ApiFunction", "ProcessorFunction"):
        variables = props(cfn, function_id)["Environment"]["Variables"]
        assert variables["RETENTION_DAYS"] == {"Ref": "RetentionDays"}
    assert props(cfn, "EnrollmentsTable")["TimeToLiveSpecification"] == {
        "AttributeName": EXPIRY_ATTRIBUTE,
        "Enabled": True,
    }


def test_the_operators_tool_finds_what_it_needs_in_the_stacks_outputs(
    cfn: dict[str, Any],
) -> None:
    outputs = {name: output["Value"] for name, output in cfn["Outputs"].items()}

    assert {name: outputs[name] for name in OUTPUTS} == {
        "EnrollmentsTableName": {"Ref": "EnrollmentsTable"},
        "CpfKeySecretArn": {"Ref": "CpfKeySecret"},
        "AuditLogGroupName": {"Ref": "AuditLogGroup"},
    }
    assert props(cfn, "AuditLogGroup")["LogGroupName"] == {"Fn::Sub": "/${AWS::StackName}/audit"}
