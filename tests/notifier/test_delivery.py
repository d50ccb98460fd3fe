"""The notifier's use cases with the stores, the queue and the network in memory: what each
answer of an endpoint leads to, and what is signed."""

import json
import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
import standardwebhooks.webhooks
from standardwebhooks import Webhook, WebhookVerificationError

from app.domain import delivery
from app.domain.delivery import Notifier, deliver, schedule_processed
from app.domain.destinations import Destination, check_url
from app.domain.errors import NotFoundError
from app.domain.models.enrollments import Enrollment, EnrollmentStatus
from app.domain.models.webhooks import (
    DeliveryAttempt,
    DeliveryJob,
    DeliveryOutcome,
    WebhookEndpoint,
)
from app.domain.notification import event_body
from app.domain.webhooks import (
    FAILING_FOR_SECONDS,
    RETRY_DELAYS,
    Answer,
    event_id,
    new_secret,
    next_delay,
    signature,
)
from app.observability.metrics import Metric
from tests.webhooks import FakeResolver

# Now, to the second: the notifier's clock in these tests.
NOW = float(int(time.time()))
OWNER = "partner-a"


class _AtNow(datetime):
    """`datetime` whose now is NOW, for the library's check of a timestamp's age."""

    @classmethod
    def now(cls, tz: Any = None) -> "_AtNow":
        return cls.fromtimestamp(NOW, tz)


@pytest.fixture(autouse=True)
def _verified_at_now(monkeypatch: pytest.MonkeyPatch) -> None:
    # The library takes a delivery older than five minutes for a replay: verify it at the
    # notifier's clock, not at whenever this test runs.
    monkeypatch.setattr(standardwebhooks.webhooks, "datetime", _AtNow)


class Enrollments:
    def __init__(self) -> None:
        self.items: dict[UUID, Enrollment] = {}

    def get(self, enrollment_id: UUID) -> Enrollment:
        if enrollment_id not in self.items:
            raise NotFoundError("Enrollment", enrollment_id)
        return self.items[enrollment_id]

    def mark_processed(self, enrollment: Enrollment, expires_at: int | None) -> EnrollmentStatus:
        raise AssertionError("the notifier never writes an enrollment")


class Endpoints:
    def __init__(self) -> None:
        self.items: dict[str, WebhookEndpoint] = {}

    def get(self, api_key_id: str, consistent: bool = True) -> WebhookEndpoint | None:
        return self.items.get(api_key_id)

    def record_success(self, api_key_id: str) -> None:
        self.items[api_key_id] = self.items[api_key_id].model_copy(update={"failing_since": None})

    def record_failure(self, api_key_id: str) -> WebhookEndpoint:
        endpoint = self.items[api_key_id]
        if endpoint.failing_since is None:
            endpoint = endpoint.model_copy(
                update={"failing_since": datetime.fromtimestamp(NOW, UTC)}
            )
            self.items[api_key_id] = endpoint
        return endpoint

    def disable(self, api_key_id: str, reason: str) -> None:
        self.items[api_key_id] = self.items[api_key_id].model_copy(
            update={"enabled": False, "disabled_reason": reason}
        )


class Log:
    def __init__(self) -> None:
        self.attempts: list[tuple[str, DeliveryAttempt]] = []

    def record(self, api_key_id: str, attempt: DeliveryAttempt) -> None:
        self.attempts.append((api_key_id, attempt))


class Scheduler:
    def __init__(self) -> None:
        self.jobs: list[tuple[DeliveryJob, float]] = []

    def schedule(self, job: DeliveryJob, delay_seconds: float) -> None:
        self.jobs.append((job, delay_seconds))


class Sender:
    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers) or [Answer(204)]
        self.sent: list[tuple[Destination, bytes, dict[str, str]]] = []

    def post(
        self, destination: Destination, body: bytes, headers: dict[str, str], timeout: float
    ) -> Answer:
        assert timeout == 15
        self.sent.append((destination, body, headers))
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class Metrics:
    def __init__(self) -> None:
        self.counts: Counter[Metric] = Counter()

    def add(self, metric: Metric, value: float = 1) -> None:
        self.counts[metric] += int(value)

    def emit(self, metric: Metric, value: float = 1) -> None:
        self.add(metric, value)


def processed(
    owner: str = OWNER, status: EnrollmentStatus = EnrollmentStatus.PROCESSED
) -> Enrollment:
    at = datetime.fromtimestamp(NOW - 2, UTC)
    return Enrollment(
        enrollment_id=uuid4(),
        name="Maria da Silva",
        age=22,
        cpf="52998224725",
        status=status,
        created_at=at - timedelta(seconds=5),
        updated_at=at,
        owner=owner,
    )


