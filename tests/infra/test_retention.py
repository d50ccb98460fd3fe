"""No data is lost with the stack: the tables of record outlive a deletion or a replacement."""

from typing import Any

import pytest

from local.template import resources_of_type

# The clients table is one too: losing it would lock every client out; and the webhooks table,
# whose loss would silence every partner's endpoint and its secret.
TABLES_OF_RECORD = ("AgeGroupsTable", "EnrollmentsTable", "ClientsTable", "WebhooksTable")
# Tables of a day's answers or a month's delivery attempts: a new stack does without them.
PASSING_TABLES = ("IdempotencyTable", "WebhookDeliveriesTable")


def test_the_stack_has_the_tables_this_test_knows(cfn: dict[str, Any]) -> None:
    # A new table must be placed on one side or the other of the line below.
    assert set(resources_of_type(cfn, "AWS::DynamoDB::Table")) == {
        *TABLES_OF_RECORD,
        *PASSING_TABLES,
    }


@pytest.mark.parametrize("table_id", TABLES_OF_RECORD)
def test_a_table_of_record_is_retained_and_protected_from_deletion(
    cfn: dict[str, Any], table_id: str
) -> None:
    table = cfn["Resources"][table_id]

    # Deleting the stack leaves the table; so does a change that would replace it.
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    # And DynamoDB refuses a DeleteTable, from the console or a script, while this is on.
    assert table["Properties"]["DeletionProtectionEnabled"] is True


@pytest.mark.parametrize("table_id", PASSING_TABLES)
def test_a_passing_table_goes_with_the_stack(cfn: dict[str, Any], table_id: str) -> None:
    table = cfn["Resources"][table_id]

    assert table["DeletionPolicy"] == "Delete"
    assert table["UpdateReplacePolicy"] == "Delete"
    assert "DeletionProtectionEnabled" not in table["Properties"]
