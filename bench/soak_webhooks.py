"""`python -m bench.soak_webhooks` (`make soak-webhooks`): webhook delivery under faults, 0 lost.

It starts the local stack as `make run` does (free ports, 127.0.0.1 only), with a short retry
schedule (`--retry-delays`, the notifier's `WEBHOOK_RETRY_DELAYS`) whose span outlasts the
outage, and a receiver in this process on 127.0.0.1: one HTTP server, one path per client, each
client's webhook pointed at its own path, with its own secret. Two clients send enrollments: the
stack's key and the local client's key, so that each event must reach its owner's endpoint alone
(an event at the other's path fails verification under that path's secret).

The receiver answers as `FaultPlan` says: a share of attempts fails (500 or 503), some answers
come slowly (under the notifier's 15 s timeout), a few too late (past it: a failure to the
notifier, a delivery to the receiver); and for `--outage` seconds its listening socket is
closed. The notifier is killed (SIGKILL) mid-batch at given times and started again: its stream
mapping resumes from its checkpoint, and the delivery queue's messages it held come back after
the queue's visibility timeout (shortened here, `--delivery-visibility-timeout`).

Every delivery is verified with `standardwebhooks` under its path's secret. Duplicates are
counted by `webhook-id`. It exits 1 unless every accepted enrollment is PROCESSED, its
`enrollment.processed` event was accepted (answered 2xx) at least once, and no delivery failed
verification.
"""

import argparse
import logging
import random
import re
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from standardwebhooks import Webhook, WebhookVerificationError

from app.adapters.tables import ENROLLMENTS
from app.domain.webhooks import TIMEOUT_SECONDS, event_id
from bench.progress import step
from bench.soak import API_KEY, Results, send_enrollments
from local.config import LocalSettings
from local.emulator import free_port
from local.poller import sqs_function_config
from local.process import configure_logging
from local.supervisor import NOTIFIER_FUNCTION, LocalService

logger = logging.getLogger("bench.soak_webhooks")

EVENT_TYPE = "enrollment.processed"
# Spans 86 s (each delay within ±20%): more than the 60 s outage, so that an event first tried
# as the outage begins still has attempts after it.
RETRY_DELAYS = "1,1,2,2,5,5,10,10,20,30"
# The notifier's log lines: each attempt's outcome, and the records its mappings redelivered.
ATTEMPT = re.compile(r"Webhook attempt \d+: (\w+)")
REDELIVERED = re.compile(
    r"notifier +local\.poller: Invocation \S+: \d+ records \((\d+) redelivered\)"
)
# The delivery queue's visibility timeout in the soak (the template's is 240 s): above the
# notifier's 15 s timeout, so an attempt in progress is not handed out twice, yet short enough
# that the messages a killed notifier held come back within the run.
DELIVERY_VISIBILITY_TIMEOUT = 30


@dataclass(frozen=True)
class Answer:
    """What the receiver answers one attempt, and after how long."""

    status: int
    delay: float = 0.0

    @property
    def accepted(self) -> bool:
        """A 2xx: the receiver took the event (even if the notifier stopped waiting)."""
        return 200 <= self.status < 300


class FaultPlan:
    """The receiver's answers: failures, slow and late answers, drawn from a seeded generator.

    An attempt fails (500 or 503) with probability `fail_rate`, is answered 204 after
    `late_seconds` (past the notifier's timeout: a failure to it) with `late_rate`, or 204 after
    a delay within `slow_seconds` (under the timeout) with `slow_rate`; else 204 at once. An event
    whose attempts failed `max_failures` times is not failed again, so that the faults, not luck,
    decide whether the retry schedule outlasts them: the outage is what tests its span.
    """

    def __init__(
        self,
        seed: int = 0,
        fail_rate: float = 0.3,
        slow_rate: float = 0.1,
        late_rate: float = 0.02,
        slow_seconds: tuple[float, float] = (2.0, 8.0),
        late_seconds: float = TIMEOUT_SECONDS + 2,
        max_failures: int = 3,
    ) -> None:
        self.fail_rate = fail_rate
        self.slow_rate = slow_rate
        self.late_rate = late_rate
        self.slow_seconds = slow_seconds
        self.late_seconds = late_seconds
        self.max_failures = max_failures
        self._rng = random.Random(seed)  # noqa: S311 (fault injection, not security)
        self._failures: Counter[str] = Counter()
        self._lock = threading.Lock()

    def answer(self, webhook_id: str) -> Answer:
        """The answer to this attempt of the event `webhook_id`."""
        with self._lock:
            draw = self._rng.random()
            may_fail = self._failures[webhook_id] < self.max_failures
            if draw < self.fail_rate and may_fail:
                self._failures[webhook_id] += 1
                return Answer(self._rng.choice((500, 503)))
            draw -= self.fail_rate
            if 0 <= draw < self.late_rate and may_fail:
                self._failures[webhook_id] += 1
                return Answer(204, self.late_seconds)
            draw -= self.late_rate
            if 0 <= draw < self.slow_rate:
                return Answer(204, self._rng.uniform(*self.slow_seconds))
            return Answer(204)


