"""The AWS calls the adapters make, with answers of the shape AWS gives: what an operation's
samples declare (app/api/operations.py), built here so that no router writes DynamoDB's or SQS's
wire format.

A sample's resources are fixed (their ids, their times), so that a primed snapshot is the same
from one publication to the next.
"""

from datetime import UTC, datetime
from typing import Any, NamedTuple
from uuid import UUID

from app.adapters import age_groups, enrollments
from app.adapters.tables import AGE_GROUPS, ENROLLMENTS, IDEMPOTENCY, TableSpec
from app.domain.models.age_groups import AgeGroup
from app.domain.models.enrollments import Enrollment, EnrollmentStatus


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
# The id of the API key the samples are sent with where they are served for real (the IAM test,
# the benchmark): app.entrypoints.events.SAMPLE_API_KEY_ID, which a test holds equal to it (that
# module may import nothing of the app's).
SAMPLE_CALLER = "k1l2m3n4o5"
# An enrollment of the samples' caller, which only it may erase.
SAMPLE_OWN_ENROLLMENT = SAMPLE_ENROLLMENT.model_copy(
    update={"enrollment_id": UUID("00000000-0000-4000-8000-000000000003"), "owner": SAMPLE_CALLER}
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
