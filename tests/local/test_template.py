"""The local stack creates what template.yaml declares for a table, and the code's table specs
are the template's tables."""

import copy
from typing import Any

import boto3
import pytest
from moto import mock_aws

from app.adapters.tables import CPF_HASH_INDEX, TABLES
from local.template import load_template, provision, resources_of_type


@pytest.mark.parametrize("spec", TABLES, ids=[spec.logical_id for spec in TABLES])
def test_each_table_spec_is_a_table_of_the_template_with_its_key(spec: Any) -> None:
    table = resources_of_type(load_template(), "AWS::DynamoDB::Table")[spec.logical_id]

    assert table["KeySchema"] == [{"AttributeName": spec.key, "KeyType": "HASH"}]


def test_every_table_of_the_template_has_a_spec() -> None:
    tables = set(resources_of_type(load_template(), "AWS::DynamoDB::Table"))

    assert tables == {spec.logical_id for spec in TABLES}


def test_indexes_ttl_and_a_stream_of_the_template_are_created() -> None:
    template = copy.deepcopy(load_template())
    table = template["Resources"]["EnrollmentsTable"]["Properties"]
    table["AttributeDefinitions"] += [
        {"AttributeName": "owner", "AttributeType": "S"},
        {"AttributeName": "created_at", "AttributeType": "S"},
    ]
    table["GlobalSecondaryIndexes"] += [
        {
            "IndexName": "by-owner",
            "KeySchema": [
                {"AttributeName": "owner", "KeyType": "HASH"},
                {"AttributeName": "created_at", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }
    ]
    table["StreamSpecification"] = {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    table["TimeToLiveSpecification"] = {"AttributeName": "expires_at", "Enabled": True}

    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        stack = provision(
            template,
            dynamodb,
            boto3.client("sqs"),
            secretsmanager=boto3.client("secretsmanager"),
        )
        name = stack.refs["EnrollmentsTable"]
        description = dynamodb.describe_table(TableName=name)["Table"]
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]

    indexes = {index["IndexName"]: index for index in description["GlobalSecondaryIndexes"]}
    assert set(indexes) == {CPF_HASH_INDEX, "by-owner"}
    assert indexes["by-owner"]["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert description["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert stack.attributes[("EnrollmentsTable", "StreamArn")] == description["LatestStreamArn"]
    assert ttl == {"AttributeName": "expires_at", "TimeToLiveStatus": "ENABLED"}
