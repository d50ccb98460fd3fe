"""`python -m local.soak` (`make soak`): load the local stack and account for every enrollment.

It starts the stack as `make run` does (on free ports, 127.0.0.1 only, with a short processing
delay), sends `--requests` POST /enrollments from `--clients` concurrent clients, stops the poller
halfway and starts it again (gracefully, or with SIGKILL and `--kill`), then waits, within a
bound, until every accepted enrollment is PROCESSED. It reports requests sent, accepted, refused
by status code, reached PROCESSED, lost (accepted but never processed), redeliveries and
latencies, and exits 1 if any enrollment was lost or any request failed with a 5xx.
"""

import argparse
import logging
import random
import re
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import httpx

from local.config import LocalSettings
from local.emulator import free_port
from local.process import configure_logging
from local.progress import Advance, step
from local.supervisor import LocalService

logger = logging.getLogger("local.soak")

API_KEY = "soak-key"
# The stack's own log lines, to count what the poller redelivered.
REDELIVERED = re.compile(r"Invocation \S+: \d+ records \((\d+) redelivered\)")
ALREADY_PROCESSED = "Enrollment was already processed"


def valid_cpf(rng: random.Random) -> str:
    """A random CPF with correct check digits (and not one repeated digit)."""
    digits = [rng.randrange(10) for _ in range(9)]
    while len(set(digits)) == 1:
        digits = [rng.randrange(10) for _ in range(9)]
    for length in (9, 10):
        total = sum(d * w for d, w in zip(digits, range(length + 1, 1, -1), strict=True))
        digits.append(total * 10 % 11 % 10)
    return "".join(map(str, digits))


@dataclass
class Results:
    """What the clients saw, updated from their threads under `lock`."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    accepted: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)

    def record(self, status: str, seconds: float, enrollment_id: str | None, text: str) -> None:
        """One request's outcome."""
        with self.lock:
            self.statuses[status] += 1
            self.latencies.append(seconds)
            if enrollment_id is not None:
                self.accepted.append(enrollment_id)
            if status.startswith("5"):
                self.server_errors.append(text[:200])


def send_enrollments(
    api_url: str,
    requests: int,
    clients: int,
    deadline: float,
    results: Results,
    seed: int,
    advance: Advance = lambda n: None,
) -> None:
    """POST `requests` enrollments from `clients` threads, each with its own connection."""
    tickets = iter(range(requests))
    tickets_lock = threading.Lock()

    def client(number: int) -> None:
        rng = random.Random(seed + number)  # noqa: S311 (test data)
        with httpx.Client(base_url=api_url, headers={"x-api-key": API_KEY}, timeout=30) as http:
            while time.monotonic() < deadline:
                with tickets_lock:
                    ticket = next(tickets, None)
                if ticket is None:
                    return
                body = {"name": f"Soak {ticket}", "age": rng.randint(18, 60), "cpf": valid_cpf(rng)}
                with results.lock:
                    results.sent += 1
                started = time.perf_counter()
                try:
                    response = http.post("/enrollments", json=body)
                except httpx.HTTPError as exc:
                    results.record(type(exc).__name__, time.perf_counter() - started, None, "")
                    advance(1)
                    continue
                accepted = response.json()["enrollment_id"] if response.status_code == 202 else None
                status = str(response.status_code)
                results.record(status, time.perf_counter() - started, accepted, response.text)
                advance(1)

    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(client, number) for number in range(clients)]:
            future.result()


def processed(api_url: str, ids: Sequence[str], clients: int) -> set[str]:
    """The enrollments among `ids` that are PROCESSED now."""

    def check(chunk: Sequence[str]) -> set[str]:
        done = set()
        with httpx.Client(base_url=api_url, headers={"x-api-key": API_KEY}, timeout=30) as http:
            for enrollment_id in chunk:
                response = http.get(f"/enrollments/{enrollment_id}")
                if response.status_code == 200 and response.json()["status"] == "PROCESSED":
                    done.add(enrollment_id)
        return done

    chunks = [ids[i::clients] for i in range(clients)]
    with ThreadPoolExecutor(clients) as pool:
        return set().union(*pool.map(check, chunks))


def restart_poller_halfway(
    service: LocalService, results: Results, half: int, pause: float, kill: bool
) -> None:
    """Once half the requests are sent, stop the poller, wait `pause` seconds, start it again."""
    while True:
        with results.lock:
            if results.sent >= half:
                break
        time.sleep(0.05)
    logger.info(
        "Stopping the poller (%s) after %d requests", "SIGKILL" if kill else "SIGTERM", half
    )
    service.stop_poller(kill=kill)
    time.sleep(pause)
    service.start_poller()
    logger.info("Poller started again")


