"""A local DynamoDB stream event source mapping: what Lambda does between a table's stream and a
function.

It reads each shard of the stream in order, keeps the records that the source's `FilterCriteria`
match, and invokes the handler with a batch of them in the shape Lambda sends. A batch whose
handler raises is retried whole; one whose handler reports `batchItemFailures` (by sequence
number) is retried from the first failed record. After `MaximumRetryAttempts` the record is sent
to the source's on-failure queue, as a description of where it is, and the shard moves on. Where
it is in each shard is written to a checkpoint file after each batch, so a mapping that is killed
and started again resumes there, as Lambda's does: the records of a batch in progress come again.
"""

import json
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from local.aws_shapes import LambdaContext

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
    from mypy_boto3_sqs import SQSClient

    from local.poller import Handler

logger = logging.getLogger("local.stream")

# Lambda polls each shard four times a second.
POLL_INTERVAL_SECONDS = 0.25
DEFAULT_BATCH_SIZE = 100


@dataclass(frozen=True)
class StreamSource:
    """What the template says about a function's DynamoDB event source."""

    table_id: str
    batch_size: int
    patterns: tuple[dict[str, Any], ...]
    maximum_retry_attempts: int
    failure_queue_id: str | None
    starting_position: str


def stream_source(template: dict[str, Any], function_id: str) -> StreamSource | None:
    """The function's DynamoDB event source, or None if it has none."""
    events = template["Resources"][function_id]["Properties"].get("Events", {})
    sources = [e["Properties"] for e in events.values() if e["Type"] == "DynamoDB"]
    if not sources:
        return None
    source = sources[0]
    table_id = source["Stream"]["Fn::GetAtt"][0]
    failure = source.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    filters = source.get("FilterCriteria", {}).get("Filters", [])
    return StreamSource(
        table_id=table_id,
        batch_size=int(source.get("BatchSize", DEFAULT_BATCH_SIZE)),
        patterns=tuple(json.loads(f["Pattern"]) for f in filters),
        # Lambda's default is -1: retried until the record expires (24 hours).
        maximum_retry_attempts=int(source.get("MaximumRetryAttempts", -1)),
        failure_queue_id=failure["Fn::GetAtt"][0] if failure else None,
        starting_position=source["StartingPosition"],
    )


