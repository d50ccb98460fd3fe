"""The local stack creates what template.yaml declares for a table, and the code's table specs
are the template's tables."""

import copy
from typing import Any

import boto3
import pytest
from moto import mock_aws

from app.adapters.tables import TABLES
from local.template import load_template, provision, resources_of_type


@pytest.mark.parametrize("spec", TABLES, ids=[spec.logical_id for spec in TABLES])
def test_each_table_spec_is_a_table_of_the_template_with_its_key(spec: Any) -> None:
    table = resources_of_type(load_template(), "AWS::DynamoDB::Table")[spec.logical_id]

    sort = [] if spec.sort_key is None else [{"AttributeName": spec.sort_key, "KeyType": "RANGE"}]
    assert table["KeySchema"] == [{"AttributeName": spec.key, "KeyType": "HASH"}, *sort]


def test_every_table_of_the_template_has_a_spec() -> None:
    tables = set(resources_of_type(load_template(), "AWS::DynamoDB::Table"))

    assert tables == {spec.logical_id for spec in TABLES}


def test_indexes_ttl_and_a_stream_of_the_template_are_created() -> None:
    template = copy.deepcopy(load_template())
    table = template["Resources"]["EnrollmentsTable"]["Properties"]
    # The template's own indexes; a stream and a TTL added here.
    declared = {
        index["IndexName"]: (index["KeySchema"], index["Projection"])
        for index in table["GlobalSecondaryIndexes"]
    }
    table["StreamSpecification"] = {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    table["TimeToLiveSpecification"] = {"AttributeName": "expires_at", "Enabled": True}

    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        stack = provision(template, dynamodb, boto3.client("sqs"), boto3.client("secretsmanager"))
        name = stack.refs["EnrollmentsTable"]
        description = dynamodb.describe_table(TableName=name)["Table"]
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]

    created = {
        index["IndexName"]: (index["KeySchema"], index["Projection"])
        for index in description["GlobalSecondaryIndexes"]
    }
    assert created == declared
    assert len(created) == 5
    assert description["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert stack.attributes[("EnrollmentsTable", "StreamArn")] == description["LatestStreamArn"]
    assert ttl == {"AttributeName": "expires_at", "TimeToLiveStatus": "ENABLED"}


def test_a_secret_of_the_template_is_created_with_a_random_value_its_ref_its_arn() -> None:
    template = load_template()
    generate = template["Resources"]["CursorSecret"]["Properties"]["GenerateSecretString"]

    with mock_aws():
        secretsmanager = boto3.client("secretsmanager")
        first = provision(template, boto3.client("dynamodb"), boto3.client("sqs"), secretsmanager)
        again = provision(
            template,
            boto3.client("dynamodb"),
            boto3.client("sqs"),
            secretsmanager,
            prefix="other-",
        )
        value = secretsmanager.get_secret_value(SecretId=first.refs["CursorSecret"])
        other = secretsmanager.get_secret_value(SecretId=again.refs["CursorSecret"])

    assert first.refs["CursorSecret"].startswith("arn:aws:secretsmanager:")
    assert value["Name"] == "CursorSecret"
    assert len(value["SecretString"]) == generate["PasswordLength"]
    assert value["SecretString"].isalnum()
    assert value["SecretString"] != other["SecretString"]


def test_a_shared_emulator_keeps_the_secret_a_previous_run_made() -> None:
    template = load_template()

    with mock_aws():
        clients = (boto3.client("dynamodb"), boto3.client("sqs"), boto3.client("secretsmanager"))
        first = provision(template, *clients)
        second = provision(template, *clients, exist_ok=True)

    assert second.refs["CursorSecret"] == first.refs["CursorSecret"]
