"""A stack's change set, made by one pipeline job, read by the approver, executed by the next job
as it was shown (docs/deploy-pipeline.md).

    sam deploy ... --no-execute-changeset --output json | python -m scripts.change_set created
        prints the id (ARN) of the change set SAM made, or nothing when nothing changes
    python -m scripts.change_set describe ID [--markdown-to FILE]
        prints the change set as Markdown, and appends it to FILE ($GITHUB_STEP_SUMMARY)
    python -m scripts.change_set execute ID
        executes that change set and waits for its stack; exits 1 unless the stack is updated

The id is the change set's ARN, which names one change set of one stack: executing it applies
exactly what was described, or nothing when the stack has changed since (CloudFormation then
refuses it as obsolete).
"""

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

# How often to read the stack's status while it is updated: a deployment of the API takes minutes
# (the hook, then the canary).
POLL_SECONDS = 15.0
SUCCEEDED = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}
NO_CHANGE_SET = ""


class ChangeSetError(Exception):
    """The change set cannot be made, shown or executed: the message says why and what to do."""


def created_change_set(lines: Iterable[str], log: IO[str]) -> str:
    """The id of the change set that `sam deploy --no-execute-changeset --output json` reports
    making, or `NO_CHANGE_SET` when it reports that nothing changes; every line goes to `log`.

    SAM prints one JSON document a line and ends with a `result`: `changeset_created` with its
    id, `no_changes`, or `failure` with the error.
    """
    result: dict[str, Any] | None = None
    for line in lines:
        log.write(line if line.endswith("\n") else f"{line}\n")
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict) and document.get("type") == "result":
            result = document
    if result is None:
        raise ChangeSetError("sam deploy reported no result: was it run with --output json?")
    if result.get("status") == "changeset_created":
        return str(result["changeset_id"])
    if result.get("status") == "no_changes":
        return NO_CHANGE_SET
    error = json.dumps(result.get("error", result))
    raise ChangeSetError(f"sam deploy made no change set: {error}")


@dataclass(frozen=True)
class Change:
    """One resource's change, as the change set plans it."""

    action: str
    logical_id: str
    resource_type: str
    # True, False or Conditional for a Modify; empty for an Add or a Remove.
    replacement: str
    # What changes of a modified resource: its properties' names, or attributes (Tags, Metadata).
    targets: tuple[str, ...]


def target_name(target: dict[str, Any]) -> str:
    """What a change's detail changes: a property's name, or an attribute (Tags, Metadata)."""
    if target.get("Attribute") == "Properties" and target.get("Name"):
        return str(target["Name"])
    return str(target.get("Attribute", ""))


def changes_of(pages: Iterable[dict[str, Any]]) -> list[Change]:
    """The resource changes of a change set's DescribeChangeSet pages."""
    found = []
    for page in pages:
        for change in page.get("Changes", []):
            resource = change.get("ResourceChange", {})
            targets = {
                target_name(detail["Target"])
                for detail in resource.get("Details", [])
                if "Target" in detail
            }
            found.append(
                Change(
                    action=resource.get("Action", change.get("Type", "")),
                    logical_id=resource.get("LogicalResourceId", ""),
                    resource_type=resource.get("ResourceType", ""),
                    replacement=resource.get("Replacement", ""),
                    targets=tuple(sorted(targets)),
                )
            )
    return found


def describe(cloudformation: "CloudFormationClient", change_set_id: str) -> list[dict[str, Any]]:
    """Every page of DescribeChangeSet for the change set."""
    pages: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page: dict[str, Any] = dict(
            cloudformation.describe_change_set(ChangeSetName=change_set_id, NextToken=token)
            if token
            else cloudformation.describe_change_set(ChangeSetName=change_set_id)
        )
        pages.append(page)
        token = page.get("NextToken")
        if not token:
            return pages


def markdown(pages: list[dict[str, Any]]) -> str:
    """The change set as the approver reads it: what it adds, modifies, replaces and removes."""
    if not pages:
        return (
            "### No change set\n\nThe stack already matches this build: there is nothing to "
            "approve, and nothing is deployed.\n"
        )
    first = pages[0]
    lines = [
        f"### Change set `{first['ChangeSetName']}` of stack `{first['StackName']}`",
        "",
        f"Status {first.get('Status')} (execution {first.get('ExecutionStatus')}), made "
        f"{first.get('CreationTime')}. Approving the deployment executes this change set, and "
        "only it: if the stack changes first, CloudFormation refuses it.",
        "",
    ]
    if parameters := first.get("Parameters"):
        shown = ", ".join(
            f"`{p['ParameterKey']}={p.get('ResolvedValue', p.get('ParameterValue', ''))}`"
            for p in parameters
        )
        lines += [f"Parameters: {shown}", ""]
    changes = changes_of(pages)
    if not changes:
        return "\n".join([*lines, "No resource changes.", ""])
    lines += [
        "| action | resource | type | replaced | what changes |",
        "|---|---|---|---|---|",
    ]
    for change in changes:
        replaced = {"True": "**yes**", "Conditional": "maybe", "False": "no"}.get(
            change.replacement, ""
        )
        lines.append(
            f"| {change.action} | `{change.logical_id}` | {change.resource_type} | {replaced} "
            f"| {', '.join(change.targets)} |"
        )
    replaced_ids = [c.logical_id for c in changes if c.replacement in ("True", "Conditional")]
    removed_ids = [c.logical_id for c in changes if c.action == "Remove"]
    lines.append("")
    if replaced_ids:
        lines.append(
            "**Replaced** (a new resource, the old one deleted; data does not follow): "
            + ", ".join(f"`{logical_id}`" for logical_id in replaced_ids)
        )
    if removed_ids:
        lines.append("**Removed**: " + ", ".join(f"`{logical_id}`" for logical_id in removed_ids))
    return "\n".join(lines) + "\n"