@dataclass
class Tally:
    """What the receiver got and answered, counted by `webhook-id`."""

    deliveries: int = 0
    # Deliveries answered 2xx, by webhook-id: more than one is a duplicate.
    accepted: Counter[str] = field(default_factory=Counter)
    failed_answers: int = 0
    slow_answers: int = 0
    late_answers: int = 0
    unverified: int = 0
    # When (time.monotonic()) the last event not accepted before was accepted.
    last_new_event: float | None = None

    def record(self, webhook_id: str, answer: Answer, verified: bool, at: float) -> None:
        """One delivery: its event, the answer given, whether its signature verified."""
        self.deliveries += 1
        if not verified:
            self.unverified += 1
            return
        if not answer.accepted:
            self.failed_answers += 1
            return
        if answer.delay >= TIMEOUT_SECONDS:
            self.late_answers += 1
        elif answer.delay > 0:
            self.slow_answers += 1
        if webhook_id not in self.accepted:
            self.last_new_event = at
        self.accepted[webhook_id] += 1

    @property
    def distinct(self) -> int:
        """Events accepted at least once."""
        return len(self.accepted)

    @property
    def duplicates(self) -> int:
        """Acceptances of an event already accepted."""
        return self.accepted.total() - self.distinct

    def lost(self, enrollment_ids: Iterable[str]) -> set[str]:
        """The enrollments whose `enrollment.processed` event was never accepted."""
        return {e for e in enrollment_ids if event_id(UUID(e), EVENT_TYPE) not in self.accepted}


@dataclass(frozen=True)
class Verdict:
    """The soak's outcome: what was lost, and every delivery verified."""

    lost: set[str]
    unprocessed: set[str]
    unverified: int

    @property
    def passed(self) -> bool:
        """Nothing lost, nothing left unprocessed, every delivery verified."""
        return not self.lost and not self.unprocessed and not self.unverified


def verdict(tally: Tally, statuses: dict[str, str], enrollment_ids: Iterable[str]) -> Verdict:
    """Judge the run: each enrollment PROCESSED (`statuses`, from the table) and its event
    accepted at least once, and no delivery unverified."""
    ids = set(enrollment_ids)
    return Verdict(
        lost=tally.lost(ids),
        unprocessed={e for e in ids if statuses.get(e) != "PROCESSED"},
        unverified=tally.unverified,
    )


class Receiver:
    """The clients' endpoints on 127.0.0.1, one path each, answering as `plan` says; `down()`
    closes the listening socket, `up()` opens it again on the same port."""

    def __init__(self, plan: FaultPlan, clock: Callable[[], float] = time.monotonic) -> None:
        self.plan = plan
        self.tally = Tally()
        self.secrets: dict[str, str] = {}
        self.port = 0
        self._clock = clock
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str) -> str:
        """The URL of the endpoint at `path`."""
        return f"http://127.0.0.1:{self.port}{path}"

    def up(self) -> None:
        """Listen (on the same port as before, if any) and serve in a thread."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.answer(self, self.path, headers, body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            # An answer in progress (up to a late one) holds neither `down()` nor the exit.
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request: Any, client_address: Any) -> None:
                # A connection the notifier closed first (its timeout): counted already.
                logger.debug("Receiver: connection from %s failed", client_address)

        self._server = Server(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="receiver", daemon=True
        )
        self._thread.start()

    def down(self) -> None:
        """Close the listening socket: connections are refused until `up()`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()

    def answer(
        self, handler: BaseHTTPRequestHandler, path: str, headers: dict[str, str], body: bytes
    ) -> None:
        """Verify a delivery under its path's secret, count it, and answer as the plan says."""
        webhook_id = headers.get("webhook-id", "")
        try:
            Webhook(self.secrets[path]).verify(body, headers)
            verified = True
        except (KeyError, WebhookVerificationError):
            verified = False
        answer = self.plan.answer(webhook_id) if verified else Answer(400)
        with self._lock:
            self.tally.record(webhook_id, answer, verified, self._clock())
        time.sleep(answer.delay)
        # A late answer finds the notifier gone: its connection closed.
        with suppress(OSError):
            handler.send_response(answer.status)
            handler.send_header("Content-Length", "0")
            handler.end_headers()

    def accepted(self, webhook_ids: Iterable[str]) -> int:
        """How many of these events were accepted at least once."""
        with self._lock:
            return sum(1 for w in webhook_ids if w in self.tally.accepted)


