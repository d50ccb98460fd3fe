"""The local emulator applies DynamoDB's requests as DynamoDB does: each one atomically.

moto copies every table for a transaction (its rollback); a write landing during the copy made
the transaction fail with a 500 when requests did not take turns (`local.emulator`).
"""

import threading
from collections import Counter
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local.template import Stack

WRITERS = 40
ROUNDS = 5
TABLE_SIZE = 1000


def race(calls: list[Any]) -> Counter[str]:
    """Run the calls at once; count each outcome: "ok" or the error code."""
    outcomes: Counter[str] = Counter()
    start = threading.Barrier(len(calls))
    lock = threading.Lock()

    def run(call: Any) -> None:
        start.wait()
        try:
            call()
            outcome = "ok"
        except ClientError as error:
            outcome = error.response["Error"]["Code"]
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.process
@pytest.mark.parametrize("round_", range(ROUNDS))
def test_transactions_and_writes_at_once_all_succeed(served_stack: Stack, round_: int) -> None:
    table = served_stack.refs["IdempotencyTable"]
    dynamodb = boto3.client(
        "dynamodb", config=Config(max_pool_connections=WRITERS, retries={"max_attempts": 0})
    )

    def put(writer: int) -> Any:
        item = {"request_key": {"S": f"put-{round_}-{writer}"}}
        return lambda: dynamodb.put_item(TableName=table, Item=item)

    def transact(writer: int) -> Any:
        item = {"request_key": {"S": f"transaction-{round_}-{writer}"}}
        return lambda: dynamodb.transact_write_items(
            TransactItems=[{"Put": {"TableName": table, "Item": item}}]
        )

    # A large table makes moto's copy long enough for other writes to land during it.
    for batch in range(TABLE_SIZE // 25):
        requests: list[Any] = [
            {"PutRequest": {"Item": {"request_key": {"S": f"filler-{round_}-{batch}-{n}"}}}}
            for n in range(25)
        ]
        dynamodb.batch_write_item(RequestItems={table: requests})

    outcomes = race([(put if writer % 2 else transact)(writer) for writer in range(WRITERS)])

    assert outcomes == {"ok": WRITERS}
