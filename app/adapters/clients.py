"""The clients table: one record per API key that may call the API, with its scopes.

`enrollment-clients` (ops/clients.py) writes it; the API only reads it, through `ClientCache`,
which asks DynamoDB about a key at most once per `CACHE_SECONDS`: a revoked client is refused
within that time, and a busy client costs one read per `CACHE_SECONDS` at most per execution
environment.

Beside each client's record, the table holds an item that claims the client's name
(`name_claim`): `enrollment-clients add` writes both in one transaction, each on condition that
its key is new, so two clients never get one name. A claim is not a client: `ClientRepository.get`
answers None for its key, and `is_client_item` tells the two apart in a scan.
"""

import logging
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING

from app.adapters.errors import translate_aws_errors
from app.adapters.tables import CLIENTS, Table
from app.domain.clients import Client, Scope

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

logger = logging.getLogger(__name__)

# Revocation is promised within 60 s: a cached answer is at most this old.
CACHE_SECONDS = 30.0
# The key of a name's claim is this and the name. API Gateway's key ids are letters and digits,
# so no client's record has such a key, whatever the name.
NAME_CLAIM_PREFIX = "name#"


class ClientRepository:
    """Client records, keyed by `api_key_id`."""

    def __init__(self, client: "DynamoDBClient", table_name: str) -> None:
        self._client = client
        self._table = Table(CLIENTS, table_name)

    def get(self, api_key_id: str) -> Client | None:
        """The client of an API key, or None if no record names it."""
        with translate_aws_errors(CLIENTS.dependency):
            response = self._client.get_item(
                TableName=self._table.name, Key={CLIENTS.key: {"S": api_key_id}}
            )
        item = response.get("Item")
        return None if item is None or not is_client_item(item) else from_item(item)


class ClientCache:
    """What `ClientRepository.get` answered for each key, for `CACHE_SECONDS`."""

    def __init__(self, repository: ClientRepository, seconds: float = CACHE_SECONDS) -> None:
        self._repository = repository
        self._seconds = seconds
        self._answers: dict[str, tuple[float, Client | None]] = {}
        self._lock = threading.Lock()

    def peek(self, api_key_id: str) -> tuple[bool, Client | None]:
        """Whether a fresh answer is cached for the key, and that answer: no call to DynamoDB."""
        with self._lock:
            cached = self._answers.get(api_key_id)
        if cached is not None and time.monotonic() - cached[0] < self._seconds:
            return True, cached[1]
        return False, None

    def get(self, api_key_id: str) -> Client | None:
        """The client of an API key, as DynamoDB said at most `CACHE_SECONDS` ago."""
        fresh, client = self.peek(api_key_id)
        if fresh:
            return client
        now = time.monotonic()
        client = self._repository.get(api_key_id)
        with self._lock:
            self._answers[api_key_id] = (now, client)
        return client

    def clear(self) -> None:
        """Forget every answer (a SnapStart snapshot must hold none)."""
        with self._lock:
            self._answers.clear()


def to_item(client: Client) -> dict[str, "AttributeValueTypeDef"]:
    """The client as a DynamoDB item."""
    item: dict[str, AttributeValueTypeDef] = {
        "api_key_id": {"S": client.api_key_id},
        "name": {"S": client.name},
        "scopes": {"SS": sorted(client.scopes)},
        "enabled": {"BOOL": client.enabled},
    }
    if client.created_at is not None:
        item["created_at"] = {"S": client.created_at.isoformat()}
    return item


def from_item(item: dict[str, "AttributeValueTypeDef"]) -> Client:
    """The client a DynamoDB item holds, as far as it can be read.

    A record is written by hand as well as by `enrollment-clients`: what cannot be read of it is
    left out and logged, never a failure of every request its key makes. A scope this version
    does not know is not held; a record with no readable `enabled` flag is disabled.
    """
    problems: list[str] = []
    scopes: set[Scope] = set()
    for name in _strings(item, "scopes", "SS", problems):
        try:
            scopes.add(Scope(name))
        except ValueError:
            problems.append(f"unknown scope {name!r}")
    enabled = item.get("enabled", {}).get("BOOL")
    if not isinstance(enabled, bool):
        problems.append("no enabled flag")
    created = item.get("created_at", {}).get("S")
    created_at = None
    if isinstance(created, str):
        try:
            created_at = datetime.fromisoformat(created)
        except ValueError:
            problems.append("a malformed created_at")
    api_key_id = _text(item, "api_key_id", problems) or ""
    name = _text(item, "name", problems) or api_key_id
    if problems:
        logger.warning("Client record %s read in part: %s", api_key_id or "?", "; ".join(problems))
    return Client(
        api_key_id=api_key_id,
        name=name,
        scopes=frozenset(scopes),
        enabled=enabled is True,
        created_at=created_at,
    )


def _text(item: dict[str, "AttributeValueTypeDef"], name: str, problems: list[str]) -> str | None:
    value = item.get(name, {}).get("S")
    if isinstance(value, str):
        return value
    problems.append(f"no {name}")
    return None


def _strings(
    item: dict[str, "AttributeValueTypeDef"], name: str, kind: str, problems: list[str]
) -> list[str]:
    value = item.get(name, {}).get(kind)
    if isinstance(value, list | set | tuple) and all(isinstance(v, str) for v in value):
        return sorted(value)
    problems.append(f"no {name}")
    return []


def name_claim(client: Client) -> dict[str, "AttributeValueTypeDef"]:
    """The item that claims the client's name for it."""
    return {
        "api_key_id": {"S": NAME_CLAIM_PREFIX + client.name},
        "claimed_by": {"S": client.api_key_id},
    }


def is_client_item(item: dict[str, "AttributeValueTypeDef"]) -> bool:
    """Whether an item of the clients table is a client's record (not a name's claim)."""
    return not str(item.get("api_key_id", {}).get("S", "")).startswith(NAME_CLAIM_PREFIX)
