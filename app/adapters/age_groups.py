"""The age-groups table."""

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from botocore.exceptions import ClientError

from app.adapters.errors import CONDITION_FAILED, error_code, failed_on_retry, translate_aws_errors
from app.adapters.tables import AGE_GROUPS, Table
from app.domain.errors import NotFoundError
from app.domain.models.age_groups import AgeGroup

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, ScanInputTypeDef

    from app.adapters.unit_of_work import DynamoDBUnitOfWork


class AgeGroupRepository:
    """Age groups, one item each, keyed by `age_group_id`; new ones are written by a unit of work
    (`add`)."""

    def __init__(
        self, client: "DynamoDBClient", table_name: str, scan_page_size: int | None = None
    ) -> None:
        self._client = client
        self._table = Table(AGE_GROUPS, table_name)
        # None lets DynamoDB fill each page up to 1 MB; tests set it small to prove pagination.
        self._scan_page_size = scan_page_size

    def add(self, group: AgeGroup, unit: "DynamoDBUnitOfWork") -> None:
        """Stage a new age group on `unit`, to be written by its commit."""
        unit.put_new(self._table, to_item(group))

    def list(self) -> list[AgeGroup]:
        """Every age group, ordered by `(min_age, max_age)`."""
        groups = [from_item(item) for item in self._scan()]
        return sorted(groups, key=lambda g: (g.min_age, g.max_age, g.created_at))

    def delete(self, age_group_id: UUID) -> None:
        """Delete an age group, or raise `NotFoundError` if there is none with this id."""
        with translate_aws_errors(AGE_GROUPS.dependency):
            try:
                self._client.delete_item(
                    TableName=self._table.name,
                    Key={AGE_GROUPS.key: {"S": str(age_group_id)}},
                    ConditionExpression=f"attribute_exists({AGE_GROUPS.key})",
                )
            except ClientError as exc:
                if error_code(exc) != CONDITION_FAILED:
                    raise
                # On a retry, the missing item is the one this call's first attempt deleted.
                if not failed_on_retry(exc):
                    raise NotFoundError("Age group", age_group_id) from exc

    def _scan(self) -> Iterator[dict[str, "AttributeValueTypeDef"]]:
        request: ScanInputTypeDef = {"TableName": self._table.name}
        if self._scan_page_size is not None:
            request["Limit"] = self._scan_page_size
        while True:
            with translate_aws_errors(AGE_GROUPS.dependency):
                page = self._client.scan(**request)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def to_item(group: AgeGroup) -> dict[str, "AttributeValueTypeDef"]:
    """The age group as a DynamoDB item."""
    return {
        "age_group_id": {"S": str(group.age_group_id)},
        "min_age": {"N": str(group.min_age)},
        "max_age": {"N": str(group.max_age)},
        "created_at": {"S": group.created_at.isoformat()},
    }


def from_item(item: dict[str, "AttributeValueTypeDef"]) -> AgeGroup:
    """The age group a DynamoDB item holds."""
    return AgeGroup(
        age_group_id=UUID(item["age_group_id"]["S"]),
        min_age=int(item["min_age"]["N"]),
        max_age=int(item["max_age"]["N"]),
        created_at=datetime.fromisoformat(item["created_at"]["S"]),
    )
