"""The enrollments' index keys, and a page merged from partitions that DynamoDB cut short.

DynamoDB ends a Query's page at 1 MB, with fewer items than its `Limit` and a
`LastEvaluatedKey`; moto never does. A stand-in for the client answers Queries of its partitions
that way, to show that a page merged from several never passes over what a cut partition holds.
"""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from app.adapters.enrollment_index import (
    SHARDS,
    created_key,
    index_attributes,
    newest_first,
    partitions,
    status_attributes,
)
from app.adapters.tables import CPF_HASH_INDEX, ENROLLMENTS
from app.domain.models.enrollments import Enrollment, EnrollmentStatus
from app.domain.models.lists import EnrollmentSelection, Position
from local.template import load_template, resources_of_type

START = datetime(2026, 1, 1, tzinfo=UTC)


def enrollment(
    number: int, owner: str | None = "client-a", shard: int | None = None, **changes: Any
) -> Enrollment:
    """The enrollment created `number` seconds from START, in the shard `shard` if given."""
    return Enrollment(
        enrollment_id=UUID(int=number if shard is None else number * SHARDS + shard),
        name="Ana",
        age=30,
        cpf="52998224725",
        status=EnrollmentStatus.PENDING,
        created_at=START + timedelta(seconds=number),
        updated_at=START,
        owner=owner,
        **changes,
    )


def test_the_sort_key_orders_by_time_then_id_whatever_the_offset_or_microseconds() -> None:
    later = datetime(2026, 1, 1, 1, 0, tzinfo=UTC)
    keys = [
        created_key(datetime(2026, 1, 1, 0, 0, tzinfo=UTC), UUID(int=9)),
        created_key(datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC), UUID(int=1)),
        created_key(later, UUID(int=1)),
        created_key(datetime.fromisoformat("2026-01-01T02:00:00+01:00"), UUID(int=2)),
    ]

    assert keys == sorted(keys)
    assert len({len(key) for key in keys}) == 1
    assert keys[0] == "2026-01-01T00:00:00.000000#00000000-0000-0000-0000-000000000009"


def test_each_index_key_is_an_attribute_of_the_template() -> None:
    table = resources_of_type(load_template(), "AWS::DynamoDB::Table")["EnrollmentsTable"]
    declared = {
        index["IndexName"]: [key["AttributeName"] for key in index["KeySchema"]]
        for index in table["GlobalSecondaryIndexes"]
        # The operator's index of the CPF's hash is no list's (app/adapters/cpf_index.py).
        if index["IndexName"] != CPF_HASH_INDEX
    }

    assert declared == {
        index.name: [index.partition_key, index.sort_key] for index in ENROLLMENTS.indexes
    }
    assert set(index_attributes(enrollment(1))) | {"owner"} == {
        name for names in declared.values() for name in names
    }


def test_a_status_change_moves_only_the_status_partitions() -> None:
    pending = enrollment(7, owner="client-a")

    moved = status_attributes(pending, EnrollmentStatus.PROCESSED)

    assert moved == {
        "owner_status": "client-a#PROCESSED",
        "status_shard": f"PROCESSED#{7 % SHARDS}",
    }
    assert "owner_status" not in status_attributes(
        enrollment(7, owner=None), EnrollmentStatus.PROCESSED
    )


class CutShortQueries:
    """Answers Queries as DynamoDB does, from items by index and partition, ending each page at
    most `page_items` items in, as DynamoDB ends one at 1 MB."""

    def __init__(self, found: list[Enrollment], page_items: int) -> None:
        self.page_items = page_items
        self.items = found
        self.queries = 0

    def query(self, **params: Any) -> dict[str, Any]:
        self.queries += 1
        (index,) = [i for i in ENROLLMENTS.indexes if i.name == params["IndexName"]]
        partition = params["ExpressionAttributeValues"][":partition"]["S"]
        below = params["ExpressionAttributeValues"].get(":below", {}).get("S")
        keys = sorted(
            (
                (attributes[index.sort_key], e)
                for e in self.items
                if (attributes := index_attributes(e) | {"owner": e.owner or ""}).get(
                    index.partition_key
                )
                == partition
                and (below is None or attributes[index.sort_key] < below)
            ),
            key=lambda pair: pair[0],
            reverse=True,
        )
        page = keys[: min(params["Limit"], self.page_items)]
        answer: dict[str, Any] = {"Items": [self.item(e) for _, e in page]}
        if len(keys) > len(page):
            answer["LastEvaluatedKey"] = {"created_key": {"S": page[-1][0]}}
        return answer

    @staticmethod
    def item(found: Enrollment) -> dict[str, Any]:
        from app.adapters.enrollments import to_item

        return dict(to_item(found))


@pytest.mark.parametrize("page_items", [1, 2, 3, 100])
@pytest.mark.parametrize("limit", [1, 3, 10])
def test_a_page_merged_from_cut_partitions_skips_nothing_and_is_never_empty_midway(
    page_items: int, limit: int
) -> None:
    # Most in one shard: what a cut partition holds below its page is newer than the others'.
    everyone = [
        enrollment(number, owner=f"client-{number % 3}", shard=number % 5 // 4)
        for number in range(1, 41)
    ]
    client: Any = CutShortQueries(everyone, page_items)
    listed: list[str] = []
    after: Position | None = None
    while True:
        selection = EnrollmentSelection(None, None, None, None, limit, after)
        items, more = newest_first(client, "enrollments", selection)
        assert items or not more, "an empty page with more to come"
        listed += [item["enrollment_id"]["S"] for item in items]
        if not more:
            break
        last = items[-1]
        after = Position(
            datetime.fromisoformat(last["created_at"]["S"]), UUID(last["enrollment_id"]["S"])
        )

    assert listed == [str(e.enrollment_id) for e in reversed(everyone)]
    assert len(partitions(EnrollmentSelection(None, None, None, None, limit, None))) == SHARDS
