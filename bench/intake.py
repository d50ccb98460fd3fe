"""Sustained intake: does processing keep up with enrollments arriving at a steady rate?

On AWS the usage plan admits `RateLimit` requests a second, and the processor clears
`MaximumConcurrency x BatchSize / delay` enrollments a second. Here the local stack (moto, the
API, the poller honouring the template's `MaximumConcurrency` and `BatchSize`) takes a rate this
machine sustains, with the delay scaled so that intake is the same fraction of capacity as on
AWS. Each enrollment's time to `PROCESSED` is its record's `updated_at - created_at`, both
written by the service itself. The floor is the delay: no enrollment is processed sooner. If
processing kept up, the last quarter's enrollments waited no longer than the first quarter's.
"""

import re
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import httpx

from bench.common import AwsStack, Figure
from bench.progress import step
from local.activity import percentile
from local.config import LocalSettings
from local.emulator import free_port
from local.poller import sqs_function_config
from local.supervisor import LocalService

RATE_PER_SECOND = 20.0
INTAKE_SECONDS = 30.0
SENDERS = 16
# The local event source's line for each invocation: how many records its batch held.
INVOCATION = re.compile(r"Invocation \S+: (\d+) records")


class ScaledDelay(NamedTuple):
    """The local processing delay, and the AWS intake and capacity it is scaled from."""

    seconds: float
    rate_limit: float
    capacity: float


def scaled_delay(aws: AwsStack) -> ScaledDelay:
    """The local delay at which `RATE_PER_SECOND` loads the processor as `RateLimit` does on AWS."""
    config = sqs_function_config(aws.template, "ProcessorFunction")
    resources = aws.template["Resources"]
    plan = resources["UsagePlan"]["Properties"]["Throttle"]
    variables = resources["ProcessorFunction"]["Properties"]["Environment"]["Variables"]
    slots = config.maximum_concurrency * config.batch_size
    capacity = slots / float(variables["PROCESSING_DELAY_SECONDS"])
    utilization = plan["RateLimit"] / capacity
    return ScaledDelay(utilization * slots / RATE_PER_SECOND, plan["RateLimit"], capacity)


@dataclass(frozen=True)
class IntakeRun:
    """One run at a steady rate: each enrollment's seconds to PROCESSED, each batch's records."""

    rate: float
    delay: float
    waits: list[float]
    batches: list[int]
    sent_seconds: float


def sustained_intake(aws: AwsStack, rate: float, seconds: float, delay: float) -> IntakeRun:
    """Enrollments at `rate` a second for `seconds` through the local stack, until PROCESSED."""
    total = round(rate * seconds)
    settings = LocalSettings(
        port=free_port(), processing_delay_seconds=delay, api_key="bench", docs_enabled=True
    )
    log = tempfile.NamedTemporaryFile("w+", suffix=".log")  # noqa: SIM115 (closed below)
    service = LocalService(settings, output=log)
    service.start()
    refused: list[str] = []
    lock = threading.Lock()
    try:
        body = {"name": "Maria da Silva", "age": 22, "cpf": "52998224725"}
        with httpx.Client(
            base_url=service.api_url,
            headers={"x-api-key": "bench"},
            timeout=30,
            limits=httpx.Limits(max_connections=SENDERS),
        ) as client:
            group = client.post("/age-groups", json={"min_age": 0, "max_age": 150})
            assert group.status_code == 201, group.text

            with step(f"Sustained intake: {rate:g}/s", total) as advance:

                def enroll() -> None:
                    response = client.post("/enrollments", json=body)
                    with lock:
                        if response.status_code != 202:
                            refused.append(f"{response.status_code} {response.text[:100]}")
                    advance(1)

                start = time.perf_counter()
                with ThreadPoolExecutor(SENDERS) as pool:
                    for index in range(total):
                        time.sleep(max(0.0, start + index / rate - time.perf_counter()))
                        pool.submit(enroll)
                sent_seconds = time.perf_counter() - start

        dynamodb = service.aws_client("dynamodb")
        table = service.function_environment("ProcessorFunction")["ENROLLMENTS_TABLE"]
        deadline = time.perf_counter() + 10 * delay + 60
        while True:
            items = [
                item
                for page in dynamodb.get_paginator("scan").paginate(TableName=table)
                for item in page["Items"]
            ]
            if all(item["status"]["S"] == "PROCESSED" for item in items):
                break
            if time.perf_counter() > deadline:
                raise TimeoutError("enrollments not PROCESSED in time")
            time.sleep(1)  # Each scan loads the emulator the poller uses.
        log.seek(0)
        batches = [int(n) for n in INVOCATION.findall(log.read())]
    finally:
        service.stop()
        log.close()

    assert not refused, refused[:5]
    items.sort(key=lambda item: item["created_at"]["S"])
    waits = [
        (
            datetime.fromisoformat(item["updated_at"]["S"])
            - datetime.fromisoformat(item["created_at"]["S"])
        ).total_seconds()
        for item in items
    ]
    return IntakeRun(rate, delay, waits, batches, sent_seconds)


def admitted_intake(aws: AwsStack) -> IntakeRun:
    """`RATE_PER_SECOND` for `INTAKE_SECONDS` at the `scaled_delay`: the admitted rate, locally."""
    return sustained_intake(aws, RATE_PER_SECOND, INTAKE_SECONDS, scaled_delay(aws).seconds)


def measure(aws: AwsStack, run: IntakeRun) -> tuple[list[Figure], list[str]]:
    """The figures and note of an `admitted_intake` run: did processing keep up?"""
    _, rate_limit, capacity = scaled_delay(aws)
    delay, waits, sent_seconds = run.delay, run.waits, run.sent_seconds
    quarter = len(waits) // 4
    first, last = waits[:quarter], waits[-quarter:]
    figures = [
        Figure(
            f"Sustained intake: p99 time to PROCESSED, D={delay:g} s",
            percentile(waits, 0.99),
            delay,
            "s",
            1.5,
        ),
        Figure(
            "Sustained intake: p99 of the last quarter vs the first",
            percentile(last, 0.99),
            percentile(first, 0.99),
            "s",
            1.1,
        ),
    ]
    note = (
        f"sustained intake: {len(waits)} enrollments at {run.rate:g}/s for "
        f"{sent_seconds:.1f} s through the local stack; delay scaled to {delay:g} s so that "
        f"intake is {rate_limit / capacity:.0%} of capacity, as the usage plan's {rate_limit}/s "
        f"is of the processor's {capacity:g}/s on AWS; time to PROCESSED p50 "
        f"{percentile(waits, 0.5):.2f} s, max {max(waits):.2f} s"
    )
    return figures, [note]
