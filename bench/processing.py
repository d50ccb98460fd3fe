"""Processing: a full batch through the processor, and 100 enrollments through the local stack.

Floors: a batch cannot finish before its processing delay D; 100 enrollments cannot all be
processed before ceil(100 / (BatchSize x MaximumConcurrency)) rounds of D.
"""

import json
import math
import os
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from bench.common import AwsStack, Figure, median, pending_enrollment_item
from bench.progress import Advance, step
from local.aws_shapes import LambdaContext, sqs_event
from local.config import LocalSettings
from local.emulator import free_port
from local.poller import sqs_function_config
from local.supervisor import LocalService

DELAY_SECONDS = 2.0
BATCH_RUNS = 3
ENROLLMENTS = 100
CLIENTS = 20
PRODUCTION_DELAY_SECONDS = 4.0


def _pending(aws: AwsStack, count: int) -> list[str]:
    from app.adapters.aws import get_dynamodb_client
    from app.config import get_processor_settings

    ids = [str(uuid.uuid4()) for _ in range(count)]
    for enrollment_id in ids:
        get_dynamodb_client().put_item(
            TableName=get_processor_settings().enrollments_table,
            Item=pending_enrollment_item(enrollment_id),
        )
    return ids


def _batch_seconds(aws: AwsStack, ids: list[str], one_at_a_time: bool) -> float:
    from processor.handler import handler

    arn = aws.stack.attributes[("EnrollmentQueue", "Arn")]
    bodies = [json.dumps({"enrollment_id": i}) for i in ids]
    if one_at_a_time:
        events = [sqs_event(body, queue_arn=arn) for body in bodies]
    else:
        events = [sqs_event(*bodies, queue_arn=arn)]
    start = time.perf_counter()
    for event in events:
        assert handler(event, LambdaContext()) == {"batchItemFailures": []}
    return time.perf_counter() - start


def _local_stack_seconds(aws: AwsStack, batch_size: int) -> tuple[float, float]:
    """Seconds from the poller's start until all queued enrollments are PROCESSED.

    The enrollments are all accepted first, with the poller stopped, so that the queue holds
    them all as the floor assumes; the second number is how long accepting them took.
    """
    settings = LocalSettings(
        port=free_port(), processing_delay_seconds=DELAY_SECONDS, api_key="bench", docs_enabled=True
    )
    log = tempfile.NamedTemporaryFile("w+", suffix=".log")  # noqa: SIM115 (closed below)
    service = LocalService(settings, output=log)
    service.start()
    service.stop_poller()
    try:
        headers = {"x-api-key": "bench"}
        with httpx.Client(base_url=service.api_url, headers=headers, timeout=30) as client:
            group = client.post("/age-groups", json={"min_age": 0, "max_age": 150})
            assert group.status_code == 201, group.text
            body = {"name": "Maria da Silva", "age": 22, "cpf": "52998224725"}

            def enroll(_: int) -> str:
                response = client.post("/enrollments", json=body)
                assert response.status_code == 202, response.text
                enrollment_id: str = response.json()["enrollment_id"]
                return enrollment_id

            submitting = time.perf_counter()
            with ThreadPoolExecutor(CLIENTS) as pool:
                ids = set(pool.map(enroll, range(ENROLLMENTS)))
            submitted = time.perf_counter() - submitting
        assert service.stack is not None
        dynamodb = service.aws_client("dynamodb")
        table = service.function_environment("ProcessorFunction")["ENROLLMENTS_TABLE"]
        service.start_poller()
        # Time from when the poller polls, as Lambda's event source mapping always does; the
        # poller's own process start-up is not part of the processing.
        start = _wait_for_line(log.name, "Polling", occurrence=2)
        deadline = start + 30 * DELAY_SECONDS + 30
        while time.perf_counter() < deadline:
            pages = dynamodb.get_paginator("scan").paginate(TableName=table)
            processed = {
                item["enrollment_id"]["S"]
                for page in pages
                for item in page["Items"]
                if item["status"]["S"] == "PROCESSED"
            }
            if ids <= processed:
                return time.perf_counter() - start, submitted
            time.sleep(0.1)  # Each scan loads the emulator the poller uses: look now and then.
        raise TimeoutError(f"{len(ids - processed)} enrollments not PROCESSED in time")
    finally:
        service.stop()
        log.close()


