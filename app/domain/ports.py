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

from app.domain.destinations import Destination
from app.domain.models.age_groups import AgeGroup
from app.domain.models.enrollments import Enrollment, EnrollmentStatus
from app.domain.models.lists import EnrollmentSelection, Slice
from app.domain.models.webhooks import DeliveryAttempt, DeliveryJob, WebhookEndpoint
from app.domain.webhooks import Answer
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

    def mark_processed(self, enrollment: Enrollment, expires_at: int | None) -> EnrollmentStatus:
        """Move a `PENDING` enrollment, as it was read, to `PROCESSED`, to expire at `expires_at`
        (if not None); the status it had: `PENDING` if this call moved it."""
        ...


class EnrollmentIndex(Protocol):
    """The stored enrollments, as a list reads them: newest first."""

    def list(self, selection: EnrollmentSelection) -> Slice:
        """A page of the enrollments `selection` names, and whether older ones may follow."""
        ...


class WebhookEndpoints(Protocol):
    """The clients' webhook endpoints, as the notifier reads and updates them."""

    def get(self, api_key_id: str, consistent: bool = True) -> WebhookEndpoint | None:
        """The client's endpoint, or None."""
        ...

    def record_success(self, api_key_id: str) -> None:
        """A delivery succeeded: the endpoint is no longer failing."""

    def record_failure(self, api_key_id: str) -> WebhookEndpoint:
        """A delivery failed: the endpoint, failing since its first failure in a row."""
        ...

    def disable(self, api_key_id: str, reason: str) -> None:
        """Stop delivering to the client's endpoint, saying why."""


class DeliveryLog(Protocol):
    """The clients' recent delivery attempts."""

    def record(self, api_key_id: str, attempt: DeliveryAttempt) -> None:
        """Keep an attempt, for its client to see."""


class DeliveryScheduler(Protocol):
    """The delivery queue: attempts to come."""

    def schedule(self, job: DeliveryJob, delay_seconds: float) -> None:
        """Have `job` attempted in `delay_seconds`, or sooner, to be sent on until it is due."""


class WebhookSender(Protocol):
    """The HTTP exchange of one delivery."""

    def post(
        self, destination: Destination, body: bytes, headers: dict[str, str], timeout: float
    ) -> Answer:
        """POST `body` to the destination; the answer, never an exception."""
        ...


class MetricsRecorder(Protocol):
    """Where a use case counts what happened (app.observability.metrics.MetricsEmitter)."""

    def add(self, metric: Metric, value: float = 1) -> None:
        """Count a value, printed with the others of the same flush."""

    def emit(self, metric: Metric, value: float = 1) -> None:
        """Count a value, printed at once."""