def queue_depths(service: LocalService) -> dict[str, int]:
    """Messages left on each queue of the stack (visible + in flight)."""
    if service.emulator is None or service.stack is None:
        raise RuntimeError("The soak test runs on the embedded emulator")
    sqs = boto3.client(
        "sqs",
        endpoint_url=service.emulator.endpoint_url,
        region_name=service.settings.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 (the emulator's fake credentials)
    )
    depths = {}
    for logical_id in ("EnrollmentQueue", "EnrollmentDeadLetterQueue"):
        attributes = sqs.get_queue_attributes(
            QueueUrl=service.stack.refs[logical_id],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        depths[logical_id] = sum(int(value) for value in attributes.values())
    return depths


def percentile(values: Sequence[float], p: int) -> float:
    """The p-th percentile (1..99) of `values`."""
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the soak test and print its report; 1 if an enrollment was lost or a 5xx answered."""
    parser = argparse.ArgumentParser(description="Soak test of the local stack")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.5, help="PROCESSING_DELAY_SECONDS")
    parser.add_argument("--pause", type=float, default=3, help="seconds the poller stays stopped")
    parser.add_argument("--kill", action="store_true", help="SIGKILL the poller, not SIGTERM")
    parser.add_argument(
        "--visibility-timeout",
        type=int,
        default=None,
        help="of the queue; with --kill, records in flight come back after it (template: 120)",
    )
    parser.add_argument("--send-timeout", type=float, default=300)
    parser.add_argument("--drain-timeout", type=float, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    configure_logging("soak")

    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    log_path = workdir / "stack.log"
    settings = LocalSettings(
        host="127.0.0.1",
        port=free_port(),
        api_key=API_KEY,
        local_stack=True,
        aws_endpoint_url=None,
        local_emulator_port=0,
        processing_delay_seconds=args.delay,
        local_visibility_timeout=args.visibility_timeout,
    )
    results = Results()
    with log_path.open("w") as log:
        service = LocalService(settings, output=log)
        try:
            started = time.monotonic()
            service.start()
            logger.info("Stack up in %.1f s; its logs: %s", time.monotonic() - started, log_path)
            with httpx.Client(base_url=service.api_url, headers={"x-api-key": API_KEY}) as http:
                http.post("/age-groups", json={"min_age": 0, "max_age": 150}).raise_for_status()

            restarter = threading.Thread(
                target=restart_poller_halfway,
                args=(service, results, args.requests // 2, args.pause, args.kill),
                daemon=True,
            )
            restarter.start()
            load_started = time.monotonic()
            with step(f"Soak: POST /enrollments, {args.clients} clients", args.requests) as sent:
                send_enrollments(
                    service.api_url,
                    args.requests,
                    args.clients,
                    load_started + args.send_timeout,
                    results,
                    args.seed,
                    sent,
                )
            load_seconds = time.monotonic() - load_started
            restarter.join()
            logger.info(
                "Sent %d requests in %.1f s; waiting for processing", results.sent, load_seconds
            )

            done: set[str] = set()
            drain_deadline = time.monotonic() + args.drain_timeout
            with step("Soak: accepted enrollments PROCESSED", len(results.accepted)) as drained:
                while time.monotonic() < drain_deadline:
                    before = len(done)
                    done |= processed(
                        service.api_url, sorted(set(results.accepted) - done), args.clients
                    )
                    drained(len(done) - before)
                    if len(done) == len(results.accepted):
                        break
                    time.sleep(1)
            drain_seconds = time.monotonic() - load_started - load_seconds
            depths = queue_depths(service)
        finally:
            service.stop()

    stack_log = log_path.read_text()
    no_ops = stack_log.count(ALREADY_PROCESSED)
    redelivered = sum(int(n) for n in REDELIVERED.findall(stack_log))
    accepted = len(results.accepted)
    lost = accepted - len(done)
    duplicate_ids = accepted - len(set(results.accepted))
    refused = {s: n for s, n in sorted(results.statuses.items()) if s != "202"}
    report = [
        f"requests sent         {results.sent} ({args.clients} clients, {load_seconds:.1f} s)",
        f"accepted (202)        {accepted}",
        f"refused               {refused or 'none'}",
        f"reached PROCESSED     {len(done)} (drained {drain_seconds:.1f} s after the last request)",
        f"lost                  {lost}",
        f"duplicate ids         {duplicate_ids}",
        f"redelivered records   {redelivered} (found PROCESSED already: {no_ops})",
        f"left on the queues    {depths}",
        f"POST latency          p50 {percentile(results.latencies, 50) * 1000:.0f} ms, "
        f"p99 {percentile(results.latencies, 99) * 1000:.0f} ms",
        f"poller restart        {'SIGKILL' if args.kill else 'SIGTERM'}, {args.pause:.0f} s down",
        f"stack log             {log_path}",
    ]
    print("\n".join(report))
    for text in results.server_errors[:5]:
        print(f"5xx: {text}")
    return 1 if lost or results.server_errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
