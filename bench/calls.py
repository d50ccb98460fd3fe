"""An operation's sample, served for real on the emulated stack: what it must find put in place,
the AWS calls it makes recorded, and those calls made again directly.

The warm benchmark times a sample through the handler against its floor, the same calls made
directly (`replay`); the IAM test records the calls of every sample and holds them to the
function's policy. Both start from the operations' declarations (app/api/operations.py), so a new
route is measured and proven as soon as it is declared.
"""

import copy
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from botocore import xform_name

from app.adapters.tables import TABLES
from app.api.operations import Sample


class Recorded(NamedTuple):
    """One call a client made: the client, the operation's name (`PutItem`), its parameters."""

    client: Any
    operation: str
    params: dict[str, Any]


class CallRecorder:
    """The calls of some botocore clients, through botocore's `provide-client-params` event."""

    def __init__(self, clients: Sequence[Any]) -> None:
        self._clients = clients
        self.calls: list[Recorded] = []

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        client = next(c for c in self._clients if c.meta.service_model is model.service_model)
        self.calls.append(Recorded(client, model.name, copy.deepcopy(params)))

    @contextmanager
    def recording(self) -> Iterator["CallRecorder"]:
        """Record while inside; the clients are left as they were on the way out."""
        for client in self._clients:
            client.meta.events.register("provide-client-params", self._record)
        try:
            yield self
        finally:
            for client in self._clients:
                client.meta.events.unregister("provide-client-params", self._record)


def replay(calls: Sequence[Recorded]) -> None:
    """Make the recorded calls again, directly, in their order, with their parameters."""
    for call in calls:
        getattr(call.client, xform_name(call.operation))(**copy.deepcopy(call.params))


class SampleState:
    """What a sample finds before it is served, put in place again before each run.

    Before each run, the items the last run created are deleted (so that a conditional put of
    the same key succeeds again, and a replay makes the very calls the handler made) and the
    items the sample's calls find are put back (an age group it deletes, an enrollment it reads).
    """

    def __init__(
        self,
        sample: Sample,
        dynamodb: Any,
        table_names: Mapping[str, str],
        extra: Sequence[tuple[str, dict[str, Any]]] = (),
    ) -> None:
        """`extra`: items beside the sample's own, each with its table's name."""
        self._dynamodb = dynamodb
        self._specs = {table_names[spec.logical_id]: spec for spec in TABLES}
        self._existing = [
            (table_names[call.table.logical_id], item)
            for call in sample.calls
            if call.table is not None
            for item in call.existing
        ] + list(extra)

    def reset(self, last_run: Sequence[Recorded] = ()) -> None:
        """Delete what `last_run` created; put back what the sample finds."""
        self._delete(created_items(last_run))
        for table, item in self._existing:
            self._dynamodb.put_item(TableName=table, Item=item)

    def clear(self, last_run: Sequence[Recorded] = ()) -> None:
        """Delete what `last_run` created and what the sample found: the tables as before."""
        self._delete([*created_items(last_run), *self._existing])

    def _delete(self, items: Sequence[tuple[str, dict[str, Any]]]) -> None:
        for table, item in items:
            self._dynamodb.delete_item(TableName=table, Key=self._specs[table].key_of(item))


def created_items(calls: Sequence[Recorded]) -> list[tuple[str, dict[str, Any]]]:
    """The items the calls put: each `PutItem`, and each `Put` of a transaction."""
    found = []
    for call in calls:
        if call.operation == "PutItem":
            found.append((call.params["TableName"], call.params["Item"]))
        elif call.operation == "TransactWriteItems":
            for write in call.params["TransactItems"]:
                if "Put" in write:
                    found.append((write["Put"]["TableName"], write["Put"]["Item"]))
    return found
