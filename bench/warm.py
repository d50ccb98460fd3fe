"""Warm overhead: each operation's declared samples through the Lambda handler, against the same
AWS calls made directly.

Each operation declares its samples (app/api/operations.py). Each is served here through the
handler, its AWS calls recorded; the floor makes those calls again, directly, with the same
parameters (bench.calls). Both sides use the same botocore clients on the same moto server,
alternating call by call, and before each run what the last one created is deleted and what the
sample finds is put back, untimed. The difference is what FastAPI, Mangum, pydantic and the app's
own code add to a request. Rows beyond the declarations: the list of age groups read with a
client's key (whose record the app caches), an enrollment requested with as many age groups
as may be registered, and the first and the next page of 20 of a client's own enrollments (its
floor, the one Query the page makes).
"""

import json
import os
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from app.adapters import clients
from app.adapters.clients import CACHE_SECONDS
from app.adapters.tables import AGE_GROUPS, ENROLLMENTS, TABLES
from app.api.factory import samples
from app.api.operations import Sample
from app.domain.clients import DEFAULT_SCOPES, Client
from app.domain.models.lists import DEFAULT_LIMIT
from app.domain.services import MAX_AGE_GROUPS
from app.entrypoints.events import SAMPLE_API_KEY_ID, rest_event
from bench.calls import CallRecorder, Recorded, SampleState, replay
from bench.common import AwsStack, Figure, age_group_item, enrollment_item, interleaved, median
from bench.progress import step
from local.aws_shapes import LambdaContext

RUNS = 150
WARMUP = 20


class Row:
    """A sample measured as one row: through the handler, and its calls made directly."""

    def __init__(
        self,
        name: str,
        sample: Sample,
        api_key_id: str = SAMPLE_API_KEY_ID,
        extra: Sequence[tuple[str, dict[str, Any]]] = (),
    ) -> None:
        self.name = name
        self.sample = sample
        self.api_key_id = api_key_id
        self.extra = extra


