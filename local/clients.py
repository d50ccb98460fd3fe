"""`enrollment-clients`: the API's clients, their keys and scopes, on a stack or on `make run`.

    enrollment-clients [--stack NAME | --local] add NAME [--scope SCOPE ...]
    enrollment-clients [--stack NAME | --local] list
    enrollment-clients [--stack NAME | --local] revoke NAME

`add` creates an API key, attaches it to the stack's usage plan (so API Gateway throttles it on
its own) and stores the client's record with its scopes (by default `age-groups:read
enrollments:write enrollments:read`); it prints the key's value, which is shown only then.
`revoke` disables the key and the record: API Gateway refuses it, and the API within a minute.

On AWS the stack is found from its outputs (`UsagePlanId`, `ClientsTableName`), with the
credentials and region the AWS CLI would use. With `--local`, the running `make run` is found from
the file it writes (`.local-stack.json`). Errors are one line on stderr and exit code 1 (2 for a
usage error).
"""

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from app.adapters import clients
from app.domain.clients import DEFAULT_SCOPES, Client, Scope
from local.config import LocalState, get_local_settings

if TYPE_CHECKING:
    from mypy_boto3_apigateway import APIGatewayClient
    from mypy_boto3_dynamodb import DynamoDBClient

DEFAULT_STACK = "enrollment-service"


class ClientsError(Exception):
    """What went wrong, in one line for the operator."""


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
    try:
        stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        raise ClientsError(
            f"No stack {stack_name} in {session.region_name}: {exc.response['Error']['Message']}"
        ) from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = {"UsagePlanId", "ClientsTableName"} - outputs.keys()
    if missing:
        raise ClientsError(f"Stack {stack_name} has no output {', '.join(sorted(missing))}")
    return Target(
        stack_name,
        session.client("apigateway"),
        session.client("dynamodb"),
        outputs["UsagePlanId"],
        outputs["ClientsTableName"],
    )


def local_target() -> Target:
    """The stack of the running `make run`."""
    path = get_local_settings().local_state_file
    if not path.is_file():
        raise ClientsError(f"make run is not running here (no {path}): start it first")
    state = LocalState.model_validate_json(path.read_text())
    # The emulator takes any credentials; a developer's real ones are never sent to it.
    session = boto3.session.Session(
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 (the emulator's, not a secret)
        region_name=state.region,
    )
    return Target(
        state.stack_name,
        session.client("apigateway", endpoint_url=state.endpoint_url),
        session.client("dynamodb", endpoint_url=state.endpoint_url),
        state.usage_plan_id,
        state.clients_table,
    )


def all_clients(target: Target) -> list[Client]:
    """Every client record, by name."""
    found: list[Client] = []
    request: dict[str, Any] = {"TableName": target.clients_table}
    while True:
        page = target.dynamodb.scan(**request)
        found += [clients.from_item(item) for item in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            return sorted(found, key=lambda client: client.name)
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def add(target: Target, name: str, scopes: frozenset[Scope]) -> dict[str, Any]:
    """Create the client's key, attach it to the usage plan, store its record."""
    if any(client.name == name for client in all_clients(target)):
        raise ClientsError(f"A client named {name} exists already")
    key = target.apigateway.create_api_key(name=f"{target.stack_name}-{name}", enabled=True)
    try:
        target.apigateway.create_usage_plan_key(
            usagePlanId=target.usage_plan_id, keyId=key["id"], keyType="API_KEY"
        )
        client = Client(
            api_key_id=key["id"], name=name, scopes=scopes, created_at=datetime.now(UTC)
        )
        target.dynamodb.put_item(
            TableName=target.clients_table,
            Item=clients.to_item(client),
            ConditionExpression="attribute_not_exists(api_key_id)",
        )
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


def revoke(target: Target, name: str) -> dict[str, Any]:
    """Disable the client's key in API Gateway and its record."""
    found = [client for client in all_clients(target) if client.name == name]
    if not found:
        raise ClientsError(f"No client named {name}")
    [client] = found
    target.apigateway.update_api_key(
        apiKey=client.api_key_id,
        patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}],
    )
    target.dynamodb.update_item(
        TableName=target.clients_table,
        Key={"api_key_id": {"S": client.api_key_id}},
        UpdateExpression="SET enabled = :false",
        ExpressionAttributeValues={":false": {"BOOL": False}},
    )
    return {"name": name, "api_key_id": client.api_key_id, "enabled": False}


def scope(value: str) -> Scope:
    """A scope named on the command line."""
    try:
        return Scope(value)
    except ValueError:
        known = ", ".join(Scope)
        raise argparse.ArgumentTypeError(f"unknown scope {value!r} (known: {known})") from None


def parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="enrollment-clients", description="The API's clients, their keys and scopes"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--stack", default=DEFAULT_STACK, help="the stack (default: %(default)s)")
    where.add_argument("--local", action="store_true", help="the running make run")
    parser.add_argument("--region", help="the stack's region (default: the AWS CLI's)")
    commands = parser.add_subparsers(dest="command", required=True)
    adding = commands.add_parser("add", help="a new client, with its API key")
    adding.add_argument("name")
    adding.add_argument(
        "--scope", dest="scopes", action="append", type=scope, help="repeat for each scope"
    )
    commands.add_parser("list", help="every client")
    revoking = commands.add_parser("revoke", help="disable a client's key")
    revoking.add_argument("name")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; print its JSON result, or one line of error."""
    args = parser().parse_args(argv)
    try:
        target = local_target() if args.local else aws_target(args.stack, args.region)
        if args.command == "add":
            result: Any = add(target, args.name, frozenset(args.scopes or DEFAULT_SCOPES))
        elif args.command == "list":
            result = listing(target)
        else:
            result = revoke(target, args.name)
    except ClientsError as exc:
        print(f"enrollment-clients: {exc}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as exc:
        print(f"enrollment-clients: AWS refused: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
