"""Pages hold up under writes: whatever is written or processed between the reads of a list's
pages, each enrollment that existed when the first page was read is on exactly one page, no
enrollment is on two, and the pages run newest first.

Hypothesis draws a history: enrollments that exist at first, then reads of the next page (each
with a limit of its own) interleaved with new enrollments (created at any moment, before those
that exist as well as after) and with enrollments moving to `PROCESSED`, for a caller's own list
or for every client's. Each history runs on a fresh enrollments table of the template's, through
the list's use case and the repository, on moto. `make fuzz` runs it with many more examples.
"""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import boto3
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from app.adapters.enrollments import EnrollmentRepository
from app.adapters.unit_of_work import DynamoDBUnitOfWork
from app.domain.clients import DEFAULT_SCOPES, Caller, Scope
from app.domain.cursors import CursorSeal
from app.domain.listing import list_enrollments
from app.domain.models.enrollments import Enrollment, EnrollmentStatus
from app.domain.models.lists import EnrollmentListQuery, EnrollmentPage
from local.template import load_template, resources_of_type, table_definition

START = datetime(2026, 1, 1, tzinfo=UTC)
OWNER, OTHER = "client-a", "client-b"
READERS = {
    "own": Caller(OWNER, DEFAULT_SCOPES),
    "every client's": Caller("auditor", frozenset({Scope.ENROLLMENTS_READ_ALL})),
}

# A moment, in ms from START: several enrollments may share one.
moments = st.integers(min_value=0, max_value=60_000).map(
    lambda ms: START + timedelta(milliseconds=ms)
)
writes = st.tuples(st.just("write"), st.sampled_from([OWNER, OTHER]), moments)
reads = st.tuples(st.just("read"), st.integers(min_value=1, max_value=5))
processing = st.tuples(st.just("process"), st.integers(min_value=0, max_value=1_000))
histories = st.fixed_dictionaries(
    {
        "reader": st.sampled_from(sorted(READERS)),
        "existing": st.lists(st.tuples(st.sampled_from([OWNER, OTHER]), moments), max_size=14),
        "steps": st.lists(st.one_of(writes, reads, processing), max_size=30),
    }
)


DEFINITION = table_definition(
    resources_of_type(load_template(), "AWS::DynamoDB::Table")["EnrollmentsTable"]
)


def enrollments_table() -> EnrollmentRepository:
    """A new table of the template's enrollments table, indexes and all, in moto."""
    name = f"enrollments-{uuid4()}"
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(TableName=name, **DEFINITION)
    return EnrollmentRepository(dynamodb, name)


def write(repository: EnrollmentRepository, owner: str, created_at: datetime) -> Enrollment:
    """A new enrollment, written as the API writes it."""
    enrollment = Enrollment(
        enrollment_id=uuid4(),
        name="Ana",
        age=30,
        cpf="52998224725",
        status=EnrollmentStatus.PENDING,
        created_at=created_at,
        updated_at=created_at,
        owner=owner,
    )
    repository.add(enrollment, unit := DynamoDBUnitOfWork(boto3.client("dynamodb")))
    unit.commit()
    return enrollment


def order(enrollment: Enrollment) -> tuple[datetime, str]:
    """Where an enrollment stands in a list, the newest first: its creation time, then its id."""
    return enrollment.created_at, str(enrollment.enrollment_id)


@pytest.mark.usefixtures("stack")
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(history=histories)
def test_paging_never_skips_nor_repeats_an_enrollment_that_existed_at_the_start(
    history: dict[str, Any],
) -> None:
    note(repr(history))
    caller = READERS[history["reader"]]
    seal = CursorSeal(lambda: b"a key of the tests")
    repository = enrollments_table()
    stored = [write(repository, owner, moment) for owner, moment in history["existing"]]
    # What the caller may read when the first page is read.
    at_start: set[UUID] = set()
    pages: list[EnrollmentPage] = []
    limits: list[int] = []

    def read(limit: int) -> None:
        if not pages:
            at_start.update(
                e.enrollment_id
                for e in stored
                if caller.may(Scope.ENROLLMENTS_READ_ALL) or e.owner == caller.api_key_id
            )
        cursor = pages[-1].next_cursor if pages else None
        query = EnrollmentListQuery(limit=limit, cursor=cursor)
        pages.append(list_enrollments(caller, query, repository, seal))
        limits.append(limit)

    def done() -> bool:
        return bool(pages) and pages[-1].next_cursor is None

    for step in history["steps"]:
        if step[0] == "write":
            stored.append(write(repository, step[1], step[2]))
        elif step[0] == "process":
            pending = [e for e in stored if e.status is EnrollmentStatus.PENDING]
            if pending:
                chosen = pending[step[1] % len(pending)]
                assert repository.mark_processed(chosen)
                stored[stored.index(chosen)] = chosen.model_copy(
                    update={"status": EnrollmentStatus.PROCESSED}
                )
        elif not done():
            read(step[1])
    while not done():
        read(3)

    listed = [item for page in pages for item in page.items]
    listed_ids = [item.enrollment_id for item in listed]
    assert len(listed_ids) == len(set(listed_ids)), "an enrollment on two pages"
    assert at_start <= set(listed_ids), "an enrollment that existed at the start was skipped"
    if not caller.may(Scope.ENROLLMENTS_READ_ALL):
        owners = {e.enrollment_id: e.owner for e in stored}
        assert {owners[i] for i in listed_ids} <= {caller.api_key_id}
    assert [order(item) for item in listed] == sorted(map(order, listed), reverse=True)
    for number, page in enumerate(pages):
        if not page.items:
            # Only the last page, after one that ended exactly at its limit.
            assert page.next_cursor is None
            assert number == 0 or len(pages[number - 1].items) == limits[number - 1]
