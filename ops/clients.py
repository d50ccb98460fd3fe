"""`enrollment-clients`: the API's clients, their keys and scopes, on a stack or on `make run`.

    enrollment-clients add NAME [--scope SCOPE ...]   [--stack NAME | --local] [--region REGION]
    enrollment-clients list                            [--stack NAME | --local] [--region REGION]
    enrollment-clients revoke NAME                     [--stack NAME | --local] [--region REGION]
    enrollment-clients enable NAME                     [--stack NAME | --local] [--region REGION]

`--stack`, `--local` and `--region` go before or after the command.

`add` creates an API key, attaches it to the stack's usage plan (so API Gateway throttles it on
its own) and stores the client's record with its scopes (by default `age-groups:read
enrollments:write enrollments:read`); it prints the key's value, which is shown only then. A name
belongs to one client for good: `add` refuses a name in use, revoked or not. `revoke` disables the
key and the record: API Gateway refuses it, and the API within a minute. `enable` gives a revoked
client its key back. Both act on every client of the name: names written before they were unique
may have several.

On AWS the stack is found from its outputs (`UsagePlanId`, `ClientsTableName`), with the
credentials and region the AWS CLI would use. With `--local`, the running `make run` is found from
the file it writes (`.local-stack.json`). Errors are one line on stderr and exit code 1, or 2 for
a usage error (an invalid name or scope, options that exclude each other, no region).
"""

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
)
from pydantic import ValidationError

from app.adapters import clients
from app.adapters.errors import cancellation_reasons, error_code
from app.adapters.unit_of_work import CONDITION_CHECK_FAILED, TRANSACTION_CANCELED
from app.domain.clients import DEFAULT_SCOPES, Client, Scope
from ops.config import LocalState, LocalStateSettings

if TYPE_CHECKING:
    from mypy_boto3_apigateway import APIGatewayClient
    from mypy_boto3_dynamodb import DynamoDBClient

# samconfig.toml's default section: a developer's own stack, which `make deploy` deploys.
DEFAULT_STACK = "enrollment-service-dev"
# Operators type a name and read it in `list`, and it is part of its API key's name
# (`<stack>-<name>`): short, one line, and no spaces at its ends that a listing would hide.
MAX_NAME_LENGTH = 64
USAGE_ERROR = 2
FAILURE = 1


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
    path = LocalStateSettings().local_state_file
    if not path.is_file():
        raise ClientsError(f"make run is not running here (no {path}): start it first")
    try:
        state = LocalState.model_validate_json(path.read_text())
    except ValidationError as exc:
        [first, *_] = exc.errors()
        where = ".".join(str(part) for part in first["loc"])
        reason = f"{where}: {first['msg']}" if where else first["msg"]
        raise ClientsError(
            f"{path} is not what make run writes ({reason}): restart make run"
        ) from exc
    except OSError as exc:
        raise ClientsError(f"Cannot read {path}: {exc.strerror or exc}") from exc
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


class Parser(argparse.ArgumentParser):
    """argparse's parser, with its usage errors on one line."""

    def error(self, message: str) -> NoReturn:
        """Print the usage error on one line and exit with code 2."""
        self.exit(USAGE_ERROR, f"{self.prog}: {one_line(message)} (see {self.prog} --help)\n")


def parser() -> Parser:
    """The command line."""
    # The options naming the stack, accepted before and after the command: each parser that
    # takes them sets them only when given (SUPPRESS), so the command's parser never overwrites
    # what was given before it. `main` checks the exclusion across the two positions.
    where = Parser(add_help=False)
    stack_or_local = where.add_mutually_exclusive_group()
    stack_or_local.add_argument(
        "--stack", default=argparse.SUPPRESS, help=f"the stack (default: {DEFAULT_STACK})"
    )
    stack_or_local.add_argument(
        "--local", action="store_true", default=argparse.SUPPRESS, help="the running make run"
    )
    where.add_argument(
        "--region",
        default=argparse.SUPPRESS,
        help="the stack's region (default: the AWS CLI's; --local takes make run's)",
    )
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
    return cli


def run(args: argparse.Namespace) -> Any:
    """The command's JSON result."""
    if "local" in args:
        target = local_target()
    else:
        target = aws_target(getattr(args, "stack", DEFAULT_STACK), getattr(args, "region", None))
    if args.command == "add":
        return add(target, args.name, frozenset(args.scopes or DEFAULT_SCOPES))
    if args.command == "list":
        return listing(target)
    return set_enabled(target, args.name, enabled=args.command == "enable")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; print its JSON result, or one line of error."""
    cli = parser()
    args = cli.parse_args(argv)
    if "local" in args and "stack" in args:
        cli.error("argument --stack: not allowed with argument --local")
    try:
        result = run(args)
    except ClientsError as exc:
        return fail(str(exc))
    except NoRegionError:
        message = "no AWS region: give --region, or set AWS_REGION or a profile's region"
        return fail(message, USAGE_ERROR)
    except NoCredentialsError:
        return fail("no AWS credentials: set them as for the AWS CLI (a profile, AWS_PROFILE)")
    except EndpointConnectionError as exc:
        return fail(f"{exc} (is make run still running?)" if "local" in args else str(exc))
    except ClientError as exc:
        return fail(f"AWS refused: {exc}")
    except BotoCoreError as exc:
        return fail(str(exc))
    print(json.dumps(result, indent=2))
    return 0


def fail(message: str, code: int = FAILURE) -> int:
    """Print `message` as one line of error; return the exit code."""
    print(f"enrollment-clients: {one_line(message)}", file=sys.stderr)
    return code


def one_line(message: str) -> str:
    """`message` on one line, whatever an AWS message or a name brought into it."""
    return " ".join(message.splitlines())


if __name__ == "__main__":
    sys.exit(main())