def run_faults(
    service: LocalService,
    receiver: Receiver,
    started: float,
    outage: tuple[float, float],
    kills: Sequence[float],
    kill_pause: float,
) -> None:
    """At their times after `started`: the outage (`receiver.down()`, then `up()`), and each
    kill of the notifier (SIGKILL, started again after `kill_pause`)."""
    events: list[tuple[float, str]] = [(outage[0], "down"), (outage[1], "up")]
    events += [(at, "kill") for at in kills]
    for at, what in sorted(events):
        time.sleep(max(0.0, started + at - time.monotonic()))
        if what == "down":
            logger.info("Receiver down (t+%.0f s)", at)
            receiver.down()
        elif what == "up":
            receiver.up()
            logger.info("Receiver up again (t+%.0f s)", at)
        else:
            logger.info("Killing the notifier mid-batch (t+%.0f s)", at)
            service.stop_notifier(kill=True)
            time.sleep(kill_pause)
            service.start_notifier()


def stored_statuses(service: LocalService) -> dict[str, str]:
    """Each enrollment's status, by id, as the table holds it."""
    assert service.stack is not None
    statuses = {}
    pages = (
        service.aws_client("dynamodb")
        .get_paginator("scan")
        .paginate(
            TableName=service.stack.refs[ENROLLMENTS.logical_id],
            ProjectionExpression="#k, #s",
            ExpressionAttributeNames={"#k": ENROLLMENTS.key, "#s": "status"},
        )
    )
    for page in pages:
        for item in page["Items"]:
            statuses[item[ENROLLMENTS.key]["S"]] = item["status"]["S"]
    return statuses