def newest_event_id(cloudformation: "CloudFormationClient", stack_id: str) -> str | None:
    """The id of the stack's newest event: where the execution's events will start after."""
    events = cloudformation.describe_stack_events(StackName=stack_id)["StackEvents"]
    return events[0]["EventId"] if events else None


def failures_since(
    cloudformation: "CloudFormationClient", stack_id: str, since: str | None
) -> list[str]:
    """The execution's failed events, oldest first: each resource and CloudFormation's reason."""
    failed: list[str] = []
    token: str | None = None
    while True:
        page = (
            cloudformation.describe_stack_events(StackName=stack_id, NextToken=token)
            if token
            else cloudformation.describe_stack_events(StackName=stack_id)
        )
        for event in page["StackEvents"]:
            if event["EventId"] == since:
                return list(reversed(failed))
            if event.get("ResourceStatus", "").endswith("_FAILED"):
                failed.append(
                    f"{event.get('LogicalResourceId')} {event['ResourceStatus']}: "
                    f"{event.get('ResourceStatusReason', '')}"
                )
        token = page.get("NextToken")
        if not token:
            return list(reversed(failed))


def execute(
    cloudformation: "CloudFormationClient",
    change_set_id: str,
    out: IO[str],
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Execute the change set, then wait for its stack; True if the stack was updated."""
    try:
        description = cloudformation.describe_change_set(ChangeSetName=change_set_id)
    except cloudformation.exceptions.ChangeSetNotFoundException as exc:
        raise ChangeSetError(
            f"No change set {change_set_id}: once a change set of a stack is executed, "
            "CloudFormation deletes the stack's others. Make the plan again (the plan job)."
        ) from exc
    if description["ExecutionStatus"] != "AVAILABLE":
        raise ChangeSetError(
            f"The change set {description['ChangeSetName']} cannot be executed: it is "
            f"{description['ExecutionStatus']} ({description.get('StatusReason', 'no reason')}). "
            "OBSOLETE means its stack changed since it was made: make the plan again."
        )
    stack_id = description["StackId"]
    since = newest_event_id(cloudformation, stack_id)
    cloudformation.execute_change_set(ChangeSetName=change_set_id)
    out.write(f"Executing {description['ChangeSetName']} on {description['StackName']}\n")
    shown = None
    while True:
        (stack,) = cloudformation.describe_stacks(StackName=stack_id)["Stacks"]
        status = stack["StackStatus"]
        if status != shown:
            out.write(f"  {status}\n")
            out.flush()
            shown = status
        if not status.endswith("_IN_PROGRESS"):
            break
        sleep(POLL_SECONDS)
    if status in SUCCEEDED:
        return True
    out.write(f"The stack is {status}: {stack.get('StackStatusReason', '')}\n")
    for failure in failures_since(cloudformation, stack_id, since):
        out.write(f"  {failure}\n")
    return False


def parser() -> argparse.ArgumentParser:
    """The command line: `created`, `describe`, `execute`."""
    command_line = argparse.ArgumentParser(prog="python -m scripts.change_set", description=__doc__)
    commands = command_line.add_subparsers(dest="command", required=True)
    commands.add_parser("created", help="the id of the change set sam deploy made (stdin)")
    described = commands.add_parser("describe", help="the change set as Markdown")
    described.add_argument("change_set", help="its id (ARN); empty: no change set")
    described.add_argument("--markdown-to", help="a file to append the Markdown to")
    executed = commands.add_parser("execute", help="execute the change set, wait for the stack")
    executed.add_argument("change_set", help="its id (ARN)")
    return command_line


def main(argv: list[str] | None = None) -> int:
    """Run one command; 1, with the reason on stderr, when it fails."""
    arguments = parser().parse_args(argv)
    try:
        if arguments.command == "created":
            print(created_change_set(sys.stdin, sys.stderr))
            return 0
        import boto3

        cloudformation: CloudFormationClient = boto3.client("cloudformation")
        if arguments.command == "describe":
            pages = describe(cloudformation, arguments.change_set) if arguments.change_set else []
            text = markdown(pages)
            print(text)
            if arguments.markdown_to:
                with open(arguments.markdown_to, "a", encoding="utf-8") as summary:
                    summary.write(text)
            return 0
        if not arguments.change_set:
            raise ChangeSetError("No change set to execute")
        return 0 if execute(cloudformation, arguments.change_set, sys.stdout) else 1
    except ChangeSetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
