"""`python -m bench.soak` (`make soak`): load the local stack and account for every enrollment.

It starts the stack as `make run` does (on free ports, 127.0.0.1 only, with a short processing
delay), sends `--requests` POST /enrollments from `--clients` concurrent clients, stops the poller
halfway and starts it again (gracefully, or with SIGKILL and `--kill`), then waits, within a
bound, until every accepted enrollment is PROCESSED. It reports requests sent, accepted, refused
by status code, reached PROCESSED, lost (accepted but never processed), redeliveries and
latencies, and exits 1 if any enrollment was lost or any request failed with a 5xx. Clients read
each accepted enrollment when its answer's `Retry-After` says it is likely PROCESSED, and again
after each PENDING answer's `Retry-After`; the report counts those reads.

With `--retries`, each enrollment is sent with an `Idempotency-Key`, and every 5xx, 409 and
transport error is retried with the same key, while a fault proxy cuts a share (`--fault-rate`)
of the exchanges between the clients and the API and between the API and the emulator: requests
that never arrive, and answers lost after the work was done. Every enrollment in the table is then
counted by name (each request has its own): it exits 1 unless none is duplicated, none lost, and
every request was answered in the end.
"""

import argparse
import logging
import random
import re
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from app.adapters.claims import LEASE_SECONDS
from app.domain.cpf import with_check_digits
from bench.faults import FaultProxy
from bench.progress import Advance, step
from local.activity import percentile
from local.config import LocalSettings
from local.emulator import free_port
from local.process import configure_logging
from local.supervisor import LocalService

logger = logging.getLogger("bench.soak")

API_KEY = "soak-key"
# The stack's own log lines, to count what the poller redelivered.
REDELIVERED = re.compile(r"Invocation \S+: \d+ records \((\d+) redelivered\)")
ALREADY_PROCESSED = "Enrollment was already processed"
# With --retries: how long a client keeps sending one enrollment before it gives up on it; longer
# than an idempotency claim's lease, after which a claim whose request died is taken over.
RETRY_FOR_SECONDS = 3 * LEASE_SECONDS
# What `send_once` returns for a 429: not an answer, a request to come back later.
THROTTLED = -1.0


def valid_cpf(rng: random.Random) -> str:
    """A random CPF with correct check digits (and not one repeated digit)."""
    nine = "".join(str(rng.randrange(10)) for _ in range(9))
    while len(set(nine)) == 1:
        nine = "".join(str(rng.randrange(10)) for _ in range(9))
    return with_check_digits(nine)


@dataclass
class Results:
    """What the clients saw, updated from their threads under `lock`."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    accepted: list[str] = field(default_factory=list)
    # When to read each accepted enrollment (time.monotonic()), from its answer's Retry-After.
    due: dict[str, float] = field(default_factory=dict)
    polls: int = 0
    latencies: list[float] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    retried: int = 0
    replayed: int = 0
    given_up: int = 0
    # 429s: API Gateway's throttle refused the request before it ran; sent again after a wait.
    throttled: int = 0
    last_throttled: httpx.Response = field(default_factory=lambda: httpx.Response(429))

    def record(
        self,
        status: str,
        seconds: float,
        enrollment_id: str | None,
        text: str,
        retry_after: float = 1.0,
    ) -> None:
        """One request's outcome."""
        with self.lock:
            self.statuses[status] += 1
            self.latencies.append(seconds)
            if enrollment_id is not None:
                self.accepted.append(enrollment_id)
                self.due.setdefault(enrollment_id, time.monotonic() + retry_after)
            if status.startswith("5"):
                self.server_errors.append(text[:200])


def send_enrollments(
    api_url: str,
    requests: int,
    clients: int,
    deadline: float,
    results: Results,
    seed: int,
    retries: bool = False,
    advance: Advance = lambda n: None,
    api_key: str = API_KEY,
) -> None:
    """POST `requests` enrollments from `clients` threads, each with its own connection, with
    the key `api_key`.

    With `retries`, each has its own `Idempotency-Key` and is sent again, with the same key, after
    a 5xx, a 409 or a transport error.
    """
    tickets = iter(range(requests))
    tickets_lock = threading.Lock()

    def client(number: int) -> None:
        rng = random.Random(seed + number)  # noqa: S311 (test data)
        with httpx.Client(base_url=api_url, headers={"x-api-key": api_key}, timeout=30) as http:
            while time.monotonic() < deadline:
                with tickets_lock:
                    ticket = next(tickets, None)
                if ticket is None:
                    return
                body = {"name": f"Soak {ticket}", "age": rng.randint(18, 60), "cpf": valid_cpf(rng)}
                headers = {"Idempotency-Key": str(uuid.UUID(int=rng.getrandbits(128)))}
                with results.lock:
                    results.sent += 1
                give_up_at = time.monotonic() + (RETRY_FOR_SECONDS if retries else 0)
                while (
                    wait := send_until_admitted(http, body, headers if retries else {}, results)
                ) is not None:
                    if time.monotonic() + wait > give_up_at:
                        if retries:
                            with results.lock:
                                results.given_up += 1
                        break
                    time.sleep(wait)
                    with results.lock:
                        results.retried += 1
                advance(1)

    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(client, number) for number in range(clients)]:
            future.result()


