"""What the use cases need of storage and messaging; the adapters provide it.

No type of DynamoDB or SQS appears here: a use case stages new resources on a `UnitOfWork`, and
whoever runs the use case commits them (with whatever must be written alongside, such as an
idempotency record) in one write.
"""

from collections.abc import Callable
from typing import Protocol
from uuid import UUID

from app.domain.models.age_groups import AgeGroup
from app.domain.models.enrollments import Enrollment


class UnitOfWork(Protocol):
    """New resources, stored together when the unit commits, or not at all."""

    def add(self, resource: AgeGroup | Enrollment) -> None:
        """Stage a new resource, to be stored by the commit."""

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the commit has stored what was staged."""


class AgeGroupCatalog(Protocol):
    """The registered age groups."""

    def list(self) -> list[AgeGroup]:
        """Every age group."""
        ...


class EnrollmentPublisher(Protocol):
    """The queue that carries enrollment ids to the processor."""

    def publish(self, enrollment_id: UUID) -> None:
        """Send the id of an enrollment to be processed."""
