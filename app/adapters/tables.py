"""The DynamoDB tables, each declared once: its template resource, its key, its name in errors.

A repository binds its table's spec to the name the function's settings give it (`Table`), and
hands the unit of work that and an item; nothing else names a table's key. A test holds each spec
to the table template.yaml declares (its key schema), and `local.template` creates the tables,
their indexes, TTL and streams from that same declaration.
"""

from typing import NamedTuple


class TableSpec(NamedTuple):
    """A table as the code knows it."""

    # The table's resource in template.yaml.
    logical_id: str
    # Its partition key: a new item is written on condition that no item has its key.
    key: str
    # How errors and logs name it; a client is never told.
    dependency: str


AGE_GROUPS = TableSpec("AgeGroupsTable", "age_group_id", "The age groups table")
ENROLLMENTS = TableSpec("EnrollmentsTable", "enrollment_id", "The enrollments table")
# The enrollments' index by the CPF's keyed hash (app.domain.cpf.cpf_digest), keys only: how the
# operator's tool finds a person's enrollments without a scan. A test holds it to the template.
CPF_HASH_INDEX = "CpfHashIndex"
CPF_HASH_ATTRIBUTE = "cpf_hash"
# The epoch second after which DynamoDB's TTL deletes an item (the tables' TimeToLiveSpecification).
EXPIRY_ATTRIBUTE = "expires_at"
IDEMPOTENCY = TableSpec("IdempotencyTable", "request_key", "The idempotency table")
CLIENTS = TableSpec("ClientsTable", "api_key_id", "The clients table")

TABLES = (AGE_GROUPS, ENROLLMENTS, IDEMPOTENCY, CLIENTS)


class Table(NamedTuple):
    """A table's spec, and the name this stack gave it."""

    spec: TableSpec
    name: str
