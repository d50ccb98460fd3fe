"""`enrollment-clients`: the API's clients, their keys and scopes, on a stack or on `make run`.

    enrollment-clients add NAME [--scope SCOPE ...]   [--stack NAME | --local] [--region REGION]
    enrollment-clients list                            [--stack NAME | --local] [--region REGION]
    enrollment-clients revoke NAME                     [--stack NAME | --local] [--region REGION]
    enrollment-clients enable NAME                     [--stack NAME | --local] [--region REGION]
    enrollment-clients deliveries NAME [--failed] [--limit N]       [--stack NAME | --local] [...]
    enrollment-clients redeliver NAME DELIVERY_ID                   [--stack NAME | --local] [...]

`--stack`, `--local` and `--region` go before or after the command.

`add` creates an API key, attaches it to the stack's usage plan (so API Gateway throttles it on
its own) and stores the client's record with its scopes (by default `age-groups:read
enrollments:write enrollments:read`); it prints the key's value, which is shown only then. A name
belongs to one client for good: `add` refuses a name in use, revoked or not. `revoke` disables the
key and the record: API Gateway refuses it, and the API within a minute. `enable` gives a revoked
client its key back. Both act on every client of the name: names written before they were unique
may have several. `deliveries` lists a client's latest webhook delivery attempts (the failed ones
alone with `--failed`), as its `GET /webhook/deliveries` does; `redeliver` queues an attempt's
event again, with the same `webhook-id`, as its `POST /webhook/deliveries/{id}/redeliver` does.

On AWS the stack is found from its outputs (`UsagePlanId`, `ClientsTableName`), with the
credentials and region the AWS CLI would use. With `--local`, the running `make run` is found from
the file it writes (`.local-stack.json`). Errors are one line on stderr and exit code 1, or 2 for
a usage error (an invalid name or scope, options that exclude each other, no region).
"""

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from app.adapters import clients
from app.adapters.deliveries import DeliveryRepository
from app.adapters.delivery_queue import DeliveryQueue
from app.adapters.errors import cancellation_reasons, error_code
from app.adapters.unit_of_work import CONDITION_CHECK_FAILED, TRANSACTION_CANCELED
from app.domain.clients import DEFAULT_SCOPES, Client, Scope
from app.domain.errors import NotFoundError
from app.domain.models.webhooks import DeliveryJob
from ops.cli import (
    Parser,
    ToolError,
    describe_stack,
    local_session,
    local_state,
    run_command,
    stack_of,
    where_options,
)

if TYPE_CHECKING:
    from mypy_boto3_apigateway import APIGatewayClient
    from mypy_boto3_dynamodb import DynamoDBClient

# Operators type a name and read it in `list`, and it is part of its API key's name
# (`<stack>-<name>`): short, one line, and no spaces at its ends that a listing would hide.
MAX_NAME_LENGTH = 64
# What `GET /webhook/deliveries` lists at most, and a delivery attempt's id.
MAX_LISTED = 100
DELIVERY_ID_PATTERN = r"dlv_[0-9a-f]{1,60}"


class ClientsError(ToolError):
    """What went wrong with a client, in one line for the operator."""


@dataclass
class Target:
    """Where the clients live: the stack's API Gateway, usage plan and clients table."""

    stack_name: str
    apigateway: "APIGatewayClient"
    dynamodb: "DynamoDBClient"
    usage_plan_id: str
    clients_table: str


def aws_target(stack_name: str, region: str | None) -> Target:
    """The stack `stack_name` on AWS, from its outputs."""
    session = boto3.session.Session(region_name=region)
    outputs, _ = describe_stack(session, stack_name, ("UsagePlanId", "ClientsTableName"))
    return Target(
        stack_name,
        session.client("apigateway"),
        session.client("dynamodb"),
        outputs["UsagePlanId"],
        outputs["ClientsTableName"],
    )


def local_target() -> Target:
    """The stack of the running `make run`."""
    state = local_state()
    session = local_session(state)
    return Target(
        state.stack_name,
        session.client("apigateway", endpoint_url=state.endpoint_url),
        session.client("dynamodb", endpoint_url=state.endpoint_url),
        state.usage_plan_id,
        state.clients_table,
    )


@dataclass
class Deliveries:
    """Where the clients' webhook deliveries are: their attempts, and the queue of jobs."""

    log: DeliveryRepository
    queue: DeliveryQueue


def aws_deliveries(stack_name: str, region: str | None) -> Deliveries:
    """The stack's delivery attempts and queue on AWS, from its outputs."""
    session = boto3.session.Session(region_name=region)
    outputs, _ = describe_stack(
        session, stack_name, ("WebhookDeliveriesTableName", "WebhookDeliveryQueueUrl")
    )
    return Deliveries(
        DeliveryRepository(session.client("dynamodb"), outputs["WebhookDeliveriesTableName"]),
        DeliveryQueue(session.client("sqs"), outputs["WebhookDeliveryQueueUrl"]),
    )


