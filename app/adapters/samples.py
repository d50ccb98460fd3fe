"""The AWS calls the adapters make, with answers of the shape AWS gives: what an operation's
samples declare (app/api/operations.py), built here so that no router writes DynamoDB's or SQS's
wire format.

A sample's resources are fixed (their ids, their times), so that a primed snapshot is the same
from one publication to the next.
"""

from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from uuid import UUID

from app.adapters import age_groups, deliveries, enrollments, webhooks
from app.adapters.enrollment_index import item_key, partitions
from app.adapters.tables import (
    AGE_GROUPS,
    DELIVERIES,
    ENROLLMENTS,
    IDEMPOTENCY,
    WEBHOOKS,
    TableSpec,
)
from app.domain.models.age_groups import AgeGroup
from app.domain.models.enrollments import Enrollment, EnrollmentStatus
from app.domain.models.lists import EnrollmentSelection
from app.domain.models.webhooks import DeliveryAttempt, DeliveryOutcome, WebhookEndpoint


class AwsCall(NamedTuple):
    """One AWS call a sample makes, in its order, with the answer that serves it."""

    # The botocore client's service and method: ("dynamodb", "get_item").
    service: str
    operation: str
    answer: dict[str, Any]
    # The items the call finds, and their table: what must exist for the sample to be served
    # for real (the benchmark and the IAM test put them in place first).
    table: TableSpec | None = None
    existing: tuple[dict[str, Any], ...] = ()


SAMPLE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
# An age group every age falls in, so that a sample enrollment is accepted.
SAMPLE_GROUP = AgeGroup(
    age_group_id=UUID("00000000-0000-4000-8000-000000000001"),
    min_age=0,
    max_age=150,
    created_at=SAMPLE_TIME,
)
SAMPLE_ENROLLMENT = Enrollment(
    enrollment_id=UUID("00000000-0000-4000-8000-000000000002"),
    name="Maria da Silva",
    age=22,
    cpf="52998224725",
    status=EnrollmentStatus.PENDING,
    created_at=SAMPLE_TIME,
    updated_at=SAMPLE_TIME,
)
# A second enrollment, a second newer and processed, in another shard of the lists' indexes: a
# list of one item per page finds a next page.
SAMPLE_LATER_ENROLLMENT = SAMPLE_ENROLLMENT.model_copy(
    update={
        "enrollment_id": UUID("00000000-0000-4000-8000-000000000003"),
        "status": EnrollmentStatus.PROCESSED,
        "created_at": SAMPLE_TIME + timedelta(seconds=1),
        "updated_at": SAMPLE_TIME + timedelta(seconds=5),
    }
)


# The samples' caller: the id of the stack's own key in the events they are sent as
# (app.entrypoints.events.SAMPLE_API_KEY_ID, which a test holds this to).
SAMPLE_CALLER_KEY_ID = "k1l2m3n4o5"
# An endpoint at a public address, written as one: checking it needs no DNS.
SAMPLE_ENDPOINT = WebhookEndpoint(
    url="https://93.184.215.14/webhooks",
    enabled=True,
    created_at=SAMPLE_TIME,
    updated_at=SAMPLE_TIME,
    secret="whsec_" + "A" * 43 + "=",
)
SAMPLE_DELIVERY = DeliveryAttempt(
    delivery_id="dlv_019b77f6e40000000000",
    webhook_id=f"msg_{SAMPLE_ENROLLMENT.enrollment_id.hex}_enrollment_processed",
    event_type="enrollment.processed",
    enrollment_id=SAMPLE_ENROLLMENT.enrollment_id,
    attempt=1,
    outcome=DeliveryOutcome.DELIVERED,
    status_code=204,
    attempted_at=SAMPLE_TIME,
)
# An enrollment of the samples' caller, which only it may erase.
SAMPLE_OWN_ENROLLMENT = SAMPLE_ENROLLMENT.model_copy(
    update={
        "enrollment_id": UUID("00000000-0000-4000-8000-000000000004"),
        "owner": SAMPLE_CALLER_KEY_ID,
    }
)
# A key the samples' CPF hash is taken with, where its secret is stubbed (the priming).
SAMPLE_CPF_KEY = "sample-cpf-key"


def groups_scanned(*groups: AgeGroup) -> AwsCall:
    """The scan of the age groups, which finds `groups`."""
    items = tuple(age_groups.to_item(group) for group in groups)
    return AwsCall("dynamodb", "scan", {"Items": list(items)}, AGE_GROUPS, items)


def group_put() -> AwsCall:
    """A new age group written."""
    return AwsCall("dynamodb", "put_item", {}, AGE_GROUPS)


def group_deleted(group: AgeGroup) -> AwsCall:
    """An age group, which exists, deleted."""
    return AwsCall("dynamodb", "delete_item", {}, AGE_GROUPS, (age_groups.to_item(group),))


def enrollment_read(enrollment: Enrollment) -> AwsCall:
    """An enrollment, which exists, read."""
    item = enrollments.to_item(enrollment)
    return AwsCall("dynamodb", "get_item", {"Item": item}, ENROLLMENTS, (item,))


