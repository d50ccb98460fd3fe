"""A local SQS event source mapping: what Lambda does between a queue and a function.

It long-polls the queue, gathers a batch for up to the source's batching window, invokes the
handler with it in the exact shape Lambda sends, at most `maximum_concurrency` invocations at a
time, and deletes only the records that succeeded: those not named in the handler's
`batchItemFailures`, and none when the handler raises or overruns its timeout. Records it does
not delete reappear after the visibility timeout and, after the queue's `maxReceiveCount`, move
to its dead-letter queue, as on AWS.

`python -m local.poller --queue-url URL` runs it for the template's processor function. For a
function that also reads a table's stream (the notifier), `--stream-arn` runs that mapping too,
in the same process (`local.stream`).
"""

import argparse
import faulthandler
import importlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from local.aws_shapes import LambdaContext, sqs_record
from local.config import get_local_settings
from local.process import configure_logging, exit_with_parent
from local.stream import StreamEventSourceMapping, stream_source
from local.template import load_template

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

# Named, not __name__: run as `python -m local.poller`, this module is `__main__`.
logger = logging.getLogger("local.poller")

Handler = Callable[[dict[str, Any], Any], Any]

# Lambda's defaults for an SQS event source and a function, where the template says nothing.
DEFAULT_BATCH_SIZE = 10
DEFAULT_TIMEOUT_SECONDS = 3
DEFAULT_MEMORY_MB = 128
# Lambda has no limit of its own; locally, a handful of invocations at a time is plenty.
DEFAULT_MAXIMUM_CONCURRENCY = 5
WAIT_TIME_SECONDS = 2
# A receive returns within its long poll: a connection that does not answer is dropped and
# retried, rather than holding up the poller (and its stop) for botocore's default 60 s.
SQS_CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=WAIT_TIME_SECONDS + 5)
STOP_DIAGNOSTIC_SECONDS = 15
# How often a batch being gathered looks for more records when a receive does not wait.
GATHER_INTERVAL_SECONDS = 0.05


@dataclass(frozen=True)
class FunctionConfig:
    """What the template says about a function with an SQS trigger."""

    name: str
    handler: str
    timeout_seconds: float
    memory_mb: int
    queue_id: str
    batch_size: int
    maximum_concurrency: int
    batching_window_seconds: float = 0.0


def sqs_function_config(template: dict[str, Any], function_id: str) -> FunctionConfig:
    """The function's handler, limits and SQS event source, with the template's globals."""
    defaults = template.get("Globals", {}).get("Function", {})
    props = {**defaults, **template["Resources"][function_id]["Properties"]}
    sources = [e["Properties"] for e in props.get("Events", {}).values() if e["Type"] == "SQS"]
    if len(sources) != 1:
        raise ValueError(f"{function_id} has {len(sources)} SQS event sources, not one")
    source = sources[0]
    queue = source["Queue"]
    queue_id = queue["Fn::GetAtt"][0] if isinstance(queue, dict) else queue
    return FunctionConfig(
        name=function_id,
        handler=props["Handler"],
        timeout_seconds=float(props.get("Timeout", DEFAULT_TIMEOUT_SECONDS)),
        memory_mb=int(props.get("MemorySize", DEFAULT_MEMORY_MB)),
        queue_id=queue_id,
        batch_size=int(source.get("BatchSize", DEFAULT_BATCH_SIZE)),
        maximum_concurrency=int(
            source.get("ScalingConfig", {}).get("MaximumConcurrency", DEFAULT_MAXIMUM_CONCURRENCY)
        ),
        batching_window_seconds=float(source.get("MaximumBatchingWindowInSeconds", 0)),
    )


def import_handler(path: str) -> Handler:
    """The function a template's `Handler` (`package.module.function`) names."""
    module, _, name = path.rpartition(".")
    handler: Handler = getattr(importlib.import_module(module), name)
    return handler


def failed_message_ids(response: Any, batch: set[str]) -> set[str]:
    """The records a handler's response reports as failed; all of them if it is malformed.

    As Lambda does: no response (or no `batchItemFailures`) means all succeeded, and an item
    that is empty or names no record of the batch fails the whole batch.
    """
    if response is None:
        return set()
    if not isinstance(response, dict):
        return batch
    items = response.get("batchItemFailures") or []
    failed = {item.get("itemIdentifier") if isinstance(item, dict) else None for item in items}
    if not failed <= batch:
        logger.error("Invalid batchItemFailures %r: the whole batch failed", items)
        return batch
    return {message_id for message_id in failed if message_id is not None}