def local_deliveries() -> Deliveries:
    """The delivery attempts and queue of the running `make run`."""
    state = local_state()
    session = local_session(state)
    return Deliveries(
        DeliveryRepository(
            session.client("dynamodb", endpoint_url=state.endpoint_url),
            state.webhook_deliveries_table,
        ),
        DeliveryQueue(
            session.client("sqs", endpoint_url=state.endpoint_url),
            state.webhook_delivery_queue_url,
        ),
    )


def the_client(target: Target, name: str) -> Client:
    """The one client of that name."""
    found = named(target, name)
    if not found:
        raise ClientsError(f"No client named {name!r}")
    if len(found) > 1:
        raise ClientsError(f"{len(found)} clients are named {name!r}: revoke all but one")
    return found[0]


def deliveries(
    target: Target, where: Deliveries, name: str, limit: int, failed: bool
) -> list[dict[str, Any]]:
    """The client's latest delivery attempts, newest first."""
    client = the_client(target, name)
    attempts = where.log.recent(client.api_key_id, limit, failed)
    return [attempt.model_dump(mode="json") for attempt in attempts]


def redeliver(target: Target, where: Deliveries, name: str, delivery_id: str) -> dict[str, Any]:
    """Queue the attempt's event again, now: the same `webhook-id`, delivered if the enrollment
    is still PROCESSED and the endpoint enabled."""
    client = the_client(target, name)
    try:
        attempt = where.log.get(client.api_key_id, delivery_id)
    except NotFoundError:
        raise ClientsError(f"{name!r} has no delivery attempt {delivery_id}") from None
    where.queue.schedule(
        DeliveryJob(owner=client.api_key_id, enrollment_id=attempt.enrollment_id), 0
    )
    return {"webhook_id": attempt.webhook_id, "enrollment_id": str(attempt.enrollment_id)}


def all_clients(target: Target) -> list[Client]:
    """Every client record, by name (the names' claims left out)."""
    found: list[Client] = []
    request: dict[str, Any] = {"TableName": target.clients_table}
    while True:
        page = target.dynamodb.scan(**request)
        items = page.get("Items", [])
        found += [clients.from_item(item) for item in items if clients.is_client_item(item)]
        if "LastEvaluatedKey" not in page:
            return sorted(found, key=lambda client: (client.name, client.api_key_id))
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def named(target: Target, name: str) -> list[Client]:
    """Every client of that name: one, or several written before names were claimed."""
    return [client for client in all_clients(target) if client.name == name]


def add(target: Target, name: str, scopes: frozenset[Scope]) -> dict[str, Any]:
    """Create the client's key, attach it to the usage plan, store its record and name's claim."""
    # The claim makes the name unique; this check names what holds it, and covers the clients
    # stored before names were claimed.
    same = named(target, name)
    if any(client.enabled for client in same):
        raise name_taken(name)
    if same:
        raise name_taken(name, f", revoked: `enrollment-clients enable {name}` gives its key back")
    key = target.apigateway.create_api_key(name=f"{target.stack_name}-{name}", enabled=True)
    try:
        target.apigateway.create_usage_plan_key(
            usagePlanId=target.usage_plan_id, keyId=key["id"], keyType="API_KEY"
        )
        client = Client(
            api_key_id=key["id"], name=name, scopes=scopes, created_at=datetime.now(UTC)
        )
        store(target, client)
    except Exception:
        # A key without its record would be refused anyway; leave none behind.
        target.apigateway.delete_api_key(apiKey=key["id"])
        raise
    return {
        "name": name,
        "api_key_id": key["id"],
        "api_key": key["value"],
        "scopes": sorted(scopes),
    }


def name_taken(name: str, detail: str = "") -> ClientsError:
    """The error of an `add` whose name is another client's."""
    return ClientsError(f"A client named {name} exists already{detail}")


def store(target: Target, client: Client) -> None:
    """Put the client's record and its name's claim, both or neither, each only if it is new."""
    new = "attribute_not_exists(api_key_id)"
    try:
        target.dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": target.clients_table,
                        "Item": clients.to_item(client),
                        "ConditionExpression": new,
                    }
                },
                {
                    "Put": {
                        "TableName": target.clients_table,
                        "Item": clients.name_claim(client),
                        "ConditionExpression": new,
                    }
                },
            ]
        )
    except ClientError as exc:
        if error_code(exc) != TRANSACTION_CANCELED:
            raise
        reasons = cancellation_reasons(exc)
        # The record's key is the id API Gateway just gave: only an earlier attempt of this
        # call, whose answer was lost and which the SDK retried, can have stored it (and the
        # claim with it).
        if reasons[:1] == [CONDITION_CHECK_FAILED]:
            return
        if reasons[1:2] == [CONDITION_CHECK_FAILED]:
            raise name_taken(client.name) from exc
        raise