def matches(pattern: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    """Whether a record matches a filter pattern: each key's value one of those listed, or a
    nested pattern. (Lambda's content filters, `prefix` and the like, are not used here.)"""
    for key, expected in pattern.items():
        value = record.get(key)
        if isinstance(expected, dict):
            if not isinstance(value, dict) or not matches(expected, value):
                return False
        elif not isinstance(expected, list) or any(isinstance(e, dict) for e in expected):
            raise ValueError(f"Unsupported filter pattern for {key!r}: {expected!r}")
        elif value not in expected:
            return False
    return True


def lambda_record(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """A stream record as Lambda hands it to a function: its time in epoch seconds."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    return {**record, "dynamodb": dynamodb, "eventSourceARN": stream_arn}


class StreamEventSourceMapping:
    """Feeds a stream's records to a handler, as Lambda's DynamoDB event source mapping does."""

    def __init__(
        self,
        streams: "DynamoDBStreamsClient",
        stream_arn: str,
        handler: "Handler",
        source: StreamSource,
        context: Callable[[], LambdaContext],
        checkpoint: Path,
        sqs: "SQSClient | None" = None,
        failure_queue_url: str | None = None,
    ) -> None:
        self._streams = streams
        self._stream_arn = stream_arn
        self._handler = handler
        self._source = source
        self._context = context
        self._checkpoint = checkpoint
        self._sqs = sqs
        self._failure_queue_url = failure_queue_url
        self._stopping = threading.Event()
        # The last sequence number handled in each shard.
        self._positions: dict[str, str] = (
            json.loads(checkpoint.read_text()) if checkpoint.exists() else {}
        )
        self._attempts: dict[str, int] = {}

    def poll(self) -> int:
        """One batch from each shard; returns how many records were handed to the handler."""
        shards = self._streams.describe_stream(StreamArn=self._stream_arn)["StreamDescription"]
        handed = 0
        for shard in shards.get("Shards", []):
            handed += self._poll_shard(shard["ShardId"])
        return handed

    def _poll_shard(self, shard_id: str) -> int:
        position = self._positions.get(shard_id)
        where: dict[str, Any] = (
            {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": position}
            if position
            else {"ShardIteratorType": self._source.starting_position}
        )
        iterator = self._streams.get_shard_iterator(
            StreamArn=self._stream_arn, ShardId=shard_id, **where
        )["ShardIterator"]
        records = self._streams.get_records(ShardIterator=iterator, Limit=self._source.batch_size)
        batch = [lambda_record(r, self._stream_arn) for r in records.get("Records", [])]
        if not batch:
            return 0
        sequence = [r["dynamodb"]["SequenceNumber"] for r in batch]
        kept = [r for r in batch if self._kept(r)]
        failed = self._invoke(kept) if kept else None
        if failed is None:
            self._advance(shard_id, sequence[-1])
            return len(kept)
        at = sequence.index(failed)
        attempts = self._attempts.get(failed, 0) + 1
        limit = self._source.maximum_retry_attempts
        if 0 <= limit < attempts:
            # Given up on: described on the failure queue, and passed.
            self._send_to_failure_queue(batch[at], attempts)
            self._attempts.pop(failed, None)
            self._advance(shard_id, failed)
        else:
            # Retried, with what follows it; what came before it is done.
            self._attempts[failed] = attempts
            if at:
                self._advance(shard_id, sequence[at - 1])
        return len(kept)

    def _kept(self, record: Mapping[str, Any]) -> bool:
        patterns = self._source.patterns
        return not patterns or any(matches(pattern, record) for pattern in patterns)

    def _invoke(self, records: list[dict[str, Any]]) -> str | None:
        """Invoke the handler; the sequence number of the first record that failed, if any."""
        sequence: list[str] = [r["dynamodb"]["SequenceNumber"] for r in records]
        try:
            response = self._handler({"Records": records}, self._context())
        except Exception:
            logger.exception("Invocation raised: the batch is retried")
            return sequence[0]
        items = (response or {}).get("batchItemFailures") or []
        named = {i.get("itemIdentifier") for i in items if isinstance(i, dict)}
        if not named <= set(sequence):
            logger.error("Invalid batchItemFailures %r: the batch is retried", items)
            return sequence[0]
        return next((s for s in sequence if s in named), None)

    def _send_to_failure_queue(self, record: Mapping[str, Any], attempts: int) -> None:
        """Describe the record that failed, as Lambda's on-failure destination does."""
        logger.error("A stream record failed %d times: sent to the failure queue", attempts)
        if self._sqs is None or self._failure_queue_url is None:
            return
        sequence = record["dynamodb"]["SequenceNumber"]
        self._sqs.send_message(
            QueueUrl=self._failure_queue_url,
            MessageBody=json.dumps(
                {
                    "requestContext": {
                        "requestId": str(uuid.uuid4()),
                        "condition": "RetryAttemptsExhausted",
                        "approximateInvokeCount": attempts,
                    },
                    "responseContext": {"functionError": "Unhandled"},
                    "version": "1.0",
                    "timestamp": datetime.now(UTC).isoformat(),
                    "DDBStreamBatchInfo": {
                        "streamArn": self._stream_arn,
                        "startSequenceNumber": sequence,
                        "endSequenceNumber": sequence,
                        "batchSize": 1,
                    },
                }
            ),
        )

    def _advance(self, shard_id: str, sequence: str) -> None:
        self._positions[shard_id] = sequence
        self._checkpoint.write_text(json.dumps(self._positions))

    def run(self) -> None:
        """Poll until `stop()`."""
        logger.info("Reading %s", self._stream_arn)
        while not self._stopping.is_set():
            try:
                if not self.poll():
                    self._stopping.wait(POLL_INTERVAL_SECONDS)
            except Exception:
                logger.exception("Reading the stream failed; retrying")
                self._stopping.wait(1)

    def stop(self) -> None:
        """Ask `run()` to return after the batch in progress."""
        self._stopping.set()