class EventSourceMapping:
    """Feeds a queue's messages to a handler, as Lambda's SQS event source mapping does."""

    def __init__(
        self,
        sqs: "SQSClient",
        queue_url: str,
        handler: Handler,
        function: FunctionConfig,
        *,
        region: str,
        wait_time_seconds: int = WAIT_TIME_SECONDS,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._handler = handler
        self._function = function
        self._region = region
        # Long polls are kept short so that a stop takes effect within a couple of seconds.
        self._wait_time_seconds = wait_time_seconds
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        self._queue_arn = attributes["Attributes"]["QueueArn"]
        self._account = self._queue_arn.split(":")[4]
        # A slot per concurrent invocation: a batch is received only when one is free, so no
        # message waits in flight (its visibility timeout running) for a busy handler.
        self._slots = threading.BoundedSemaphore(function.maximum_concurrency)
        self._stopping = threading.Event()
        self._invocations: list[threading.Thread] = []

    def invoke(self, messages: Sequence["MessageTypeDef"]) -> set[str]:
        """Invoke the handler with a batch; delete the records that succeeded, return their ids."""
        event = {"Records": [sqs_record(m, self._queue_arn, self._region) for m in messages]}
        batch = {m["MessageId"] for m in messages}
        context = self.context()
        started = time.monotonic()
        try:
            response = self._handler(event, context)
        except Exception:
            logger.exception("Invocation %s raised: no record deleted", context.aws_request_id)
            return set()
        elapsed = time.monotonic() - started
        if elapsed > self._function.timeout_seconds:
            logger.error(
                "Invocation %s took %.1f s, over the %.0f s timeout: no record deleted",
                context.aws_request_id,
                elapsed,
                self._function.timeout_seconds,
            )
            return set()
        failed = failed_message_ids(response, batch)
        succeeded = [m for m in messages if m["MessageId"] not in failed]
        self._delete(succeeded)
        redelivered = sum(
            int(m.get("Attributes", {}).get("ApproximateReceiveCount", "1")) > 1 for m in messages
        )
        logger.info(
            "Invocation %s: %d records (%d redelivered), %d failed, %.2f s",
            context.aws_request_id,
            len(messages),
            redelivered,
            len(failed),
            elapsed,
        )
        return {m["MessageId"] for m in succeeded}

    def context(self) -> LambdaContext:
        """The context of an invocation of the function, starting now."""
        return LambdaContext.of(
            self._function.name,
            self._function.memory_mb,
            self._function.timeout_seconds,
            self._region,
            self._account,
        )

    def _delete(self, messages: Sequence["MessageTypeDef"]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            result = self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )
            for failure in result.get("Failed", []):
                logger.error("Could not delete a processed record: %s", failure.get("Message"))

    def poll(self) -> int:
        """Wait for a free slot, receive one batch, and invoke the handler with it in a thread.

        Returns the number of messages received.
        """
        while not self._slots.acquire(timeout=0.5):
            if self._stopping.is_set():
                return 0
        try:
            messages = self._receive(self._function.batch_size, self._wait_time_seconds)
            if messages:
                messages += self._gather(self._function.batch_size - len(messages))
        except Exception:
            self._slots.release()
            raise
        if not messages:
            self._slots.release()
            return 0
        invocation = threading.Thread(target=self._invoke_in_slot, args=(messages,))
        self._invocations = [t for t in self._invocations if t.is_alive()]
        self._invocations.append(invocation)
        invocation.start()
        return len(messages)

    def _receive(self, count: int, wait_seconds: int) -> list["MessageTypeDef"]:
        return self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])

    def _gather(self, missing: int) -> list["MessageTypeDef"]:
        """Up to `missing` more records, received within the batching window, as Lambda does."""
        gathered: list[MessageTypeDef] = []
        until = time.monotonic() + self._function.batching_window_seconds
        while len(gathered) < missing and not self._stopping.is_set():
            remaining = until - time.monotonic()
            if remaining <= 0:
                break
            more = self._receive(missing - len(gathered), min(int(remaining), WAIT_TIME_SECONDS))
            gathered += more
            if not more:
                # Under a second left, a receive does not wait: look again shortly.
                self._stopping.wait(min(remaining, GATHER_INTERVAL_SECONDS))
        return gathered

    def _invoke_in_slot(self, messages: Sequence["MessageTypeDef"]) -> None:
        try:
            self.invoke(messages)
        finally:
            self._slots.release()

    def run(self) -> None:
        """Poll until `stop()`, then wait for the invocations in progress."""
        logger.info(
            "Polling %s for %s: batches of %d, %d at a time",
            self._queue_arn,
            self._function.handler,
            self._function.batch_size,
            self._function.maximum_concurrency,
        )
        while not self._stopping.is_set():
            try:
                self.poll()
            except Exception:
                logger.exception("Receiving from the queue failed; retrying")
                self._stopping.wait(1)
        self.wait()
        logger.info("Stopped")

    def wait(self) -> None:
        """Return once the invocations in progress are done."""
        for invocation in self._invocations:
            invocation.join()

    def stop(self) -> None:
        """Ask `run()` to return once the invocations in progress are done."""
        self._stopping.set()


def main(argv: Sequence[str] | None = None) -> None:
    """Run the event source mapping of a template function until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--queue-url", required=True)
    parser.add_argument("--function", default="ProcessorFunction", help="template logical id")
    parser.add_argument("--stream-arn", help="the function's DynamoDB stream, if it reads one")
    parser.add_argument("--checkpoint", type=Path, help="where the stream mapping keeps its place")
    parser.add_argument("--failure-queue-url", help="the stream mapping's on-failure queue")
    args = parser.parse_args(argv)
    configure_logging("poller" if args.function == "ProcessorFunction" else "notifier")
    exit_with_parent()
    template = load_template()
    function = sqs_function_config(template, args.function)
    region = get_local_settings().region
    sqs = boto3.client("sqs", region_name=region, config=SQS_CLIENT_CONFIG)
    handler = import_handler(function.handler)
    mapping = EventSourceMapping(sqs, args.queue_url, handler, function, region=region)
    stream = None
    if args.stream_arn:
        source = stream_source(template, args.function)
        if source is None or args.checkpoint is None:
            parser.error(f"{args.function} reads no stream, or --checkpoint is missing")
        stream = StreamEventSourceMapping(
            boto3.client("dynamodbstreams", region_name=region),
            args.stream_arn,
            handler,
            source,
            mapping.context,
            args.checkpoint,
            sqs,
            args.failure_queue_url,
        )
        threading.Thread(target=stream.run, name="stream", daemon=True).start()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        mapping.stop()
        if stream is not None:
            stream.stop()
        # A stop takes a long poll and the invocations in progress; if it takes much longer,
        # show where each thread is (the supervisor kills the poller after 30 s).
        faulthandler.dump_traceback_later(STOP_DIAGNOSTIC_SECONDS, exit=False)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    mapping.run()


if __name__ == "__main__":
    main()
