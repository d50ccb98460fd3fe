"""What the use cases need of storage, messaging and metrics; the adapters provide it.

No type of DynamoDB or SQS appears here: a use case adds new resources to their store on a
`UnitOfWork`, and whoever runs the use case commits them (with whatever must be written
alongside, such as an idempotency record) in one write. A store takes the adapters' own kind of
unit (`Unit`), which the use case passes on without looking into it.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Protocol, TypeVar
from uuid import UUID

from app.domain.models.age_groups import AgeGroup
from app.domain.models.enrollments import Enrollment, EnrollmentStatus
from app.observability.metrics import Metric


class UnitOfWork(Protocol):
    """New resources, stored together when the unit commits, or not at all."""

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the commit has stored what was staged."""


Unit = TypeVar("Unit", bound=UnitOfWork, contravariant=True)


class AgeGroupCatalog(Protocol[Unit]):
    """The registered age groups."""

    def list(self) -> list[AgeGroup]:
        """Every age group."""
        ...

    def add(self, group: AgeGroup, unit: Unit) -> None:
        """Stage a new age group on `unit`, to be stored by its commit."""


class EnrollmentLedger(Protocol[Unit]):
    """Where the API stores new enrollments."""

    def add(self, enrollment: Enrollment, unit: Unit) -> None:
        """Stage a new enrollment on `unit`, to be stored by its commit."""


class CpfHasher(Protocol):
    """The CPF's keyed hash, under the current key (app.domain.cpf.cpf_digest)."""

    def digest(self, cpf: str) -> str:
        """The hash the CPF index holds for `cpf`."""
        ...


class EnrollmentEraser(Protocol):
    """Where an enrollment's personal data is erased."""

    def erase(
        self,
        enrollment_id: UUID,
        erased_at: datetime,
        expires_at: int | None,
        owner: str | None = None,
    ) -> Enrollment:
        """Its tombstone; `NotFoundError` if there is none, or it is not `owner`'s."""
        ...


class EnrollmentPublisher(Protocol):
    """The queue that carries enrollment ids to the processor."""

    def publish(self, enrollment_id: UUID) -> None:
        """Send the id of an enrollment to be processed."""


class EnrollmentRecords(Protocol):
    """The stored enrollments, as the processor reads and updates them."""

    def get(self, enrollment_id: UUID) -> Enrollment:
        """The enrollment, or `NotFoundError`."""
        ...

    def mark_processed(self, enrollment_id: UUID, expires_at: int | None) -> EnrollmentStatus:
        """Move a `PENDING` enrollment to `PROCESSED`, to expire at `expires_at` (if not None);
        the status it had: `PENDING` if this call moved it."""
        ...


class MetricsRecorder(Protocol):
    """Where a use case counts what happened (app.observability.metrics.MetricsEmitter)."""

    def add(self, metric: Metric, value: float = 1) -> None:
        """Count a value, printed with the others of the same flush."""

    def emit(self, metric: Metric, value: float = 1) -> None:
        """Count a value, printed at once."""