def measure(aws: AwsStack) -> tuple[list[Figure], list[str]]:
    os.environ.update(aws.function_env("ApiFunction"))
    from app.adapters.aws import get_dynamodb_client, get_sqs_client
    from app.config import get_api_settings
    from app.main import handler

    settings = get_api_settings()
    dynamodb, sqs = get_dynamodb_client(), get_sqs_client()
    context = LambdaContext()
    table_names = {spec.logical_id: aws.stack.refs[spec.logical_id] for spec in TABLES}
    recorder = CallRecorder([dynamodb, sqs])

    # A client's key, not the stack's: the app reads its record, at most once per cache period.
    partner = Client(api_key_id="bench-client", name="bench-client", scopes=DEFAULT_SCOPES)
    dynamodb.put_item(TableName=settings.clients_table, Item=clients.to_item(partner))

    declared = samples()
    by_name = {item.name: item.sample for item in declared}
    # As many age groups as may be registered: the sample's own, and the rest.
    more_groups = [
        (table_names[AGE_GROUPS.logical_id], age_group_item(140, 150))
        for _ in range(MAX_AGE_GROUPS - 1)
    ]
    rows = [Row(item.name, item.sample) for item in declared]
    rows.insert(1, Row("GET /age-groups as a client", by_name["GET /age-groups"], "bench-client"))
    rows.append(
        Row(
            f"POST /enrollments with {MAX_AGE_GROUPS} age groups",
            by_name["POST /enrollments"],
            extra=more_groups,
        )
    )
    # Two pages of the client's own enrollments, put in place once: the rows only read them.
    listed = [
        enrollment_item(partner.api_key_id, seconds) for seconds in range(2 * DEFAULT_LIMIT + 1)
    ]
    for item in listed:
        dynamodb.put_item(TableName=settings.enrollments_table, Item=item)
    first_page = Sample("GET", f"/enrollments?limit={DEFAULT_LIMIT}")
    answer = handler(rest_event("GET", first_page.path, api_key_id=partner.api_key_id), context)
    cursor = json.loads(answer["body"])["next_cursor"]
    next_page = first_page._replace(path=f"{first_page.path}&cursor={cursor}")
    for page, sample in (("first", first_page), ("next", next_page)):
        name = f"GET /enrollments as a client, {page} page of {DEFAULT_LIMIT}"
        rows.append(Row(name, sample, partner.api_key_id))

    def timed(action: Callable[[], object]) -> float:
        start = time.perf_counter()
        action()
        return (time.perf_counter() - start) * 1000

    def measure_row(row: Row, advance: Callable[[int], None]) -> Figure:
        event = rest_event(
            row.sample.method,
            row.sample.path,
            row.sample.body,
            dict(row.sample.headers),
            api_key_id=row.api_key_id,
        )
        state = SampleState(row.sample, dynamodb, table_names, row.extra)
        last: list[Recorded] = []

        def serve() -> None:
            response = handler(event, context)
            assert response["statusCode"] == row.sample.status, (row.name, response)

        def run(action: Callable[[], None]) -> float:
            state.reset(last)
            recorder.calls.clear()
            elapsed = timed(action)
            last[:] = recorder.calls
            return elapsed

        for _ in range(WARMUP):
            run(serve)
        # The floor makes the calls of a warm run, the client's record cached as it is then.
        direct = partial(replay, list(last))
        for _ in range(WARMUP):
            run(direct)
        app_ms, floor_ms = interleaved(
            RUNS, partial(run, serve), partial(run, direct), advance=advance
        )
        state.clear(last)
        return Figure(f"Warm {row.name}", median(app_ms), median(floor_ms), "ms", 1.2)

    client_reads: list[str] = []

    def count_client_reads(params: dict[str, Any], **_: Any) -> None:
        if params["TableName"] == settings.clients_table:
            client_reads.append(params["TableName"])

    dynamodb.meta.events.register("provide-client-params.dynamodb.GetItem", count_client_reads)
    figures = []
    with (
        step("Warm overhead: calls per route", len(rows) * RUNS * 2) as advance,
        recorder.recording(),
    ):
        for row in rows:
            figures.append(measure_row(row, advance))
    dynamodb.meta.events.unregister("provide-client-params.dynamodb.GetItem", count_client_reads)
    for item in listed:
        key = {ENROLLMENTS.key: item[ENROLLMENTS.key]}
        dynamodb.delete_item(TableName=settings.enrollments_table, Key=key)
    note = (
        f"warm: {RUNS} calls per sample on each side after {WARMUP} warm-up calls each; the "
        "samples are the operations' own (app/api/operations.py), each served on a table of "
        f"what it finds, and POST /enrollments last on {MAX_AGE_GROUPS} groups (MAX_AGE_GROUPS)"
    )
    stored = dynamodb.scan(TableName=settings.enrollments_table, Select="COUNT")["Count"]
    client_note = (
        f"a client's key: {len(client_reads)} read(s) of the clients table over "
        f"{2 * WARMUP + RUNS} requests (cached {CACHE_SECONDS:.0f} s per key and environment), "
        "against none for the stack's own key"
    )
    return figures, [note, key_cost(figures, stored), client_note]


def key_cost(figures: list[Figure], stored: int) -> str:
    """What an `Idempotency-Key` adds to a first `POST /enrollments`, from the two rows."""
    by_name = {figure.name: figure for figure in figures}
    plain, keyed = by_name["Warm POST /enrollments"], by_name["Warm POST /enrollments with a key"]
    return (
        f"Idempotency-Key: a first POST /enrollments with a key takes {keyed.measured:.2f} ms, "
        f"{keyed.measured - plain.measured:+.2f} ms ({keyed.measured / plain.measured:.2f}x) over "
        f"one without; its AWS calls alone {keyed.floor - plain.floor:+.2f} ms (one PutItem, and "
        "TransactWriteItems in place of PutItem); moto copies a table for each transaction "
        f"on it, so here that cost grows with the table ({stored} enrollments by the end)"
    )