def endpoint(url: str = "https://partner.example/hooks", **changes: Any) -> WebhookEndpoint:
    at = datetime.fromtimestamp(NOW - 3600, UTC)
    fields: dict[str, Any] = {"enabled": True, "created_at": at, "updated_at": at}
    return WebhookEndpoint(url=url, **(fields | {"secret": new_secret()} | changes))


@pytest.fixture
def notifier() -> Notifier:
    uses = Notifier(
        enrollments=Enrollments(),
        endpoints=Endpoints(),
        log=Log(),
        scheduler=Scheduler(),
        sender=Sender(),
        resolver=FakeResolver(),
        metrics=Metrics(),
        clock=lambda: NOW,
    )
    uses.endpoints.items[OWNER] = endpoint()  # type: ignore[attr-defined]
    return uses


def stored(notifier: Notifier, enrollment: Enrollment) -> DeliveryJob:
    notifier.enrollments.items[enrollment.enrollment_id] = enrollment  # type: ignore[attr-defined]
    return DeliveryJob(owner=enrollment.owner or "", enrollment_id=enrollment.enrollment_id)


def sent(notifier: Notifier) -> list[tuple[Destination, bytes, dict[str, str]]]:
    return notifier.sender.sent  # type: ignore[attr-defined,no-any-return]


def scheduled(notifier: Notifier) -> list[tuple[DeliveryJob, float]]:
    return notifier.scheduler.jobs  # type: ignore[attr-defined,no-any-return]


def logged(notifier: Notifier) -> list[DeliveryAttempt]:
    return [attempt for _, attempt in notifier.log.attempts]  # type: ignore[attr-defined]


def answering(notifier: Notifier, *answers: Answer) -> Notifier:
    notifier.sender = Sender(*answers)
    return notifier


def test_a_delivery_is_signed_as_standard_webhooks_verifies_and_carries_no_personal_data(
    notifier: Notifier,
) -> None:
    enrollment = processed()

    outcome = deliver(stored(notifier, enrollment), notifier)

    assert outcome is DeliveryOutcome.DELIVERED
    [(destination, body, headers)] = sent(notifier)
    assert (destination.host, destination.target) == ("partner.example", "/hooks")
    secret = notifier.endpoints.items[OWNER].secret  # type: ignore[attr-defined]
    event = Webhook(secret).verify(body, headers)
    assert event == {
        "type": "enrollment.processed",
        "timestamp": enrollment.updated_at.isoformat().replace("+00:00", "Z"),
        "data": {
            "enrollment_id": str(enrollment.enrollment_id),
            "status": "PROCESSED",
            "processed_at": enrollment.updated_at.isoformat().replace("+00:00", "Z"),
        },
    }
    assert b"52998224725" not in body
    assert b"Maria" not in body
    assert headers["webhook-id"] == event_id(enrollment.enrollment_id, "enrollment.processed")
    assert headers["webhook-timestamp"] == str(int(NOW))
    assert notifier.metrics.counts == {Metric.WEBHOOK_DELIVERED: 1}  # type: ignore[attr-defined]
    assert [a.outcome for a in logged(notifier)] == [DeliveryOutcome.DELIVERED]
    assert scheduled(notifier) == []


def test_a_signature_under_another_secret_is_refused_by_the_library(notifier: Notifier) -> None:
    deliver(stored(notifier, processed()), notifier)
    [(_, body, headers)] = sent(notifier)

    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)


def test_every_attempt_of_an_event_carries_the_same_webhook_id(notifier: Notifier) -> None:
    answering(notifier, Answer(500), Answer(503), Answer(200))
    job = stored(notifier, processed())

    deliver(job, notifier)
    for retry in (0, 1):
        due = scheduled(notifier)[retry][0]
        notifier.clock = lambda due=due: due.due_at  # type: ignore[misc]
        deliver(due, notifier)

    ids = {headers["webhook-id"] for _, _, headers in sent(notifier)}
    assert len(sent(notifier)) == 3
    assert len(ids) == 1
    assert [a.attempt for a in logged(notifier)] == [1, 2, 3]


