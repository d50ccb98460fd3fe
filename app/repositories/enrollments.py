"""The enrollments table."""

from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import UUID

from botocore.exceptions import ClientError

from app.errors import CONDITION_FAILED, NotFoundError, error_code, translate_aws_errors
from app.models.enrollments import Enrollment, EnrollmentStatus
from app.repositories.idempotency import Claim
from app.repositories.items import put_new_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

DEPENDENCY = "The enrollments table"


class EnrollmentRepository:
    """Enrollments, one item each, keyed by `enrollment_id`."""

    def __init__(self, client: "DynamoDBClient", table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def create(self, enrollment: Enrollment, completing: Claim | None = None) -> None:
        """Store a new enrollment; with a claim, complete it with the enrollment as its answer."""
        put_new_item(
            self._client,
            self._table_name,
            _to_item(enrollment),
            "enrollment_id",
            DEPENDENCY,
            completing.completion(enrollment.model_dump_json()) if completing else None,
        )

    def get(self, enrollment_id: UUID) -> Enrollment:
        """The enrollment, read with strong consistency, or `NotFoundError`."""
        with translate_aws_errors(DEPENDENCY):
            response = self._client.get_item(
                TableName=self._table_name,
                Key={"enrollment_id": {"S": str(enrollment_id)}},
                ConsistentRead=True,
            )
        if "Item" not in response:
            raise NotFoundError("Enrollment", enrollment_id)
        return _from_item(response["Item"])

    def mark_processed(self, enrollment_id: UUID) -> bool:
        """Move a `PENDING` enrollment to `PROCESSED`.

        Returns False when it was already `PROCESSED` (a redelivered message), and raises
        `NotFoundError` when the enrollment does not exist (yet).
        """
        with translate_aws_errors(DEPENDENCY):
            try:
                self._client.update_item(
                    TableName=self._table_name,
                    Key={"enrollment_id": {"S": str(enrollment_id)}},
                    UpdateExpression="SET #status = :processed, updated_at = :now",
                    ConditionExpression="#status = :pending",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":pending": {"S": EnrollmentStatus.PENDING},
                        ":processed": {"S": EnrollmentStatus.PROCESSED},
                        ":now": {"S": datetime.now(UTC).isoformat()},
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


def _to_item(enrollment: Enrollment) -> dict[str, "AttributeValueTypeDef"]:
    return {
        "enrollment_id": {"S": str(enrollment.enrollment_id)},
        "name": {"S": enrollment.name},
        "age": {"N": str(enrollment.age)},
        "cpf": {"S": enrollment.cpf},
        "status": {"S": enrollment.status},
        "created_at": {"S": enrollment.created_at.isoformat()},
        "updated_at": {"S": enrollment.updated_at.isoformat()},
    }


def _from_item(item: dict[str, "AttributeValueTypeDef"]) -> Enrollment:
    return Enrollment(
        enrollment_id=UUID(item["enrollment_id"]["S"]),
        name=item["name"]["S"],
        age=int(item["age"]["N"]),
        cpf=item["cpf"]["S"],
        status=EnrollmentStatus(item["status"]["S"]),
        created_at=datetime.fromisoformat(item["created_at"]["S"]),
        updated_at=datetime.fromisoformat(item["updated_at"]["S"]),
    )
