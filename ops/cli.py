"""What the operator's commands (`enrollment-clients`, `enrollment-data`) share: the options that
name a stack, finding it (from its outputs on AWS, or from the file `make run` writes), and their
output: a JSON result on stdout, or one line of error on stderr and exit code 1, or 2 for a usage
error (an invalid argument, options that exclude each other, no region)."""

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
)
from pydantic import ValidationError

from ops.config import LocalState, LocalStateSettings

# samconfig.toml's default section: a developer's own stack, which `make deploy` deploys.
DEFAULT_STACK = "enrollment-service-dev"
USAGE_ERROR = 2
FAILURE = 1


class ToolError(Exception):
    """What went wrong, in one line for the operator."""


class Parser(argparse.ArgumentParser):
    """argparse's parser, with its usage errors on one line."""

    def error(self, message: str) -> NoReturn:
        """Print the usage error on one line and exit with code 2."""
        self.exit(USAGE_ERROR, f"{self.prog}: {one_line(message)} (see {self.prog} --help)\n")


def where_options() -> Parser:
    """The options naming the stack, for the command line and each of its commands.

    Accepted before and after the command: each parser that takes them sets them only when given
    (SUPPRESS), so the command's parser never overwrites what was given before it. `run_command`
    checks the exclusion across the two positions.
    """
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
    return where


def stack_of(args: argparse.Namespace) -> tuple[str, str | None]:
    """The stack's name and region the command line names (not `--local`)."""
    return getattr(args, "stack", DEFAULT_STACK), getattr(args, "region", None)


def describe_stack(
    session: boto3.session.Session, stack_name: str, outputs: Sequence[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The stack's outputs, which must include `outputs`, and its parameters."""
    try:
        stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        raise ToolError(
            f"No stack {stack_name} in {session.region_name}: {exc.response['Error']['Message']}"
        ) from exc
    found = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = set(outputs) - found.keys()
    if missing:
        raise ToolError(f"Stack {stack_name} has no output {', '.join(sorted(missing))}")
    parameters = {
        p["ParameterKey"]: p.get("ParameterValue", "") for p in stacks[0].get("Parameters", [])
    }
    return found, parameters


def local_state() -> LocalState:
    """Where the running `make run` is, from the file it writes."""
    path = LocalStateSettings().local_state_file
    if not path.is_file():
        raise ToolError(f"make run is not running here (no {path}): start it first")
    try:
        return LocalState.model_validate_json(path.read_text())
    except ValidationError as exc:
        [first, *_] = exc.errors()
        where = ".".join(str(part) for part in first["loc"])
        reason = f"{where}: {first['msg']}" if where else first["msg"]
        raise ToolError(f"{path} is not what make run writes ({reason}): restart make run") from exc
    except OSError as exc:
        raise ToolError(f"Cannot read {path}: {exc.strerror or exc}") from exc


def local_session(state: LocalState) -> boto3.session.Session:
    """A session for `make run`'s emulator, which takes any credentials: a developer's real ones
    are never sent to it."""
    return boto3.session.Session(
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 (the emulator's, not a secret)
        region_name=state.region,
    )


def run_command(
    cli: Parser, argv: Sequence[str] | None, run: Callable[[argparse.Namespace], Any]
) -> int:
    """Parse `argv`, run the command; print its JSON result, or one line of error."""
    args = cli.parse_args(argv)
    if "local" in args and "stack" in args:
        cli.error("argument --stack: not allowed with argument --local")
    try:
        result = run(args)
    except ToolError as exc:
        return fail(cli.prog, str(exc))
    except NoRegionError:
        message = "no AWS region: give --region, or set AWS_REGION or a profile's region"
        return fail(cli.prog, message, USAGE_ERROR)
    except NoCredentialsError:
        return fail(
            cli.prog, "no AWS credentials: set them as for the AWS CLI (a profile, AWS_PROFILE)"
        )
    except EndpointConnectionError as exc:
        hint = " (is make run still running?)" if "local" in args else ""
        return fail(cli.prog, f"{exc}{hint}")
    except ClientError as exc:
        return fail(cli.prog, f"AWS refused: {exc}")
    except BotoCoreError as exc:
        return fail(cli.prog, str(exc))
    print(json.dumps(result, indent=2))
    return 0


def fail(prog: str, message: str, code: int = FAILURE) -> int:
    """Print `message` as one line of error; return the exit code."""
    print(f"{prog}: {one_line(message)}", file=sys.stderr)
    return code


def one_line(message: str) -> str:
    """`message` on one line, whatever an AWS message or a name brought into it."""
    return " ".join(message.splitlines())