def main(argv: Sequence[str] | None = None) -> int:
    """Run the webhook soak and print its figures; 1 if an event was lost or unverified."""
    parser = argparse.ArgumentParser(description="Soak test of webhook delivery under faults")
    parser.add_argument("--enrollments", type=int, default=200, help="in all, both clients")
    parser.add_argument("--waves", type=int, default=4, help="the enrollments sent in waves")
    parser.add_argument("--wave-interval", type=float, default=20, help="seconds between waves")
    parser.add_argument("--delay", type=float, default=0.5, help="PROCESSING_DELAY_SECONDS")
    parser.add_argument("--retry-delays", default=RETRY_DELAYS, help="WEBHOOK_RETRY_DELAYS")
    parser.add_argument("--fail-rate", type=float, default=0.3)
    parser.add_argument("--slow-rate", type=float, default=0.1)
    parser.add_argument("--late-rate", type=float, default=0.02)
    parser.add_argument("--outage-at", type=float, default=15, help="seconds after the start")
    parser.add_argument("--outage", type=float, default=60, help="seconds the receiver is down")
    parser.add_argument(
        "--kill-at",
        default="8,85",
        help="seconds after the start at which the notifier is killed, comma-separated",
    )
    parser.add_argument("--kill-pause", type=float, default=2)
    parser.add_argument(
        "--delivery-visibility-timeout", type=int, default=DELIVERY_VISIBILITY_TIMEOUT
    )
    parser.add_argument("--drain-timeout", type=float, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    configure_logging("soak-webhooks")

    workdir = Path(tempfile.mkdtemp(prefix="soak-webhooks-"))
    log_path = workdir / "stack.log"
    settings = LocalSettings(
        host="127.0.0.1",
        port=free_port(),
        api_key=API_KEY,
        local_stack=True,
        aws_endpoint_url=None,
        local_emulator_port=0,
        processing_delay_seconds=args.delay,
    )
    keys = {"/hooks/staff": API_KEY, "/hooks/partner": settings.client_api_key}
    kills = [float(at) for at in args.kill_at.split(",") if at.strip()]
    outage = (args.outage_at, args.outage_at + args.outage)
    plan = FaultPlan(args.seed, args.fail_rate, args.slow_rate, args.late_rate)
    receiver = Receiver(plan)
    results = {path: Results() for path in keys}

    with log_path.open("w") as log:
        service = LocalService(
            settings,
            output=log,
            function_environment={"WEBHOOK_RETRY_DELAYS": args.retry_delays},
        )
        try:
            service.start()
            assert service.stack is not None
            queue = sqs_function_config(service.template, NOTIFIER_FUNCTION).queue_id
            service.aws_client("sqs").set_queue_attributes(
                QueueUrl=service.stack.refs[queue],
                Attributes={"VisibilityTimeout": str(args.delivery_visibility_timeout)},
            )
            logger.info("Stack up; its logs: %s", log_path)
            receiver.up()
            for path, key in keys.items():
                with httpx.Client(base_url=service.api_url, headers={"x-api-key": key}) as http:
                    if key == API_KEY:
                        http.post("/age-groups", json={"min_age": 0, "max_age": 150})
                    answer = http.put("/webhook", json={"url": receiver.url(path)})
                    answer.raise_for_status()
                    receiver.secrets[path] = answer.json()["secret"]

            started = time.monotonic()
            faults = threading.Thread(
                target=run_faults,
                args=(service, receiver, started, outage, kills, args.kill_pause),
                daemon=True,
            )
            faults.start()
            per_wave = args.enrollments // (args.waves * len(keys))
            total = per_wave * args.waves * len(keys)
            with (
                step(f"Webhook soak: POST /enrollments, {args.waves} waves", total) as sent,
                ThreadPoolExecutor(len(keys)) as pool,
            ):
                for wave in range(args.waves):
                    time.sleep(max(0.0, started + wave * args.wave_interval - time.monotonic()))
                    futures = [
                        pool.submit(
                            send_enrollments,
                            service.api_url,
                            per_wave,
                            2,
                            time.monotonic() + 120,
                            results[path],
                            args.seed + 100 * wave + n,
                            False,
                            sent,
                            key,
                        )
                        for n, (path, key) in enumerate(keys.items())
                    ]
                    for future in futures:
                        future.result()
            enrollment_ids = [e for r in results.values() for e in r.accepted]
            events = [event_id(UUID(e), EVENT_TYPE) for e in enrollment_ids]
            deadline = time.monotonic() + args.drain_timeout
            with step("Webhook soak: events accepted", len(events)) as arrived:
                seen = 0
                while time.monotonic() < deadline:
                    now_seen = receiver.accepted(events)
                    arrived(now_seen - seen)
                    seen = now_seen
                    if seen == len(events) and not faults.is_alive():
                        break
                    time.sleep(0.5)
            faults.join(timeout=1)
            statuses = stored_statuses(service)
        finally:
            receiver.down()
            service.stop()

    tally = receiver.tally
    judged = verdict(tally, statuses, enrollment_ids)
    refused = Counter[str]()
    for r in results.values():
        refused.update({s: n for s, n in r.statuses.items() if s != "202"})
    last = (tally.last_new_event or started) - started
    kill_times = ", ".join(f"t+{at:g} s" for at in kills)
    stack_log = log_path.read_text()
    attempts = Counter(ATTEMPT.findall(stack_log))
    redelivered = sum(int(n) for n in REDELIVERED.findall(stack_log))
    report = [
        f"enrollments           {len(enrollment_ids)} accepted of {total} sent "
        f"({len(keys)} clients, {args.waves} waves {args.wave_interval:g} s apart; "
        f"refused: {dict(refused) or 'none'})",
        f"reached PROCESSED     {len(enrollment_ids) - len(judged.unprocessed)}",
        f"deliveries received   {tally.deliveries}",
        f"distinct events       {tally.distinct} accepted (2xx)",
        f"lost                  {len(judged.lost)}",
        f"duplicates            {tally.duplicates} (events accepted again, by webhook-id)",
        f"failed answers given  {tally.failed_answers} (500/503; rate {args.fail_rate:g}, "
        f"at most {plan.max_failures} an event)",
        f"slow answers          {tally.slow_answers} under the {TIMEOUT_SECONDS:g} s timeout, "
        f"{tally.late_answers} past it",
        f"outage window         t+{outage[0]:g} s to t+{outage[1]:g} s (socket closed)",
        f"notifier kills        {len(kills)} (SIGKILL at {kill_times}; delivery queue "
        f"visibility {args.delivery_visibility_timeout} s)",
        f"verification failures {tally.unverified}",
        f"notifier's attempts   {dict(attempts.most_common())} (refused during the outage and "
        f"past the timeout: failed; records redelivered to it: {redelivered})",
        f"time to last delivery {last:.1f} s after the first enrollment (last new event)",
        f"retry delays          {args.retry_delays} s",
        f"stack log             {log_path}",
    ]
    print("\n".join(report))
    for enrollment in sorted(judged.lost)[:5]:
        print(f"lost: {enrollment} ({statuses.get(enrollment, 'not stored')})")
    return 0 if judged.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