def _wait_for_line(path: str, text: str, occurrence: int, timeout: float = 60) -> float:
    """The moment `text` appears for the `occurrence`-th time in the log at `path`."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        with open(path) as stream:
            if stream.read().count(text) >= occurrence:
                return time.perf_counter()
        time.sleep(0.005)
    raise TimeoutError(f"no {text!r} in the local stack's log")


def _batches(aws: AwsStack, batch: int, advance: Advance) -> tuple[float, float]:
    """A batch's median seconds, processed concurrently; the same records one at a time."""
    os.environ.update(aws.function_env("ProcessorFunction"))
    os.environ["PROCESSING_DELAY_SECONDS"] = str(DELAY_SECONDS)
    from app.adapters.aws import get_dynamodb_client
    from app.config import get_processor_settings

    get_processor_settings.cache_clear()
    get_dynamodb_client.cache_clear()
    concurrent = []
    for _ in range(BATCH_RUNS):
        concurrent.append(_batch_seconds(aws, _pending(aws, batch), False))
        advance(1)
    sequential = _batch_seconds(aws, _pending(aws, batch), True)
    advance(1)
    return median(concurrent), sequential


def measure(aws: AwsStack) -> tuple[list[Figure], list[str]]:
    config = sqs_function_config(aws.template, "ProcessorFunction")
    batch = config.batch_size
    # The local stack first, on an emulator of its own, before this process's environment
    # points at the benchmarks' one.
    rounds = math.ceil(ENROLLMENTS / (batch * config.maximum_concurrency))
    with step("Processing: the local stack, then batches", 1 + BATCH_RUNS + 1) as advance:
        stack_wall, submitted = _local_stack_seconds(aws, batch)
        advance(1)
        batch_wall, sequential = _batches(aws, batch, advance)

    # Lambda bills duration x memory. At the production delay, a batch lasts the delay plus the
    # overhead measured here; processed one record after the other, ten delays plus overhead.
    gb = config.memory_mb / 1024
    batches = 1000 / batch
    ours = batches * (PRODUCTION_DELAY_SECONDS + batch_wall - DELAY_SECONDS) * gb
    one_by_one = (
        batches * (batch * PRODUCTION_DELAY_SECONDS + sequential - batch * DELAY_SECONDS) * gb
    )
    figures = [
        Figure(
            f"Processor: batch of {batch}, D={DELAY_SECONDS:g} s",
            batch_wall,
            DELAY_SECONDS,
            "s",
            1.15,
        ),
        Figure(
            f"Local stack: {ENROLLMENTS} enrollments to PROCESSED",
            stack_wall,
            rounds * DELAY_SECONDS,
            "s",
            1.3,
        ),
        Figure("Processor GB-s per 1000 enrollments (D=4 s)", ours, one_by_one, "GB-s", None),
    ]
    notes = [
        f"batch: median of {BATCH_RUNS} runs {batch_wall:.3f} s; the same {batch} records one "
        f"invocation each took {sequential:.2f} s",
        f"local stack: {ENROLLMENTS} enrollments accepted ({CLIENTS} clients, {submitted:.1f} s) "
        "with the poller stopped, then timed from the moment the restarted poller polls; "
        f"floor = ceil({ENROLLMENTS} / ({batch} x {config.maximum_concurrency})) x "
        f"{DELAY_SECONDS:g} s",
        f"cost: {config.memory_mb} MB processor; the floor column is sequential processing "
        f"({one_by_one / ours:.1f}x ours)",
    ]
    return figures, notes
