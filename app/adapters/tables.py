"""The DynamoDB tables, each declared once: its template resource, its key, its name in errors.

A repository binds its table's spec to the name the function's settings give it (`Table`), and
hands the unit of work that and an item; nothing else names a table's key. A test holds each spec
to the table template.yaml declares (its key schema), and `local.template` creates the tables,
their indexes, TTL and streams from that same declaration.
"""

from typing import NamedTuple


class IndexSpec(NamedTuple):
    """A global secondary index as the code knows it: its name and its two keys' attributes."""

    name: str
    partition_key: str
    sort_key: str


class TableSpec(NamedTuple):
    """A table as the code knows it."""

    # The table's resource in template.yaml.
    logical_id: str
    # Its partition key: a new item is written on condition that no item has its key.
    key: str
    # How errors and logs name it; a client is never told.
    dependency: str
    # Its sort key, where items share a partition.
    sort_key: str | None = None
    # Its global secondary indexes, as the template declares them.
    indexes: tuple[IndexSpec, ...] = ()

    def key_of(self, item: dict[str, object]) -> dict[str, object]:
        """The key attributes of one of its items."""
        names = (self.key,) if self.sort_key is None else (self.key, self.sort_key)
        return {name: item[name] for name in names}


# The enrollments' indexes, each sorted newest last by `created_key` (app/adapters/
# enrollment_index.py says what each partition holds; docs/adr/0011-enrollment-lists.md why).
BY_OWNER = IndexSpec("by-owner", "owner", "created_key")
BY_OWNER_STATUS = IndexSpec("by-owner-status", "owner_status", "created_key")
BY_SHARD = IndexSpec("by-shard", "shard", "created_key")
BY_STATUS_SHARD = IndexSpec("by-status-shard", "status_shard", "created_key")

AGE_GROUPS = TableSpec("AgeGroupsTable", "age_group_id", "The age groups table")
ENROLLMENTS = TableSpec(
    "EnrollmentsTable",
    "enrollment_id",
    "The enrollments table",
    indexes=(BY_OWNER, BY_OWNER_STATUS, BY_SHARD, BY_STATUS_SHARD),
)
# The enrollments' index by the CPF's keyed hash (app.domain.cpf.cpf_digest), keys only: how the
# operator's tool finds a person's enrollments without a scan. A test holds it to the template.
CPF_HASH_INDEX = "CpfHashIndex"
CPF_HASH_ATTRIBUTE = "cpf_hash"
# The epoch second after which DynamoDB's TTL deletes an item (the tables' TimeToLiveSpecification).
EXPIRY_ATTRIBUTE = "expires_at"
IDEMPOTENCY = TableSpec("IdempotencyTable", "request_key", "The idempotency table")
CLIENTS = TableSpec("ClientsTable", "api_key_id", "The clients table")
WEBHOOKS = TableSpec("WebhooksTable", "api_key_id", "The webhooks table")
DELIVERIES = TableSpec(
    "WebhookDeliveriesTable", "api_key_id", "The webhook deliveries table", sort_key="delivery_id"
)

TABLES = (AGE_GROUPS, ENROLLMENTS, IDEMPOTENCY, CLIENTS, WEBHOOKS, DELIVERIES)


class Table(NamedTuple):
    """A table's spec, and the name this stack gave it."""

    spec: TableSpec
    name: str
