"""`enrollment-data`: a person's enrollments, found and erased by their CPF, on a stack or on
`make run`, for a data-protection officer who has only the CPF.

    enrollment-data find CPF     [--stack NAME | --local] [--region REGION]
    enrollment-data erase CPF    [--stack NAME | --local] [--region REGION]
    enrollment-data reindex      [--stack NAME | --local] [--region REGION]

`find` prints every enrollment of the CPF: its id, status, times, name and age, and `owner`, the
id of the API key that requested it. `erase` erases each one's personal data, as
`DELETE /enrollments/{id}` does but whoever requested it, and prints their tombstones. Both look
the CPF up in the enrollments' index of its keyed hash, under the key's current value and its
previous one (enrollments written around a rotation): queries, never a scan. `reindex` hashes the
CPF of every enrollment that holds one under the current key: once after the index is first
deployed, and after each rotation of the key (docs/adr/0012-a-keyed-index-of-the-cpf.md); it is
the one command that scans the table.

Each use writes audit lines to the stack's audit log group (output `AuditLogGroupName`), with the
operator's AWS identity: one per enrollment found or erased, one per reindex. `--stack`,
`--local` and `--region` go before or after the command; the output and the errors are as
`enrollment-clients`'s (ops/cli.py).
"""

import argparse
import json
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import boto3

from app.adapters.cpf_index import CpfIndex
from app.adapters.cpf_key import CURRENT, PREVIOUS, CpfKey
from app.adapters.enrollments import EnrollmentRepository
from app.domain.cpf import cpf_digest, mask_cpf, normalize_cpf
from app.domain.errors import NotFoundError
from app.domain.models.enrollments import Enrollment
from app.domain.personal_data import erase_enrollment
from app.observability.audit import AUDIT_LOGGER, AuditAction, audit_fields
from ops.cli import (
    Parser,
    describe_stack,
    local_session,
    local_state,
    run_command,
    stack_of,
    where_options,
)

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient

OUTPUTS = ("EnrollmentsTableName", "CpfKeySecretArn", "AuditLogGroupName")


@dataclass
class AuditLog:
    """The stack's audit log group, a stream of this run's own, and who runs it."""

    logs: "CloudWatchLogsClient"
    group: str
    operator: str
    # The run's id, as a request's id names a request's lines.
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def open(self) -> None:
        """Create this run's stream, before any data is reached: a log the operator cannot
        write to stops the command there."""
        self.logs.create_log_stream(logGroupName=self.group, logStreamName=self.stream)

    @property
    def stream(self) -> str:
        return f"enrollment-data/{self.run_id}"

    def write(self, action: AuditAction, enrollment_id: UUID | None = None, **extra: str) -> None:
        """One audit line, as the API's are: its fields as JSON, under the audit logger's name."""
        now = datetime.now(UTC)
        line = {
            "timestamp": now.isoformat(),
            "level": "INFO",
            "logger": AUDIT_LOGGER,
            "message": f"Audit: {action}",
            **audit_fields(action, enrollment_id, operator=self.operator),
            "request_id": self.run_id,
            **extra,
        }
        self.logs.put_log_events(
            logGroupName=self.group,
            logStreamName=self.stream,
            logEvents=[{"timestamp": int(now.timestamp() * 1000), "message": json.dumps(line)}],
        )


@dataclass
class Target:
    """Where a person's data lives: the enrollments, the CPF's key, the audit log."""

    enrollments: EnrollmentRepository
    index: CpfIndex
    key: CpfKey
    audit: AuditLog
    retention_days: int


def target(args: argparse.Namespace) -> Target:
    """The stack the command line names: on AWS from its outputs, or the running `make run`."""
    if "local" in args:
        state = local_state()
        session = local_session(state)
        endpoint: str | None = state.endpoint_url
        table, secret, group = (
            state.enrollments_table,
            state.cpf_key_secret_arn,
            state.audit_log_group,
        )
        retention_days = state.retention_days
    else:
        stack_name, region = stack_of(args)
        session = boto3.session.Session(region_name=region)
        endpoint = None
        outputs, parameters = describe_stack(session, stack_name, OUTPUTS)
        table, secret, group = (outputs[name] for name in OUTPUTS)
        retention_days = int(parameters.get("RetentionDays") or 0)
    dynamodb = session.client("dynamodb", endpoint_url=endpoint)
    operator = session.client("sts", endpoint_url=endpoint).get_caller_identity()["Arn"]
    audit = AuditLog(session.client("logs", endpoint_url=endpoint), group, operator)
    audit.open()
    return Target(
        EnrollmentRepository(dynamodb, table),
        CpfIndex(dynamodb, table),
        CpfKey(session.client("secretsmanager", endpoint_url=endpoint), secret),
        audit,
        retention_days,
    )


