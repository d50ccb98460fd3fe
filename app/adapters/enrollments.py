"""The enrollments table."""

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import UUID

from botocore.exceptions import ClientError

from app.adapters.enrollment_index import (
    STATUS_PARTITION_KEYS,
    index_attributes,
    newest_first,
    status_attributes,
)
from app.adapters.errors import CONDITION_FAILED, error_code, translate_aws_errors
from app.adapters.tables import (
    CPF_HASH_ATTRIBUTE,
    ENROLLMENTS,
    EXPIRY_ATTRIBUTE,
    Table,
)
from app.domain.errors import NotFoundError
from app.domain.models.enrollments import Enrollment, EnrollmentStatus
from app.domain.models.lists import EnrollmentSelection, Slice

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

    from app.adapters.unit_of_work import DynamoDBUnitOfWork

Item = dict[str, "AttributeValueTypeDef"]

# What erasure removes: every attribute that says something of the person. The tombstone keeps
# the id, the status, the times and the owner (an API key's id, which erasure is authorized by).
PERSONAL_ATTRIBUTES = ("name", "age", "cpf", CPF_HASH_ATTRIBUTE)
# Names DynamoDB reserves (`name`, `status`, `owner`...), written as placeholders; and the
# partitions of a status in the indexes, which a status change moves.
_NAMES = {
    f"#{attribute}": attribute
    for attribute in ("status", "owner", *PERSONAL_ATTRIBUTES, *STATUS_PARTITION_KEYS)
}


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
        """The enrollment, read with strong consistency, or `NotFoundError` (also once it has
        expired, before TTL deletes it)."""
        with translate_aws_errors(ENROLLMENTS.dependency):
            response = self._client.get_item(
                TableName=self._table.name,
                Key=self._key(enrollment_id),
                ConsistentRead=True,
            )
        item = response.get("Item")
        if item is None or expired(item):
            raise NotFoundError("Enrollment", enrollment_id)
        return from_item(item)

    def list(self, selection: EnrollmentSelection) -> Slice:
        """A page of the enrollments `selection` names, newest first, read from the indexes
        (eventually consistent), and whether older ones may follow. An expired one is left out
        of the page, as `get` has it gone."""
        with translate_aws_errors(ENROLLMENTS.dependency):
            items, more = newest_first(self._client, self._table.name, selection)
        return Slice([from_item(item) for item in items if not expired(item)], more)

    def mark_processed(
        self, enrollment: Enrollment, expires_at: int | None = None
    ) -> EnrollmentStatus:
        """Move a `PENDING` enrollment, as it was read, to `PROCESSED`, and to the partitions of
        its new status in the indexes; to expire at `expires_at` if given.

        Returns the status it had: `PENDING` when this call moved it, `PROCESSED` (a redelivered
        message) or `ERASED` when it stays as it is. Raises `NotFoundError` when the enrollment
        does not exist (yet).
        """
        update = "SET #status = :processed, updated_at = :now"
        values: Item = {
            ":pending": {"S": EnrollmentStatus.PENDING},
            ":processed": {"S": EnrollmentStatus.PROCESSED},
            ":now": {"S": datetime.now(UTC).isoformat()},
        }
        for name, value in status_attributes(enrollment, EnrollmentStatus.PROCESSED).items():
            update += f", #{name} = :{name}"
            values[f":{name}"] = {"S": value}
        if expires_at is not None:
            update += f", {EXPIRY_ATTRIBUTE} = :expires"
            values[":expires"] = {"N": str(expires_at)}
        moved, item = self._update_if(
            enrollment.enrollment_id, update, "#status = :pending", values
        )
        return EnrollmentStatus.PENDING if moved else EnrollmentStatus(item["status"]["S"])

    def erase(
        self,
        enrollment_id: UUID,
        erased_at: datetime,
        expires_at: int | None,
        owner: str | None = None,
    ) -> Enrollment:
        """Remove the enrollment's personal data (`PERSONAL_ATTRIBUTES`); its tombstone. It
        leaves the partitions of a status in the indexes (a list of one status has no tombstone),
        and stays in the others, where a list shows it as `GET` does.

        Only `owner`'s enrollment when given: another's is `NotFoundError`, as an unknown one.
        A tombstone is returned as it is: erasing twice changes nothing. With `expires_at`, the
        tombstone expires then.
        """
        update = "SET #status = :erased, updated_at = :now, erased_at = :now"
        values: Item = {
            ":erased": {"S": EnrollmentStatus.ERASED},
            ":now": {"S": erased_at.isoformat()},
            ":epoch": {"N": str(int(erased_at.timestamp()))},
        }
        # An expired enrollment is gone, as `get` has it, however soon TTL deletes it.
        condition = (
            "attribute_exists(enrollment_id) AND #status <> :erased"
            f" AND (attribute_not_exists({EXPIRY_ATTRIBUTE}) OR {EXPIRY_ATTRIBUTE} > :epoch)"
        )
        if owner is not None:
            condition += " AND #owner = :owner"
            values[":owner"] = {"S": owner}
        if expires_at is not None:
            update += f", {EXPIRY_ATTRIBUTE} = :expires"
            values[":expires"] = {"N": str(expires_at)}
        removed = (*PERSONAL_ATTRIBUTES, *STATUS_PARTITION_KEYS)
        update += " REMOVE " + ", ".join(f"#{attribute}" for attribute in removed)
        erased, item = self._update_if(enrollment_id, update, condition, values)
        found = from_item(item)
        # Not erased now: either erased before (the same tombstone), or not the owner's.
        if erased or (
            found.status is EnrollmentStatus.ERASED
            and owner in (None, found.owner)
            and not expired(item)
        ):
            return found
        raise NotFoundError("Enrollment", enrollment_id)

    def _key(self, enrollment_id: UUID) -> Item:
        return {ENROLLMENTS.key: {"S": str(enrollment_id)}}

    def _update_if(
        self, enrollment_id: UUID, update: str, condition: str, values: Item
    ) -> tuple[bool, Item]:
        """Update the enrollment if `condition` holds: (True, the item updated); else (False, the
        item as it stands), or `NotFoundError` if there is none."""
        words = f"{update} {condition}".replace(",", " ").split()
        names = {word: _NAMES[word] for word in words if word.startswith("#")}
        with translate_aws_errors(ENROLLMENTS.dependency):
            try:
                response = self._client.update_item(
                    TableName=self._table.name,
                    Key=self._key(enrollment_id),
                    UpdateExpression=update,
                    ConditionExpression=condition,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as exc:
                if error_code(exc) != CONDITION_FAILED:
                    raise
                if "Item" not in exc.response:
                    raise NotFoundError("Enrollment", enrollment_id) from None
                previous: Item = exc.response["Item"]  # type: ignore[typeddict-item]
                return False, previous
        return True, response["Attributes"]


def expired(item: Item) -> bool:
    """Whether the item is past its `expires_at`, which TTL deletes it some time after."""
    expiry = item.get(EXPIRY_ATTRIBUTE)
    return expiry is not None and int(expiry["N"]) <= time.time()


def to_item(enrollment: Enrollment) -> Item:
    """The enrollment as a DynamoDB item: each attribute it has (a tombstone has fewer)."""
    item: Item = {
        "enrollment_id": {"S": str(enrollment.enrollment_id)},
        "status": {"S": enrollment.status},
        "created_at": {"S": enrollment.created_at.isoformat()},
        "updated_at": {"S": enrollment.updated_at.isoformat()},
    }
    for name, value in (
        ("name", enrollment.name),
        ("cpf", enrollment.cpf),
        ("owner", enrollment.owner),
        (CPF_HASH_ATTRIBUTE, enrollment.cpf_hash),
    ):
        if value is not None:
            item[name] = {"S": value}
    if enrollment.age is not None:
        item["age"] = {"N": str(enrollment.age)}
    if enrollment.erased_at is not None:
        item["erased_at"] = {"S": enrollment.erased_at.isoformat()}
    for name, value in index_attributes(enrollment).items():
        item[name] = {"S": value}
    return item


def from_item(item: Item) -> Enrollment:
    """The enrollment a DynamoDB item holds."""

    def text(name: str) -> str | None:
        return item[name]["S"] if name in item else None

    erased_at = text("erased_at")
    return Enrollment(
        enrollment_id=UUID(item["enrollment_id"]["S"]),
        name=text("name"),
        age=int(item["age"]["N"]) if "age" in item else None,
        cpf=text("cpf"),
        status=EnrollmentStatus(item["status"]["S"]),
        created_at=datetime.fromisoformat(item["created_at"]["S"]),
        updated_at=datetime.fromisoformat(item["updated_at"]["S"]),
        erased_at=datetime.fromisoformat(erased_at) if erased_at else None,
        owner=text("owner"),
        cpf_hash=text(CPF_HASH_ATTRIBUTE),
    )