def throttle_wait(response: httpx.Response, attempt: int) -> float:
    """How long a throttled client waits: `Retry-After` if sent, else a backoff with jitter."""
    if "Retry-After" in response.headers:
        return float(response.headers["Retry-After"])
    # 20 clients share the stage's 50 requests a second: a client's fair share is one request
    # every 0.4 s, so the first wait is about that, doubling to 4 s, jittered so they spread out.
    jitter = random.uniform(0.5, 1.5)  # noqa: S311 (not a secret)
    return float(min(4.0, 0.4 * 2**attempt) * jitter)


def send_until_admitted(
    http: httpx.Client, body: dict[str, object], headers: dict[str, str], results: Results
) -> float | None:
    """`send_once`, sent again after each 429: the throttle refused it before it ran."""
    attempt = 0
    while (outcome := send_once(http, body, headers, results)) == THROTTLED:
        with results.lock:
            results.throttled += 1
        time.sleep(throttle_wait(results.last_throttled, attempt))
        attempt += 1
    return outcome


def send_once(
    http: httpx.Client, body: dict[str, object], headers: dict[str, str], results: Results
) -> float | None:
    """Send one enrollment and record the answer; seconds to wait before a retry, or None."""
    started = time.perf_counter()
    try:
        response = http.post("/enrollments", json=body, headers=headers)
    except httpx.HTTPError as exc:
        results.record(type(exc).__name__, time.perf_counter() - started, None, "")
        return 0.1
    status = response.status_code
    if status == 429:
        results.last_throttled = response
        return THROTTLED
    accepted = response.json()["enrollment_id"] if status == 202 else None
    results.record(
        str(status),
        time.perf_counter() - started,
        accepted,
        response.text,
        float(response.headers.get("Retry-After", 1)),
    )
    if response.headers.get("Idempotent-Replayed") == "true":
        with results.lock:
            results.replayed += 1
    if status == 409:
        return float(response.headers.get("Retry-After", 1))
    return 0.1 if status >= 500 else None


def read_due(api_url: str, results: Results, clients: int) -> set[str]:
    """Read the enrollments whose `Retry-After` has passed; those PROCESSED now.

    A PENDING one is due again after the `Retry-After` of its answer.
    """
    now = time.monotonic()
    with results.lock:
        ids = sorted(i for i, due in results.due.items() if due <= now)

    def check(chunk: Sequence[str]) -> set[str]:
        done = set()
        throttled_in_a_row = 0
        with httpx.Client(base_url=api_url, headers={"x-api-key": API_KEY}, timeout=30) as http:
            for enrollment_id in chunk:
                response = http.get(f"/enrollments/{enrollment_id}")
                wait = float(response.headers.get("Retry-After", 1))
                if response.status_code == 429:
                    # Refused before it ran: this one is read again later, and this client
                    # waits before its next request, as a client must.
                    pause = throttle_wait(response, throttled_in_a_row)
                    throttled_in_a_row += 1
                    with results.lock:
                        results.throttled += 1
                        results.due[enrollment_id] = time.monotonic() + pause
                    time.sleep(pause)
                    continue
                throttled_in_a_row = 0
                with results.lock:
                    results.polls += 1
                    if response.status_code == 200 and response.json()["status"] == "PROCESSED":
                        done.add(enrollment_id)
                        del results.due[enrollment_id]
                    else:
                        results.due[enrollment_id] = time.monotonic() + wait
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


def stored_names(service: LocalService) -> Counter[str]:
    """How many enrollments the table holds of each name."""
    assert service.stack is not None
    dynamodb = service.aws_client("dynamodb")
    names: Counter[str] = Counter()
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=service.stack.refs["EnrollmentsTable"],
        ProjectionExpression="#n",
        ExpressionAttributeNames={"#n": "name"},
    )
    for page in pages:
        names.update(item["name"]["S"] for item in page["Items"])
    return names