def enrollment_erased(enrollment: Enrollment) -> AwsCall:
    """An enrollment, which exists, erased: its tombstone is the update's answer."""
    item = enrollments.to_item(enrollment)
    tombstone = enrollments.to_item(
        enrollment.model_copy(
            update={
                **dict.fromkeys(enrollments.PERSONAL_ATTRIBUTES),
                "status": EnrollmentStatus.ERASED,
                "erased_at": SAMPLE_TIME,
            }
        )
    )
    return AwsCall("dynamodb", "update_item", {"Attributes": tombstone}, ENROLLMENTS, (item,))


def cpf_key_read() -> AwsCall:
    """The CPF's key read, by the first enrollment of a process (then it is held a while)."""
    return AwsCall("secretsmanager", "get_secret_value", {"SecretString": SAMPLE_CPF_KEY})


def enrollment_put() -> AwsCall:
    """A new enrollment written."""
    return AwsCall("dynamodb", "put_item", {}, ENROLLMENTS)


def enrollment_published() -> AwsCall:
    """An enrollment's id sent to the queue."""
    return AwsCall("sqs", "send_message", {"MessageId": str(SAMPLE_ENROLLMENT.enrollment_id)})


def key_claimed() -> AwsCall:
    """An `Idempotency-Key`'s record claimed, by a first request with it."""
    return AwsCall("dynamodb", "put_item", {}, IDEMPOTENCY)


def written_with_its_claim() -> AwsCall:
    """A new resource and its claim's completion, written in one transaction."""
    return AwsCall("dynamodb", "transact_write_items", {})


def _endpoint_item() -> dict[str, Any]:
    return webhooks.to_item(SAMPLE_CALLER_KEY_ID, SAMPLE_ENDPOINT)


def endpoint_set() -> AwsCall:
    """The caller's endpoint set, its secret made or kept."""
    return AwsCall("dynamodb", "update_item", {"Attributes": _endpoint_item()}, WEBHOOKS)


def endpoint_read() -> AwsCall:
    """The caller's endpoint, which exists, read."""
    item = _endpoint_item()
    return AwsCall("dynamodb", "get_item", {"Item": item}, WEBHOOKS, (item,))


def endpoint_updated() -> AwsCall:
    """The caller's endpoint, which exists, updated: its secret rotated."""
    item = _endpoint_item()
    return AwsCall("dynamodb", "update_item", {"Attributes": item}, WEBHOOKS, (item,))


def endpoint_deleted() -> AwsCall:
    """The caller's endpoint, which exists, removed."""
    return AwsCall("dynamodb", "delete_item", {}, WEBHOOKS, (_endpoint_item(),))


def deliveries_queried() -> AwsCall:
    """The caller's recent delivery attempts, one of them."""
    item = deliveries.to_item(SAMPLE_CALLER_KEY_ID, SAMPLE_DELIVERY)
    return AwsCall("dynamodb", "query", {"Items": [item], "Count": 1}, DELIVERIES, (item,))


def delivery_read() -> AwsCall:
    """One of the caller's delivery attempts, which exists, read."""
    item = deliveries.to_item(SAMPLE_CALLER_KEY_ID, SAMPLE_DELIVERY)
    return AwsCall("dynamodb", "get_item", {"Item": item}, DELIVERIES, (item,))


def delivery_queued() -> AwsCall:
    """A delivery job sent to the delivery queue."""
    return AwsCall("sqs", "send_message", {"MessageId": "00000000-0000-4000-8000-000000000003"})


def enrollments_listed(
    *found: Enrollment, limit: int, status: EnrollmentStatus | None = None
) -> tuple[AwsCall, ...]:
    """A page of every client's enrollments (as the stack's key lists them), of `limit` items in
    `status`, read from the indexes, which hold `found`: a Query of each partition the list reads,
    in its order, each answering what that partition holds of `found`."""
    selection = EnrollmentSelection(None, status, None, None, limit, None)
    calls = []
    items = [enrollments.to_item(enrollment) for enrollment in found]
    for index, partition in partitions(selection):
        held = sorted(
            (item for item in items if item.get(index.partition_key) == {"S": partition}),
            key=lambda item: str(item[index.sort_key]["S"]),
            reverse=True,
        )
        page = held[: selection.limit]
        answer: dict[str, Any] = {"Items": page, "Count": len(page), "ScannedCount": len(page)}
        if len(held) > selection.limit:
            last = held[selection.limit - 1]
            answer["LastEvaluatedKey"] = item_key(last, index, ENROLLMENTS.key)
        calls.append(AwsCall("dynamodb", "query", answer, ENROLLMENTS, tuple(held)))
    return tuple(calls)


def cursor_key_read() -> AwsCall:
    """The cursors' key read from Secrets Manager, once per process, by the first list that seals
    or opens a cursor."""
    return AwsCall("secretsmanager", "get_secret_value", {"SecretString": "sample-cursor-key"})