@pytest.mark.parametrize(
    "answer",
    [Answer(500), Answer(404), Answer(301), Answer(302), Answer(error="no answer within 15 s")],
)
def test_a_failed_attempt_is_tried_again_on_the_schedule(
    notifier: Notifier, answer: Answer
) -> None:
    answering(notifier, answer)

    outcome = deliver(stored(notifier, processed()), notifier)

    assert outcome is DeliveryOutcome.FAILED
    [(job, delay)] = scheduled(notifier)
    assert job.attempt == 2
    assert RETRY_DELAYS[0] * 0.8 <= delay <= RETRY_DELAYS[0] * 1.2
    assert job.due_at == pytest.approx(NOW + delay)
    [attempt] = logged(notifier)
    assert (attempt.status_code, attempt.error) == (answer.status, answer.error)
    assert attempt.next_attempt_at is not None
    assert notifier.metrics.counts == {Metric.WEBHOOK_ATTEMPT_FAILED: 1}  # type: ignore[attr-defined]


def test_the_schedule_spans_more_than_a_day_with_jitter() -> None:
    rng = random.Random(7)
    delays = [next_delay(attempt, rng=rng) for attempt in range(1, len(RETRY_DELAYS) + 2)]

    assert delays[-1] is None
    total = sum(d for d in delays if d is not None)
    assert total > 24 * 3600
    assert all(
        d is not None and 0.8 * base <= d <= 1.2 * base and d != base
        for d, base in zip(delays, RETRY_DELAYS, strict=False)
    )
    # Within what SQS allows a message's delay to be chained to: each hop at most 15 minutes.
    assert max(RETRY_DELAYS) > 900


def test_retry_after_is_honoured_when_later_than_the_schedule(notifier: Notifier) -> None:
    answering(notifier, Answer(429, retry_after=120))

    deliver(stored(notifier, processed()), notifier)

    [(_, delay)] = scheduled(notifier)
    assert delay == 120


def test_a_job_that_is_not_due_waits_on_without_a_request(notifier: Notifier) -> None:
    job = stored(notifier, processed()).model_copy(update={"due_at": NOW + 3_600, "attempt": 4})

    assert deliver(job, notifier) is None

    assert sent(notifier) == []
    [(waiting, delay)] = scheduled(notifier)
    assert (waiting, delay) == (job, 3_600)


def test_410_disables_the_endpoint_and_nothing_is_tried_again(notifier: Notifier) -> None:
    answering(notifier, Answer(410))

    outcome = deliver(stored(notifier, processed()), notifier)

    assert outcome is DeliveryOutcome.DISABLED
    assert scheduled(notifier) == []
    now = notifier.endpoints.items[OWNER]  # type: ignore[attr-defined]
    assert (now.enabled, now.disabled_reason) == (False, delivery.GONE_REASON)
    # The next event of the client is not sent.
    assert deliver(stored(notifier, processed()), notifier) is DeliveryOutcome.ABANDONED
    assert len(sent(notifier)) == 1


def test_the_last_failure_exhausts_the_delivery_and_is_counted(notifier: Notifier) -> None:
    answering(notifier, Answer(500))
    job = stored(notifier, processed()).model_copy(update={"attempt": len(RETRY_DELAYS) + 1})

    outcome = deliver(job, notifier)

    assert outcome is DeliveryOutcome.EXHAUSTED
    assert scheduled(notifier) == []
    assert notifier.metrics.counts[Metric.WEBHOOK_EXHAUSTED] == 1  # type: ignore[attr-defined]
    assert [a.outcome for a in logged(notifier)] == [DeliveryOutcome.EXHAUSTED]


def test_an_endpoint_failing_for_three_days_is_disabled(notifier: Notifier) -> None:
    since = datetime.fromtimestamp(NOW - FAILING_FOR_SECONDS, UTC)
    notifier.endpoints.items[OWNER] = endpoint(failing_since=since)  # type: ignore[attr-defined]
    answering(notifier, Answer(503))

    outcome = deliver(stored(notifier, processed()), notifier)

    assert outcome is DeliveryOutcome.DISABLED
    now = notifier.endpoints.items[OWNER]  # type: ignore[attr-defined]
    assert (now.enabled, now.disabled_reason) == (False, delivery.FAILING_REASON)


def test_a_success_ends_the_failing_streak(notifier: Notifier) -> None:
    since = datetime.fromtimestamp(NOW - 3_600, UTC)
    notifier.endpoints.items[OWNER] = endpoint(failing_since=since)  # type: ignore[attr-defined]

    deliver(stored(notifier, processed()), notifier)

    assert notifier.endpoints.items[OWNER].failing_since is None  # type: ignore[attr-defined]


