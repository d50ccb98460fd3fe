"""The enrollments' indexes: what places an enrollment in each, the partitions a list reads, and
a page read from them, newest first.

Every index sorts by `created_key`, the creation time in UTC to the microsecond and then the id:
one order of all enrollments, in which a cursor's position is a point. A page reads each
partition of its selection with a Query, newest first, below the last page's position and the
`created_before` bound, at most `limit` items each; what is not after `created_after` ends that
partition. It costs the reads of at most `limit` items a partition, however large the table.

| selection | index | partitions |
|---|---|---|
| a caller's own | `by-owner` | its key id |
| a caller's own in one status | `by-owner-status` | `<key id>#<status>` |
| every client's | `by-shard` | the `SHARDS` shards |
| every client's in one status | `by-status-shard` | `<status>#<shard>` for each shard |

Every client's enrollments are spread over `SHARDS` partitions by their id, so that no partition
takes every write; a page of them merges one Query of each. docs/adr/0011-enrollment-lists.md.
"""

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from app.adapters.tables import BY_OWNER, BY_OWNER_STATUS, BY_SHARD, BY_STATUS_SHARD, IndexSpec
from app.domain.models.enrollments import Enrollment, EnrollmentStatus
from app.domain.models.lists import EnrollmentSelection

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, QueryInputTypeDef

    Item = dict[str, AttributeValueTypeDef]

# At most two writes a second per enrollment (its put, its status change) reach one shard of
# `by-shard` in four: 100 WRU/s at 200 enrollments/s, a tenth of a partition's 1,000. More shards
# can come later without rewriting an item: a list reads every shard there is.
SHARDS = 4
SORT_KEY = BY_OWNER.sort_key


def _instant(moment: datetime) -> str:
    """An instant as the sort key begins: UTC, to the microsecond, always 26 characters."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def created_key(created_at: datetime, enrollment_id: UUID) -> str:
    """The sort key of every index: the creation time, then the id."""
    return f"{_instant(created_at)}#{enrollment_id}"


def shard_of(enrollment_id: UUID) -> str:
    """The shard of every client's enrollments that holds this one."""
    return str(enrollment_id.int % SHARDS)


def index_attributes(enrollment: Enrollment) -> dict[str, str]:
    """The values that place `enrollment` in each index, its status's partitions among them
    (none for an erased one's tombstone)."""
    shard = shard_of(enrollment.enrollment_id)
    values = {
        SORT_KEY: created_key(enrollment.created_at, enrollment.enrollment_id),
        BY_SHARD.partition_key: shard,
    }
    if enrollment.status is EnrollmentStatus.ERASED:
        return values
    values[BY_STATUS_SHARD.partition_key] = f"{enrollment.status}#{shard}"
    # `by-owner` is keyed by `owner` itself, which every enrollment of a caller has.
    if enrollment.owner is not None:
        values[BY_OWNER_STATUS.partition_key] = f"{enrollment.owner}#{enrollment.status}"
    return values


# The attributes that place an enrollment in its status's partitions: a status change moves them,
# and an erased enrollment has none (no list of one status shows a tombstone).
STATUS_PARTITION_KEYS = (BY_STATUS_SHARD.partition_key, BY_OWNER_STATUS.partition_key)


def status_attributes(enrollment: Enrollment, status: EnrollmentStatus) -> dict[str, str]:
    """The attributes of `index_attributes` that change when `enrollment` moves to `status`."""
    changed = index_attributes(enrollment.model_copy(update={"status": status}))
    return {name: value for name, value in changed.items() if name in STATUS_PARTITION_KEYS}


def partitions(selection: EnrollmentSelection) -> list[tuple[IndexSpec, str]]:
    """The index and the partitions that hold the enrollments `selection` names."""
    if selection.owner is not None:
        if selection.status is None:
            return [(BY_OWNER, selection.owner)]
        return [(BY_OWNER_STATUS, f"{selection.owner}#{selection.status}")]
    shards = [str(shard) for shard in range(SHARDS)]
    if selection.status is None:
        return [(BY_SHARD, shard) for shard in shards]
    return [(BY_STATUS_SHARD, f"{selection.status}#{shard}") for shard in shards]


def query(
    table_name: str, index: IndexSpec, partition: str, selection: EnrollmentSelection
) -> "QueryInputTypeDef":
    """The Query of one partition for a page of `selection`: newest first, below its bounds."""
    bounds = []
    if selection.after is not None:
        bounds.append(created_key(*selection.after))
    if selection.created_before is not None:
        # Every key of that instant or later sorts after the instant alone.
        bounds.append(_instant(selection.created_before))
    names = {"#partition": index.partition_key}
    values: dict[str, AttributeValueTypeDef] = {":partition": {"S": partition}}
    condition = "#partition = :partition"
    if bounds:
        names["#sort"] = index.sort_key
        values[":below"] = {"S": min(bounds)}
        condition += " AND #sort < :below"
    return {
        "TableName": table_name,
        "IndexName": index.name,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": False,
        "Limit": selection.limit,
    }


def _key(item: "Item") -> str:
    return str(item[SORT_KEY]["S"])


def newest_first(
    client: "DynamoDBClient", table_name: str, selection: EnrollmentSelection
) -> tuple[list["Item"], bool]:
    """The items of a page of `selection`, newest first, and whether older ones may follow.

    Each partition gives at most `limit` items, newest first. One that has more (DynamoDB's
    `LastEvaluatedKey`) was read down to its last item only: the page holds nothing older than
    that, lest it skip what that partition holds below it. So a page is never empty while older
    items may follow, and it is full unless every partition ran out.
    """
    after = None if selection.created_after is None else _instant(selection.created_after)
    found: list[Item] = []
    floor: str | None = None
    for index, partition in partitions(selection):
        response = client.query(**query(table_name, index, partition, selection))
        items: list[Item] = list(response.get("Items", []))
        kept = [item for item in items if after is None or _key(item).split("#")[0] > after]
        found.extend(kept)
        if "LastEvaluatedKey" in response and items and len(kept) == len(items):
            floor = max(floor or "", _key(items[-1]))
    found.sort(key=_key, reverse=True)
    if floor is not None:
        found = [item for item in found if _key(item) >= floor]
    return found[: selection.limit], floor is not None or len(found) > selection.limit


def item_key(item: "Item", index: IndexSpec, table_key: str) -> dict[str, Any]:
    """The key DynamoDB gives as `LastEvaluatedKey` for `item` in `index`: its index keys and
    the table's."""
    return {name: item[name] for name in (index.partition_key, index.sort_key, table_key)}
