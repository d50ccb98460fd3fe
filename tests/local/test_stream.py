"""The local DynamoDB stream event source mapping: filtered, in order, retried, resumed."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.aws_shapes import LambdaContext
from local.stream import StreamEventSourceMapping, StreamSource, matches, stream_source
from local.template import load_template


@pytest.fixture
def table() -> Iterator[tuple[str, str]]:
    """A table with a keys-only stream, and a queue for the records given up on."""
    with mock_aws():
        created = boto3.client("dynamodb").create_table(
            TableName="items",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
        )
        queue = boto3.client("sqs").create_queue(QueueName="failures")["QueueUrl"]
        yield created["TableDescription"]["LatestStreamArn"], queue


def put(key: str) -> None:
    boto3.client("dynamodb").put_item(TableName="items", Item={"id": {"S": key}})


def modify(key: str) -> None:
    boto3.client("dynamodb").update_item(
        TableName="items",
        Key={"id": {"S": key}},
        UpdateExpression="SET changed = :t",
        ExpressionAttributeValues={":t": {"BOOL": True}},
    )


class Recorder:
    """A handler that records the keys of each batch, and fails as it is told."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.fail: set[str] = set()
        self.raises = False

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        keys = [r["dynamodb"]["Keys"]["id"]["S"] for r in event["Records"]]
        self.batches.append(keys)
        if self.raises:
            raise RuntimeError("the function crashed")
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["dynamodb"]["SequenceNumber"]}
                for r in event["Records"]
                if r["dynamodb"]["Keys"]["id"]["S"] in self.fail
            ]
        }


def mapping(
    stream: tuple[str, str], handler: Recorder, checkpoint: Path, retries: int = 2
) -> StreamEventSourceMapping:
    arn, queue = stream
    source = StreamSource(
        table_id="items",
        batch_size=100,
        patterns=({"eventName": ["MODIFY"]},),
        maximum_retry_attempts=retries,
        failure_queue_id="failures",
        starting_position="TRIM_HORIZON",
    )
    return StreamEventSourceMapping(
        boto3.client("dynamodbstreams"),
        arn,
        handler,
        source,
        LambdaContext,
        checkpoint,
        boto3.client("sqs"),
        queue,
    )


def test_only_the_records_the_filter_matches_reach_the_handler(
    table: tuple[str, str], tmp_path: Path
) -> None:
    handler = Recorder()
    for key in ("a", "b"):
        put(key)
    modify("a")

    mapping(table, handler, tmp_path / "at.json").poll()

    assert handler.batches == [["a"]]


def test_a_mapping_started_again_resumes_where_the_last_one_stopped(
    table: tuple[str, str], tmp_path: Path
) -> None:
    handler = Recorder()
    put("a")
    modify("a")
    mapping(table, handler, tmp_path / "at.json").poll()
    put("b")
    modify("b")

    again = mapping(table, handler, tmp_path / "at.json")
    again.poll()
    again.poll()

    assert handler.batches == [["a"], ["b"]]


def test_a_batch_whose_handler_raises_comes_again_then_goes_to_the_failure_queue(
    table: tuple[str, str], tmp_path: Path
) -> None:
    handler = Recorder()
    handler.raises = True
    put("a")
    modify("a")
    reader = mapping(table, handler, tmp_path / "at.json", retries=2)

    for _ in range(4):
        reader.poll()

    # The first attempt and two retries, then the record is given up on and the shard moves on.
    assert handler.batches == [["a"], ["a"], ["a"]]
    [failure] = boto3.client("sqs").receive_message(QueueUrl=table[1])["Messages"]
    info = json.loads(failure["Body"])
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["DDBStreamBatchInfo"]["streamArn"] == table[0]


def test_a_reported_failure_is_retried_with_what_follows_it_and_not_what_came_before(
    table: tuple[str, str], tmp_path: Path
) -> None:
    handler = Recorder()
    for key in ("a", "b", "c"):
        put(key)
        modify(key)
    handler.fail = {"b"}
    reader = mapping(table, handler, tmp_path / "at.json", retries=5)

    reader.poll()
    handler.fail = set()
    reader.poll()
    reader.poll()

    assert handler.batches == [["a", "b", "c"], ["b", "c"]]


def test_the_notifiers_source_is_read_from_the_template() -> None:
    source = stream_source(load_template(), "NotifierFunction")

    assert source is not None
    assert source.table_id == "EnrollmentsTable"
    assert source.patterns == ({"eventName": ["MODIFY"]},)
    assert source.failure_queue_id == "NotifierStreamFailureQueue"
    assert stream_source(load_template(), "ProcessorFunction") is None


def test_patterns_match_listed_values_and_refuse_what_they_cannot_judge() -> None:
    assert matches({"eventName": ["MODIFY"]}, {"eventName": "MODIFY"})
    assert not matches({"eventName": ["MODIFY"]}, {"eventName": "INSERT"})
    assert matches(
        {"dynamodb": {"Keys": {"id": {"S": ["a"]}}}}, {"dynamodb": {"Keys": {"id": {"S": "a"}}}}
    )
    with pytest.raises(ValueError, match="Unsupported"):
        matches({"eventName": [{"prefix": "MOD"}]}, {"eventName": "MODIFY"})
