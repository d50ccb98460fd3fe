"""The webhook soak's receiver: its fault schedule, its count of duplicates, its verdict."""

import base64
from datetime import UTC, datetime
from uuid import UUID, uuid4

import httpx
import pytest
from standardwebhooks import Webhook

from app.domain.webhooks import TIMEOUT_SECONDS, event_id
from bench.soak_webhooks import EVENT_TYPE, Answer, FaultPlan, Receiver, Tally, verdict

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def webhook_id(enrollment_id: str) -> str:
    return event_id(UUID(enrollment_id), EVENT_TYPE)


def test_the_plan_fails_about_its_rate_of_attempts_with_500_or_503() -> None:
    plan = FaultPlan(seed=7, fail_rate=0.3, slow_rate=0, late_rate=0, max_failures=10**6)

    answers = [plan.answer(f"msg_{n}") for n in range(2000)]

    failed = [a for a in answers if not a.accepted]
    assert 0.27 < len(failed) / len(answers) < 0.33
    assert {a.status for a in failed} == {500, 503}
    assert all(a == Answer(204) for a in answers if a.accepted)


def test_slow_answers_come_under_the_timeout_and_late_ones_past_it() -> None:
    plan = FaultPlan(seed=3, fail_rate=0, slow_rate=0.5, late_rate=0.2, max_failures=10**6)

    answers = [plan.answer(f"msg_{n}") for n in range(1000)]

    slow = [a.delay for a in answers if 0 < a.delay < TIMEOUT_SECONDS]
    late = [a.delay for a in answers if a.delay >= TIMEOUT_SECONDS]
    assert all(a.status == 204 for a in answers)
    assert 400 < len(slow) < 600
    assert 150 < len(late) < 250
    assert all(plan.slow_seconds[0] <= d <= plan.slow_seconds[1] for d in slow)


def test_an_event_is_failed_at_most_max_failures_times() -> None:
    plan = FaultPlan(seed=1, fail_rate=0.9, late_rate=0.1, slow_rate=0, max_failures=3)

    answers = [plan.answer("msg_one") for _ in range(50)]

    failures = [a for a in answers if not a.accepted or a.delay >= TIMEOUT_SECONDS]
    assert len(failures) == 3
    assert answers[3:] == [Answer(204)] * 47


def test_the_same_seed_gives_the_same_schedule() -> None:
    first, second = FaultPlan(seed=5), FaultPlan(seed=5)

    assert [first.answer(f"m{n % 7}") for n in range(100)] == [
        second.answer(f"m{n % 7}") for n in range(100)
    ]


def test_duplicates_are_counted_by_webhook_id_and_failed_answers_are_not_deliveries() -> None:
    tally = Tally()
    tally.record("msg_a", Answer(503), verified=True, at=1.0)
    tally.record("msg_a", Answer(204), verified=True, at=2.0)
    tally.record("msg_a", Answer(204, TIMEOUT_SECONDS + 2), verified=True, at=3.0)
    tally.record("msg_b", Answer(204, 3.0), verified=True, at=4.0)
    tally.record("msg_b", Answer(204), verified=True, at=5.0)
    tally.record("msg_c", Answer(400), verified=False, at=6.0)

    assert tally.deliveries == 6
    assert tally.distinct == 2
    assert tally.duplicates == 2
    assert (tally.failed_answers, tally.slow_answers, tally.late_answers) == (1, 1, 1)
    assert tally.unverified == 1
    assert tally.last_new_event == 4.0


def test_an_event_only_ever_failed_is_lost() -> None:
    delivered, failed, never_sent = (str(uuid4()) for _ in range(3))
    tally = Tally()
    tally.record(webhook_id(delivered), Answer(204), verified=True, at=1.0)
    tally.record(webhook_id(delivered), Answer(204), verified=True, at=2.0)
    tally.record(webhook_id(failed), Answer(500), verified=True, at=3.0)
    statuses = dict.fromkeys((delivered, failed, never_sent), "PROCESSED")

    judged = verdict(tally, statuses, [delivered, failed, never_sent])

    assert judged.lost == {failed, never_sent}
    assert not judged.passed


def test_the_verdict_passes_only_with_every_event_processed_delivered_and_verified() -> None:
    ids = [str(uuid4()) for _ in range(3)]
    tally = Tally()
    for enrollment_id in ids:
        tally.record(webhook_id(enrollment_id), Answer(204), verified=True, at=1.0)

    assert verdict(tally, dict.fromkeys(ids, "PROCESSED"), ids).passed
    pending = verdict(tally, {**dict.fromkeys(ids, "PROCESSED"), ids[0]: "PENDING"}, ids)
    assert pending.unprocessed == {ids[0]}
    assert not pending.passed
    tally.record("msg_forged", Answer(400), verified=False, at=2.0)
    assert not verdict(tally, dict.fromkeys(ids, "PROCESSED"), ids).passed


@pytest.mark.process
def test_the_receiver_verifies_refuses_while_down_and_comes_back_on_its_port() -> None:
    receiver = Receiver(FaultPlan(fail_rate=0, slow_rate=0, late_rate=0))
    receiver.secrets["/hooks/a"] = SECRET
    receiver.up()
    port = receiver.port
    body = b'{"type":"enrollment.processed"}'

    def post(path: str, secret: str, msg_id: str) -> int:
        signature = Webhook(secret).sign(msg_id, datetime.now(UTC), body.decode())
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(datetime.now(UTC).timestamp())),
            "webhook-signature": signature,
        }
        return httpx.post(receiver.url(path), content=body, headers=headers).status_code

    try:
        assert post("/hooks/a", SECRET, "msg_1") == 204
        other = "whsec_" + base64.b64encode(b"o" * 32).decode()
        assert post("/hooks/a", other, "msg_2") == 400
        receiver.down()
        with pytest.raises(httpx.ConnectError):
            post("/hooks/a", SECRET, "msg_3")
        receiver.up()
        assert receiver.port == port
        assert post("/hooks/a", SECRET, "msg_1") == 204
    finally:
        receiver.down()

    assert (receiver.tally.distinct, receiver.tally.duplicates) == (1, 1)
    assert receiver.tally.unverified == 1