def test_after_a_rotation_both_secrets_sign_for_a_day(notifier: Notifier) -> None:
    old, new = new_secret(), new_secret()
    until = datetime.fromtimestamp(NOW + 60, UTC)
    notifier.endpoints.items[OWNER] = endpoint(  # type: ignore[attr-defined]
        secret=new, previous_secret=old, previous_secret_until=until
    )

    deliver(stored(notifier, processed()), notifier)
    notifier.clock = lambda: NOW + 61
    deliver(stored(notifier, processed()), notifier)

    (_, during_body, during), (_, after_body, after) = sent(notifier)
    assert len(during["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(during_body, during)
    Webhook(new).verify(during_body, during)
    assert len(after["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(after_body, after)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(after_body, after)


def test_the_signature_is_the_specs_hmac() -> None:
    # The example of the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'

    assert (
        signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_a_host_that_resolves_to_a_private_address_at_delivery_is_not_sent_to(
    notifier: Notifier,
) -> None:
    # Public when the URL was set; rebound to the metadata service since.
    notifier.resolver = FakeResolver({"partner.example": ["169.254.169.254"]})

    outcome = deliver(stored(notifier, processed()), notifier)

    assert sent(notifier) == []
    assert outcome is DeliveryOutcome.FAILED
    [attempt] = logged(notifier)
    assert "link-local" in (attempt.error or "")


@pytest.mark.parametrize(
    "state", [EnrollmentStatus.PENDING, "ERASED", "missing", "another client's"]
)
def test_only_a_processed_enrollment_of_the_jobs_owner_is_sent(
    notifier: Notifier, state: object
) -> None:
    enrollment = processed()
    job = stored(notifier, enrollment)
    items = notifier.enrollments.items  # type: ignore[attr-defined]
    if state == "missing":
        del items[enrollment.enrollment_id]
    elif state == "another client's":
        items[enrollment.enrollment_id] = enrollment.model_copy(update={"owner": "partner-b"})
    else:
        items[enrollment.enrollment_id] = enrollment.model_copy(
            update={"status": EnrollmentStatus.PENDING}
        )
        if state == "ERASED":
            # A status the enrollment may hold that is not PROCESSED.
            object.__setattr__(items[enrollment.enrollment_id], "status", "ERASED")

    assert deliver(job, notifier) is DeliveryOutcome.ABANDONED
    assert sent(notifier) == []
    assert scheduled(notifier) == []


def test_a_processed_enrollment_is_scheduled_once_its_owner_has_an_enabled_endpoint(
    notifier: Notifier,
) -> None:
    mine, pending, orphan = (
        processed(),
        processed(status=EnrollmentStatus.PENDING),
        processed("nobody"),
    )
    for enrollment in (mine, pending, orphan):
        stored(notifier, enrollment)

    assert schedule_processed(mine.enrollment_id, notifier) is not None
    assert schedule_processed(pending.enrollment_id, notifier) is None
    assert schedule_processed(orphan.enrollment_id, notifier) is None
    assert schedule_processed(uuid4(), notifier) is None

    [(job, delay)] = scheduled(notifier)
    assert (job.owner, job.enrollment_id, job.attempt, delay) == (OWNER, mine.enrollment_id, 1, 0)


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://169.254.169.254/", "https"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://10.0.0.1/", "public address"),
        ("https://192.168.1.10/", "public address"),
        ("https://[fd12::1]/", "public address"),
        ("https://[::ffff:127.0.0.1]/", "loopback"),
        ("https://127.0.0.1/", "loopback"),
        ("https://224.0.0.251/", "multicast"),
        ("http://partner.example/hooks", "https"),
        ("https://user:pass@partner.example/", "credentials"),
        ("ftp://partner.example/", "https"),
    ],
)
def test_a_url_no_delivery_may_go_to_names_its_rule(url: str, rule: str) -> None:
    with pytest.raises(Exception, match=rule):
        check_url(url, FakeResolver())


def test_a_name_that_resolves_to_any_private_address_is_refused() -> None:
    resolver = FakeResolver({"mixed.example": ["93.184.215.14", "10.1.2.3"]})

    with pytest.raises(Exception, match="public address"):
        check_url("https://mixed.example/", resolver)


def test_loopback_http_is_allowed_only_by_its_setting() -> None:
    with pytest.raises(Exception, match="https"):
        check_url("http://127.0.0.1:9000/hooks", FakeResolver())

    destination = check_url("http://127.0.0.1:9000/hooks", FakeResolver(), allow_loopback_http=True)

    assert (destination.host, destination.port, destination.target) == ("127.0.0.1", 9000, "/hooks")
    # And only to loopback: a private address is refused with the setting too.
    with pytest.raises(Exception, match="public address"):
        check_url("http://10.0.0.1/", FakeResolver(), allow_loopback_http=True)


def test_an_events_body_is_compact_json() -> None:
    body = event_body(processed())

    assert json.loads(body)["type"] == "enrollment.processed"