def queue_depths(service: LocalService) -> dict[str, int]:
    """Messages left on each queue of the stack (visible + in flight)."""
    assert service.stack is not None
    sqs = service.aws_client("sqs")
    depths = {}
    for logical_id in ("EnrollmentQueue", "EnrollmentDeadLetterQueue"):
        attributes = sqs.get_queue_attributes(
            QueueUrl=service.stack.refs[logical_id],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        depths[logical_id] = sum(int(value) for value in attributes.values())
    return depths


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
    parser.add_argument(
        "--retries",
        action="store_true",
        help="send an Idempotency-Key with each enrollment, retry failures, inject faults",
    )
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.1,
        help="with --retries: share of exchanges cut on each faulty hop",
    )
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
    proxies: list[FaultProxy] = []

    def through_faults(url: str) -> str:
        """A fault proxy in front of the emulator at `url`, for the API's calls to AWS."""
        proxies.append(FaultProxy(int(url.rsplit(":", 1)[1]), args.fault_rate, args.seed).start())
        return proxies[-1].url

    with log_path.open("w") as log:
        service = LocalService(
            settings, output=log, api_aws_endpoint=through_faults if args.retries else None
        )
        try:
            started = time.monotonic()
            service.start()
            api_url = service.api_url
            if args.retries:
                proxies.insert(0, FaultProxy(settings.port, args.fault_rate, args.seed + 1).start())
                api_url = proxies[0].url
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
                    api_url,
                    args.requests,
                    args.clients,
                    load_started + args.send_timeout,
                    results,
                    args.seed,
                    args.retries,
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
                    done |= read_due(service.api_url, results, args.clients)
                    drained(len(done) - before)
                    if len(done) == len(results.accepted):
                        break
                    with results.lock:
                        next_due = min(results.due.values(), default=time.monotonic())
                    time.sleep(min(1.0, max(0.05, next_due - time.monotonic())))
            drain_seconds = time.monotonic() - load_started - load_seconds
            depths = queue_depths(service)
            names = stored_names(service)
        finally:
            for proxy in proxies:
                proxy.stop()
            service.stop()

    stack_log = log_path.read_text()
    no_ops = stack_log.count(ALREADY_PROCESSED)
    redelivered = sum(int(n) for n in REDELIVERED.findall(stack_log))
    accepted = len(results.accepted)
    lost = len(set(results.accepted) - done)
    duplicate_ids = accepted - len(set(results.accepted))
    # Each request has its own name: a name stored twice is an enrollment made twice.
    duplicates = sum(count - 1 for count in names.values())
    refused = {s: n for s, n in sorted(results.statuses.items()) if s != "202"}
    report = [
        f"requests sent         {results.sent} ({args.clients} clients, {load_seconds:.1f} s)",
        f"accepted (202)        {accepted}",
        f"refused               {refused or 'none'}",
        f"reached PROCESSED     {len(done)} (drained {drain_seconds:.1f} s after the last request)",
        f"lost                  {lost}",
        f"duplicate ids         {duplicate_ids}",
        f"duplicate enrollments {duplicates} (of {names.total()} stored)",
        f"redelivered records   {redelivered} (found PROCESSED already: {no_ops})",
        f"left on the queues    {depths}",
        f"reads until PROCESSED {results.polls} ({results.polls / max(1, accepted):.2f} an "
        "enrollment, each after its Retry-After)",
        f"POST latency          p50 {percentile(results.latencies, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(results.latencies, 0.99) * 1000:.0f} ms",
        f"throttled (429)       {results.throttled}, each sent again after a backoff",
        f"poller restart        {'SIGKILL' if args.kill else 'SIGTERM'}, {args.pause:.0f} s down",
        f"stack log             {log_path}",
    ]
    if args.retries:
        cuts = [proxy.cuts for proxy in proxies]
        report[3:3] = [
            f"retried               {results.retried} (answers replayed: {results.replayed}, "
            f"given up after {RETRY_FOR_SECONDS} s: {results.given_up})",
            f"faults injected       client-API {dict(cuts[0])}, API-AWS {dict(cuts[1])} "
            f"(rate {args.fault_rate:g})",
        ]
    print("\n".join(report))
    for text in results.server_errors[:5]:
        print(f"5xx: {text}")
    if args.retries:
        return 1 if duplicates or lost or results.given_up else 0
    return 1 if lost or duplicates or results.server_errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
