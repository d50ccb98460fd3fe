"""Warm overhead: each route through the Lambda handler, against the same AWS calls made directly.

Both sides use the same botocore clients on the same moto server, alternating call by call; the
difference is what FastAPI, Mangum, pydantic and the app's own code add to a request.
"""

import json
import os
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from app.adapters import clients
from app.adapters.clients import CACHE_SECONDS
from app.domain.clients import DEFAULT_SCOPES, Client
from app.domain.services import MAX_AGE_GROUPS
from app.entrypoints.events import SAMPLE_API_KEY_ID, rest_event
from bench.common import (
    AwsStack,
    Figure,
    age_group_item,
    interleaved,
    median,
    pending_enrollment_item,
)
from local.aws_shapes import LambdaContext
from local.progress import step

RUNS = 150
WARMUP = 20


def measure(aws: AwsStack) -> tuple[list[Figure], list[str]]:
    os.environ.update(aws.function_env("ApiFunction"))
    from app.adapters.aws import get_dynamodb_client, get_sqs_client
    from app.config import get_api_settings
    from app.main import handler

    settings = get_api_settings()
    dynamodb, sqs = get_dynamodb_client(), get_sqs_client()
    context = LambdaContext()

    def call(
        method: str,
        path: str,
        body: Any = None,
        expect: int = 200,
        headers: dict[str, str] | None = None,
        api_key_id: str = SAMPLE_API_KEY_ID,
    ) -> dict[str, Any]:
        event = rest_event(method, path, body, headers, api_key_id=api_key_id)
        response = handler(event, context)
        assert response["statusCode"] == expect, response
        parsed: dict[str, Any] = json.loads(response["body"])
        return parsed

    def timed(action: Callable[[], object]) -> float:
        start = time.perf_counter()
        action()
        return (time.perf_counter() - start) * 1000

    group_id = call("POST", "/age-groups", {"min_age": 0, "max_age": 150}, 201)["age_group_id"]
    # A client's key, not the stack's: the app reads its record, at most once per cache period.
    partner = Client(api_key_id="bench-client", name="bench-client", scopes=DEFAULT_SCOPES)
    dynamodb.put_item(TableName=settings.clients_table, Item=clients.to_item(partner))
    client_reads: list[str] = []
    dynamodb.meta.events.register(
        "provide-client-params.dynamodb.GetItem",
        lambda params, **_: (
            client_reads.append(params["TableName"])
            if params["TableName"] == settings.clients_table
            else None
        ),
    )
    enrollment = {"name": "Maria da Silva", "age": 22, "cpf": "52998224725"}
    enrollment_id = call("POST", "/enrollments", enrollment, 202)["enrollment_id"]

    def create_group() -> str:
        return str(
            call("POST", "/age-groups", {"min_age": 140, "max_age": 150}, 201)["age_group_id"]
        )

    def put_group() -> str:
        """The calls of `POST /age-groups`: the count of the groups, then the conditional put."""
        dynamodb.scan(TableName=settings.age_groups_table)
        item = age_group_item(140, 150)
        dynamodb.put_item(
            TableName=settings.age_groups_table,
            Item=item,
            ConditionExpression="attribute_not_exists(age_group_id)",
        )
        return str(item["age_group_id"]["S"])

    def timed_then_deleted(create: Callable[[], str]) -> float:
        """`create` timed; the group it made then deleted, so the table stays as it was."""
        start = time.perf_counter()
        created = create()
        elapsed = (time.perf_counter() - start) * 1000
        dynamodb.delete_item(
            TableName=settings.age_groups_table, Key={"age_group_id": {"S": created}}
        )
        return elapsed

    def direct_enroll() -> None:
        dynamodb.scan(TableName=settings.age_groups_table)
        new_id = str(uuid.uuid4())
        sqs.send_message(
            QueueUrl=settings.enrollment_queue_url,
            MessageBody=json.dumps({"enrollment_id": new_id}),
            # The app's message carries the request id: the same call, the same work for SQS.
            MessageAttributes={
                "request_id": {"DataType": "String", "StringValue": str(uuid.uuid4())}
            },
        )
        dynamodb.put_item(
            TableName=settings.enrollments_table,
            Item=pending_enrollment_item(new_id),
            ConditionExpression="attribute_not_exists(enrollment_id)",
        )

    def keyed_enroll() -> None:
        call("POST", "/enrollments", enrollment, 202, {"Idempotency-Key": str(uuid.uuid4())})

    def direct_keyed_enroll() -> None:
        """The calls of a first request with a key: its claim, then the transaction."""
        new_id = str(uuid.uuid4())
        dynamodb.put_item(
            TableName=settings.idempotency_table,
            Item={"request_key": {"S": new_id}, "state": {"S": "IN_PROGRESS"}},
            ConditionExpression="attribute_not_exists(request_key)",
        )
        dynamodb.scan(TableName=settings.age_groups_table)
        sqs.send_message(
            QueueUrl=settings.enrollment_queue_url,
            MessageBody=json.dumps({"enrollment_id": new_id}),
        )
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": settings.enrollments_table,
                        "Item": pending_enrollment_item(new_id),
                        "ConditionExpression": "attribute_not_exists(enrollment_id)",
                    }
                },
                {
                    "Update": {
                        "TableName": settings.idempotency_table,
                        "Key": {"request_key": {"S": new_id}},
                        "UpdateExpression": "SET #state = :completed",
                        "ConditionExpression": "#state = :in_progress",
                        "ExpressionAttributeNames": {"#state": "state"},
                        "ExpressionAttributeValues": {
                            ":completed": {"S": "COMPLETED"},
                            ":in_progress": {"S": "IN_PROGRESS"},
                        },
                    }
                },
            ]
        )

    # Age groups created for deletion, one per delete on each side.
    def fresh_group_ids(count: int) -> list[str]:
        items = [age_group_item(150, 150) for _ in range(count)]
        for item in items:
            dynamodb.put_item(TableName=settings.age_groups_table, Item=item)
        return [item["age_group_id"]["S"] for item in items]

    routes: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        (
            "GET /age-groups",
            lambda: call("GET", "/age-groups"),
            lambda: dynamodb.scan(TableName=settings.age_groups_table),
        ),
        (
            "GET /age-groups as a client",
            lambda: call("GET", "/age-groups", api_key_id=partner.api_key_id),
            lambda: dynamodb.scan(TableName=settings.age_groups_table),
        ),
        (
            "GET /enrollments/{id}",
            lambda: call("GET", f"/enrollments/{enrollment_id}"),
            lambda: dynamodb.get_item(
                TableName=settings.enrollments_table,
                Key={"enrollment_id": {"S": enrollment_id}},
                ConsistentRead=True,
            ),
        ),
        (
            "POST /enrollments",
            lambda: call("POST", "/enrollments", enrollment, 202),
            direct_enroll,
        ),
        ("POST /enrollments with a key", keyed_enroll, direct_keyed_enroll),
    ]
    figures = []
    with step("Warm overhead: calls per route", (len(routes) + 3) * RUNS * 2) as advance:
        for name, through_handler, direct in routes:
            for _ in range(WARMUP):
                through_handler()
                direct()
            app_ms, floor_ms = interleaved(
                RUNS, partial(timed, through_handler), partial(timed, direct), advance=advance
            )
            figures.append(Figure(f"Warm {name}", median(app_ms), median(floor_ms), "ms", 1.2))

        # Each group made is deleted again: the table stays under MAX_AGE_GROUPS.
        for _ in range(WARMUP):
            timed_then_deleted(create_group)
            timed_then_deleted(put_group)
        app_ms, floor_ms = interleaved(
            RUNS,
            partial(timed_then_deleted, create_group),
            partial(timed_then_deleted, put_group),
            advance=advance,
        )
        figures.append(Figure("Warm POST /age-groups", median(app_ms), median(floor_ms), "ms", 1.2))

        # Every enrollment reads every group: at the cap, its scan is the largest it can be.
        groups = dynamodb.scan(TableName=settings.age_groups_table, Select="COUNT")["Count"]
        fillers = [age_group_item(140, 150) for _ in range(MAX_AGE_GROUPS - groups)]
        for item in fillers:
            dynamodb.put_item(TableName=settings.age_groups_table, Item=item)
        for _ in range(WARMUP):
            call("POST", "/enrollments", enrollment, 202)
            direct_enroll()
        app_ms, floor_ms = interleaved(
            RUNS,
            partial(timed, lambda: call("POST", "/enrollments", enrollment, 202)),
            partial(timed, direct_enroll),
            advance=advance,
        )
        name = f"Warm POST /enrollments with {MAX_AGE_GROUPS} age groups"
        figures.append(Figure(name, median(app_ms), median(floor_ms), "ms", 1.2))
        # The benchmarks after this one find the table as it was.
        for item in fillers:
            dynamodb.delete_item(
                TableName=settings.age_groups_table, Key={"age_group_id": item["age_group_id"]}
            )

        app_ids, floor_ids = fresh_group_ids(RUNS + WARMUP), fresh_group_ids(RUNS + WARMUP)
        for _ in range(WARMUP):
            call("DELETE", f"/age-groups/{app_ids.pop()}")
            dynamodb.delete_item(
                TableName=settings.age_groups_table,
                Key={"age_group_id": {"S": floor_ids.pop()}},
                ConditionExpression="attribute_exists(age_group_id)",
            )
        app_ms, floor_ms = interleaved(
            RUNS,
            lambda: timed(lambda: call("DELETE", f"/age-groups/{app_ids.pop()}")),
            lambda: timed(
                lambda: dynamodb.delete_item(
                    TableName=settings.age_groups_table,
                    Key={"age_group_id": {"S": floor_ids.pop()}},
                    ConditionExpression="attribute_exists(age_group_id)",
                )
            ),
            advance=advance,
        )
    name = "Warm DELETE /age-groups/{id}"
    figures.append(Figure(name, median(app_ms), median(floor_ms), "ms", 1.2))
    assert group_id
    note = (
        f"warm: {RUNS} calls per route on each side after {WARMUP} warm-up calls; "
        "GET /age-groups is measured first, on a table of one group, and POST /enrollments "
        f"last on {MAX_AGE_GROUPS} groups (MAX_AGE_GROUPS)"
    )
    stored = dynamodb.scan(TableName=settings.enrollments_table, Select="COUNT")["Count"]
    client_note = (
        f"a client's key: {len(client_reads)} read(s) of the clients table over "
        f"{WARMUP + RUNS} requests (cached {CACHE_SECONDS:.0f} s per key and environment), "
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
