"""The enrollments table."""

from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import UUID

from botocore.exceptions import ClientError

from app.adapters.enrollment_index import index_attributes, newest_first, status_attributes
from app.adapters.errors import CONDITION_FAILED, error_code, translate_aws_errors
from app.adapters.tables import ENROLLMENTS, Table
from app.domain.errors import NotFoundError
from app.domain.models.enrollments import Enrollment, EnrollmentStatus
from app.domain.models.lists import EnrollmentSelection, Slice

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

    from app.adapters.unit_of_work import DynamoDBUnitOfWork


class EnrollmentRepository:
    """Enrollments, one item each, keyed by `enrollment_id`; new ones are written by a unit of work
    (`add`), and listed newest first from the table's indexes (`list`)."""

    def __init__(self, client: "DynamoDBClient", table_name: str) -> None:
        self._client = client
        self._table = Table(ENROLLMENTS, table_name)

    def add(self, enrollment: Enrollment, unit: "DynamoDBUnitOfWork") -> None:
        """Stage a new enrollment on `unit`, to be written by its commit."""
        unit.put_new(self._table, to_item(enrollment))

    def get(self, enrollment_id: UUID) -> Enrollment:
        """The enrollment, read with strong consistency, or `NotFoundError`."""
        with translate_aws_errors(ENROLLMENTS.dependency):
            response = self._client.get_item(
                TableName=self._table.name,
                Key={ENROLLMENTS.key: {"S": str(enrollment_id)}},
                ConsistentRead=True,
            )
        if "Item" not in response:
            raise NotFoundError("Enrollment", enrollment_id)
        return from_item(response["Item"])

    def list(self, selection: EnrollmentSelection) -> Slice:
        """A page of the enrollments `selection` names, newest first, read from the indexes
        (eventually consistent), and whether older ones may follow."""
        with translate_aws_errors(ENROLLMENTS.dependency):
            items, more = newest_first(self._client, self._table.name, selection)
        return Slice([from_item(item) for item in items], more)

    def mark_processed(self, enrollment: Enrollment) -> bool:
        """Move a `PENDING` enrollment, as it was read, to `PROCESSED`, and to the partitions of
        its new status in the indexes.

        Returns False when it was already `PROCESSED` (a redelivered message), and raises
        `NotFoundError` when the enrollment does not exist (yet).
        """
        enrollment_id = enrollment.enrollment_id
        moved = status_attributes(enrollment, EnrollmentStatus.PROCESSED)
        names = {f"#index{number}": name for number, name in enumerate(moved)}
        values: dict[str, AttributeValueTypeDef] = {
            f":index{number}": {"S": value} for number, value in enumerate(moved.values())
        }
        with translate_aws_errors(ENROLLMENTS.dependency):
            try:
                self._client.update_item(
                    TableName=self._table.name,
                    Key={ENROLLMENTS.key: {"S": str(enrollment_id)}},
                    UpdateExpression="SET #status = :processed, updated_at = :now"
                    + "".join(f", {name} = :{name[1:]}" for name in names),
                    ConditionExpression="#status = :pending",
                    ExpressionAttributeNames={"#status": "status", **names},
                    ExpressionAttributeValues={
                        ":pending": {"S": EnrollmentStatus.PENDING},
                        ":processed": {"S": EnrollmentStatus.PROCESSED},
                        ":now": {"S": datetime.now(UTC).isoformat()},
                        **values,
                    },
                )
            except ClientError as exc:
                if error_code(exc) != CONDITION_FAILED:
                    raise
            else:
                return True
        # The condition failed: either the enrollment is missing or it was already processed.
        current = self.get(enrollment_id)
        if current.status is EnrollmentStatus.PROCESSED:
            return False
        raise RuntimeError(f"Enrollment {enrollment_id} has unexpected status {current.status}")


def to_item(enrollment: Enrollment) -> dict[str, "AttributeValueTypeDef"]:
    """The enrollment as a DynamoDB item."""
    item: dict[str, AttributeValueTypeDef] = {
        "enrollment_id": {"S": str(enrollment.enrollment_id)},
        "name": {"S": enrollment.name},
        "age": {"N": str(enrollment.age)},
        "cpf": {"S": enrollment.cpf},
        "status": {"S": enrollment.status},
        "created_at": {"S": enrollment.created_at.isoformat()},
        "updated_at": {"S": enrollment.updated_at.isoformat()},
    }
    if enrollment.owner is not None:
        item["owner"] = {"S": enrollment.owner}
    for name, value in index_attributes(enrollment).items():
        item[name] = {"S": value}
    return item


def from_item(item: dict[str, "AttributeValueTypeDef"]) -> Enrollment:
    """The enrollment a DynamoDB item holds."""
    return Enrollment(
        enrollment_id=UUID(item["enrollment_id"]["S"]),
        name=item["name"]["S"],
        age=int(item["age"]["N"]),
        cpf=item["cpf"]["S"],
        status=EnrollmentStatus(item["status"]["S"]),
        created_at=datetime.fromisoformat(item["created_at"]["S"]),
        updated_at=datetime.fromisoformat(item["updated_at"]["S"]),
        owner=item["owner"]["S"] if "owner" in item else None,
    )