def enrollments_of(found: Target, cpf: str) -> list[Enrollment]:
    """Every enrollment of the CPF, by its hash under the key's current and previous values."""
    keys = [key for stage in (CURRENT, PREVIOUS) if (key := found.key.read(stage)) is not None]
    ids = dict.fromkeys(i for key in keys for i in found.index.ids_with(cpf_digest(cpf, key)))
    enrollments = []
    for enrollment_id in ids:
        try:
            enrollments.append(found.enrollments.get(enrollment_id))
        except NotFoundError:
            # Erased or expired since the index was read.
            continue
    return sorted(enrollments, key=lambda enrollment: enrollment.created_at)


def shown(enrollment: Enrollment) -> dict[str, Any]:
    """An enrollment as the command prints it: what is stored of it but the CPF, and its owner."""
    return enrollment.model_dump(mode="json", exclude_none=True, exclude={"cpf"}) | {
        "owner": enrollment.owner
    }


def find(found: Target, cpf: str) -> dict[str, Any]:
    """Every enrollment of the CPF, each found one audited."""
    enrollments = enrollments_of(found, cpf)
    for enrollment in enrollments:
        found.audit.write(AuditAction.FIND, enrollment.enrollment_id)
    if not enrollments:
        found.audit.write(AuditAction.FIND, found="0")
    return {"cpf": mask_cpf(cpf), "enrollments": [shown(e) for e in enrollments]}


def erase(found: Target, cpf: str) -> dict[str, Any]:
    """Erase every enrollment of the CPF, each audited; their tombstones."""
    tombstones = []
    for enrollment in enrollments_of(found, cpf):
        tombstone = erase_enrollment(
            enrollment.enrollment_id,
            found.enrollments,
            owner=None,
            retention_days=found.retention_days,
        )
        found.audit.write(AuditAction.ERASE, tombstone.enrollment_id)
        tombstones.append(shown(tombstone))
    if not tombstones:
        found.audit.write(AuditAction.ERASE, found="0")
    return {"cpf": mask_cpf(cpf), "erased": tombstones}


def reindex(found: Target) -> dict[str, Any]:
    """Hash every stored CPF under the current key; how many hashes were written."""
    started = time.monotonic()
    written = found.index.reindex(found.key.digest)
    found.audit.write(AuditAction.REINDEX, written=str(written))
    return {"reindexed": written, "seconds": round(time.monotonic() - started, 1)}


def cpf(value: str) -> str:
    """A CPF named on the command line, as 11 digits."""
    try:
        return normalize_cpf(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parser() -> Parser:
    """The command line."""
    where = where_options()
    cli = Parser(
        prog="enrollment-data",
        description="A person's enrollments, found and erased by their CPF",
        parents=[where],
    )
    commands = cli.add_subparsers(dest="command", required=True)
    for command, what in (
        ("find", "every enrollment of a CPF"),
        ("erase", "erase the personal data of every enrollment of a CPF"),
    ):
        acting = commands.add_parser(command, help=what, parents=[where])
        acting.add_argument("cpf", type=cpf, help="11 digits, or 123.456.789-09")
    commands.add_parser(
        "reindex", help="hash every stored CPF under the key's current value", parents=[where]
    )
    return cli


def run(args: argparse.Namespace) -> Any:
    """The command's JSON result."""
    found = target(args)
    if args.command == "find":
        return find(found, args.cpf)
    if args.command == "erase":
        return erase(found, args.cpf)
    return reindex(found)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; print its JSON result, or one line of error."""
    return run_command(parser(), argv, run)


if __name__ == "__main__":
    sys.exit(main())
