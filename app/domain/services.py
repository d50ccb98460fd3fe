"""The use cases: what the service does, in terms of its models and ports."""

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar
from uuid import uuid4

from app.domain.cpf import mask_cpf
from app.domain.errors import AgeNotAllowedError, TooManyAgeGroupsError
from app.domain.models.age_groups import AgeGroup, AgeGroupCreate
from app.domain.models.enrollments import Enrollment, EnrollmentCreate, EnrollmentStatus
from app.observability.metrics import Metric

if TYPE_CHECKING:
    # Protocols, for the type checker alone: a cold start need not build their classes.
    from app.domain.ports import (
        AgeGroupCatalog,
        CpfHasher,
        EnrollmentLedger,
        EnrollmentPublisher,
        MetricsRecorder,
        UnitOfWork,
    )

logger = logging.getLogger(__name__)

# The adapters' unit of work, which a use case hands to the stores it adds to.
U = TypeVar("U", bound="UnitOfWork")


# Every enrollment request reads every age group (`request_enrollment`), so their number sets the
# cost and the latency of each one: a scan of 100 groups of about 110 bytes is one page of 11 KB,
# 1.5 read units, against 0.5 for a few (make bench prices it, and times "POST /enrollments with
# 100 age groups"). Any real catalog of age ranges needs far fewer.
MAX_AGE_GROUPS = 100


def register_age_group(new: AgeGroupCreate, age_groups: "AgeGroupCatalog[U]", unit: U) -> AgeGroup:
    """A new age group, staged on `unit`, or `TooManyAgeGroupsError` at `MAX_AGE_GROUPS`.

    The count is read before the write, not with it: requests that add groups at the same moment
    may each find room, and take the catalog past the limit by as many. It bounds the cost of an
    enrollment, which a few more groups do not change; an atomic count would cost every create
    and delete a transaction and a counter item among the groups.
    """
    if len(age_groups.list()) >= MAX_AGE_GROUPS:
        raise TooManyAgeGroupsError(MAX_AGE_GROUPS)
    group = AgeGroup(
        age_group_id=uuid4(),
        min_age=new.min_age,
        max_age=new.max_age,
        created_at=datetime.now(UTC),
    )
    age_groups.add(group, unit)
    return group


def request_enrollment(
    new: EnrollmentCreate,
    age_groups: "AgeGroupCatalog[U]",
    enrollments: "EnrollmentLedger[U]",
    queue: "EnrollmentPublisher",
    unit: U,
    metrics: "MetricsRecorder",
    hasher: "CpfHasher",
    owner: str | None = None,
) -> Enrollment:
    """Accept an enrollment whose age fits a registered group and queue it for processing.

    Its CPF's keyed hash, which the CPF index holds, is taken before the publish: a failure to
    read the key then leaves no message behind.

    The message is published before the enrollment is written (staged here, written when `unit`
    commits). If the publish fails nothing is written; if the write fails after it, the processor
    finds no record, retries while a late write is possible, then drops the message as an orphan
    (the `OrphanMessage` metric). So a failed request never leaves an enrollment `PENDING` with
    no message to process
    it, and an accepted one always has its message. See docs/adr/0002-publish-then-write.md.
    """
    if not any(group.admits(new.age) for group in age_groups.list()):
        metrics.emit(Metric.ENROLLMENT_REJECTED)
        raise AgeNotAllowedError(new.age)
    now = datetime.now(UTC)
    enrollment = Enrollment(
        enrollment_id=uuid4(),
        name=new.name,
        age=new.age,
        cpf=new.cpf,
        status=EnrollmentStatus.PENDING,
        created_at=now,
        updated_at=now,
        owner=owner,
        cpf_hash=hasher.digest(new.cpf),
    )
    queue.publish(enrollment.enrollment_id)
    enrollments.add(enrollment, unit)

    def accepted() -> None:
        metrics.emit(Metric.ENROLLMENT_REQUESTED)
        logger.info(
            "Enrollment accepted",
            extra={
                "enrollment_id": str(enrollment.enrollment_id),
                "cpf": mask_cpf(new.cpf),
            },
        )

    unit.on_commit(accepted)
    return enrollment