def listing(target: Target) -> list[dict[str, Any]]:
    """Every client, without its key's value."""
    return [
        {
            "name": client.name,
            "api_key_id": client.api_key_id,
            "scopes": sorted(client.scopes),
            "enabled": client.enabled,
        }
        for client in all_clients(target)
    ]


def set_enabled(target: Target, name: str, enabled: bool) -> dict[str, Any]:
    """Enable or disable the keys of every client of that name in API Gateway, and their records.

    The key goes first: whichever call fails, API Gateway or the API still refuses a key being
    revoked, and a key being enabled waits for its record.
    """
    found = named(target, name)
    if not found:
        raise ClientsError(f"No client named {name}")
    for client in found:
        target.apigateway.update_api_key(
            apiKey=client.api_key_id,
            patchOperations=[{"op": "replace", "path": "/enabled", "value": str(enabled).lower()}],
        )
        target.dynamodb.update_item(
            TableName=target.clients_table,
            Key={"api_key_id": {"S": client.api_key_id}},
            UpdateExpression="SET enabled = :enabled",
            ExpressionAttributeValues={":enabled": {"BOOL": enabled}},
        )
    return {
        "name": name,
        "api_key_ids": [client.api_key_id for client in found],
        "enabled": enabled,
    }


def scope(value: str) -> Scope:
    """A scope named on the command line."""
    try:
        return Scope(value)
    except ValueError:
        known = ", ".join(Scope)
        raise argparse.ArgumentTypeError(f"unknown scope {value!r} (known: {known})") from None


def client_name(value: str) -> str:
    """A new client's name, as given on the command line."""
    if not 1 <= len(value) <= MAX_NAME_LENGTH:
        problem = f"1 to {MAX_NAME_LENGTH} characters"
    elif not value.isprintable():
        problem = "printable characters only, no newline or tab"
    elif value.strip(" ") != value:
        problem = "no space at either end"
    else:
        return value
    raise argparse.ArgumentTypeError(f"invalid client name {value!r}: {problem}")


def parser() -> Parser:
    """The command line."""
    where = where_options()
    cli = Parser(
        prog="enrollment-clients",
        description="The API's clients, their keys and scopes",
        parents=[where],
    )
    commands = cli.add_subparsers(dest="command", required=True)
    adding = commands.add_parser("add", help="a new client, with its API key", parents=[where])
    adding.add_argument("name", type=client_name)
    adding.add_argument(
        "--scope", dest="scopes", action="append", type=scope, help="repeat for each scope"
    )
    commands.add_parser("list", help="every client", parents=[where])
    for command, what in (
        ("revoke", "disable a client's key"),
        ("enable", "give a revoked client its key back"),
    ):
        acting = commands.add_parser(command, help=what, parents=[where])
        # Any name: those of clients stored before names were checked too.
        acting.add_argument("name")
    listed = commands.add_parser(
        "deliveries", help="a client's latest webhook delivery attempts", parents=[where]
    )
    listed.add_argument("name")
    listed.add_argument("--failed", action="store_true", help="only those not delivered")
    listed.add_argument("--limit", type=limit, default=20, help="at most this many (1-100)")
    again = commands.add_parser(
        "redeliver", help="deliver an attempt's event again", parents=[where]
    )
    again.add_argument("name")
    again.add_argument("delivery_id", type=delivery_id)
    return cli


def limit(value: str) -> int:
    """A number of attempts to list, as the API takes it."""
    if not value.isdigit() or not 1 <= int(value) <= MAX_LISTED:
        raise argparse.ArgumentTypeError(f"invalid limit {value!r}: 1 to {MAX_LISTED}")
    return int(value)


def delivery_id(value: str) -> str:
    """A delivery attempt's id, as the API gives it (`dlv_` and hexadecimal digits)."""
    if not re.fullmatch(DELIVERY_ID_PATTERN, value):
        raise argparse.ArgumentTypeError(f"invalid delivery id {value!r}: dlv_ and hex digits")
    return value


def run(args: argparse.Namespace) -> Any:
    """The command's JSON result."""
    target = local_target() if "local" in args else aws_target(*stack_of(args))
    if args.command == "add":
        return add(target, args.name, frozenset(args.scopes or DEFAULT_SCOPES))
    if args.command == "list":
        return listing(target)
    if args.command in ("deliveries", "redeliver"):
        where = local_deliveries() if "local" in args else aws_deliveries(*stack_of(args))
        if args.command == "deliveries":
            return deliveries(target, where, args.name, args.limit, args.failed)
        return redeliver(target, where, args.name, args.delivery_id)
    return set_enabled(target, args.name, enabled=args.command == "enable")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; print its JSON result, or one line of error."""
    return run_command(parser(), argv, run)


if __name__ == "__main__":
    sys.exit(main())
