"""Use cases that span more than one table or queue."""

import logging
from datetime import UTC, datetime
from uuid import uuid4

from app.errors import AgeNotAllowedError
from app.metrics import Metric, emit
from app.models.cpf import mask_cpf
from app.models.enrollments import Enrollment, EnrollmentCreate, EnrollmentStatus
from app.queue import EnrollmentQueue
from app.repositories.age_groups import AgeGroupRepository
from app.repositories.enrollments import EnrollmentRepository
from app.repositories.idempotency import Claim

logger = logging.getLogger(__name__)


def request_enrollment(
    new: EnrollmentCreate,
    age_groups: AgeGroupRepository,
    enrollments: EnrollmentRepository,
    queue: EnrollmentQueue,
    claim: Claim | None = None,
) -> Enrollment:
    """Accept an enrollment whose age fits a registered group and queue it for processing.

    The message is published before the record is written. If the publish fails nothing is
    written; if the write fails after it, the processor finds no record, retries, and the
    message ends in the dead-letter queue. So a failed request never leaves an enrollment
    `PENDING` with no message to process it, and an accepted one always has its message.
    With an idempotency `claim`, the write also completes the claim with the enrollment.
    """
    if not any(group.admits(new.age) for group in age_groups.list()):
        emit(Metric.ENROLLMENT_REJECTED)
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
    )
    queue.publish(enrollment.enrollment_id)
    enrollments.create(enrollment, completing=claim)
    emit(Metric.ENROLLMENT_REQUESTED)
    logger.info(
        "Enrollment accepted",
        extra={"enrollment_id": str(enrollment.enrollment_id), "cpf": mask_cpf(enrollment.cpf)},
    )
    return enrollment
