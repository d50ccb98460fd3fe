"""The production change set: its id from SAM's output, what the approver reads, and its execution
(scripts/change_set.py, which `make change-set` and `make execute-change-set` run)."""

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from scripts.change_set import (
    NO_CHANGE_SET,
    ChangeSetError,
    created_change_set,
    describe,
    execute,
    markdown,
)
from tests.infra.conftest import ROOT

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

ACCOUNT = "123456789012"
STACK = "enrollment-service-production"
STACK_ID = (
    f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{STACK}/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
)
CHANGE_SET_ID = (
    f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:changeSet/samcli-deploy1764000000/"
    "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"
)


def sam_output(*results: dict[str, Any]) -> list[str]:
    """What `sam deploy --no-execute-changeset --output json` prints: one document a line
    (samcli/lib/deploy/deployer.py, samcli/commands/deploy/deploy_context.py of SAM CLI 1.170.0)."""
    changes = [
        {"type": "changeset", "action": "Modify", "logical_id": "ApiFunction",
         "resource_type": "AWS::Lambda::Function", "replacement": "False"},
        {"type": "changeset", "action": "Add", "logical_id": "ApiFunctionVersion1a2b3c4d5e",
         "resource_type": "AWS::Lambda::Version", "replacement": "N/A"},
    ]  # fmt: skip
    return [
        "Uploading to enrollment-service-production/0123abcd.template  18042 / 18042.0  (100.00%)",
        *(json.dumps(document) for document in (*changes, *results)),
    ]


def test_the_id_is_the_change_set_sam_reports_making() -> None:
    log = io.StringIO()
    lines = sam_output(
        {"type": "result", "status": "changeset_created", "changeset_id": CHANGE_SET_ID}
    )

    assert created_change_set(lines, log) == CHANGE_SET_ID
    # Everything SAM printed is still shown, in the job's log.
    assert log.getvalue().splitlines() == lines


def test_a_build_that_changes_nothing_has_no_change_set() -> None:
    lines = sam_output(
        {"type": "result", "status": "no_changes", "message": f"No changes to deploy. {STACK}"}
    )

    assert created_change_set(lines, io.StringIO()) == NO_CHANGE_SET


@pytest.mark.parametrize(
    "lines",
    [
        sam_output(
            {
                "type": "result",
                "status": "failure",
                "error": {"type": "ChangeSetError", "message": "Template error", "resources": None},
            }
        ),
        # Text output, or SAM stopped before its result.
        ["Changeset created successfully. " + CHANGE_SET_ID],
    ],
    ids=["failure", "no-result"],
)
def test_no_id_without_a_change_set_made(lines: list[str]) -> None:
    with pytest.raises(ChangeSetError):
        created_change_set(lines, io.StringIO())


@pytest.mark.process
def test_the_command_prints_only_the_id_on_its_output() -> None:
    # The pipeline reads stdout as the id: SAM's lines go to stderr.
    lines = sam_output(
        {"type": "result", "status": "changeset_created", "changeset_id": CHANGE_SET_ID}
    )
    result = subprocess.run(
        [sys.executable, "-m", "scripts.change_set", "created"],
        input="\n".join(lines) + "\n",
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{CHANGE_SET_ID}\n"
    assert "changeset_created" in result.stderr


def description_pages() -> list[dict[str, Any]]:
    """DescribeChangeSet's answer for a deployment of the API, in two pages."""
    first = {
        "ChangeSetName": "samcli-deploy1764000000",
        "ChangeSetId": CHANGE_SET_ID,
        "StackId": STACK_ID,
        "StackName": STACK,
        "Status": "CREATE_COMPLETE",
        "ExecutionStatus": "AVAILABLE",
        "CreationTime": datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
        "Parameters": [
            {"ParameterKey": "StageName", "ParameterValue": "v1"},
            {"ParameterKey": "AlarmTopicArn", "ParameterValue": ""},
        ],
        "Changes": [
            {
                "Type": "Resource",
                "ResourceChange": {
                    "Action": "Modify",
                    "LogicalResourceId": "ApiFunction",
                    "ResourceType": "AWS::Lambda::Function",
                    "Replacement": "False",
                    "Details": [
                        {"Target": {"Attribute": "Properties", "Name": "Code"}},
                        {"Target": {"Attribute": "Properties", "Name": "Timeout"}},
                        {"Target": {"Attribute": "Tags"}},
                    ],
                },
            },
            {
                "Type": "Resource",
                "ResourceChange": {
                    "Action": "Add",
                    "LogicalResourceId": "ApiFunctionVersion1a2b3c4d5e",
                    "ResourceType": "AWS::Lambda::Version",
                },
            },
        ],
        "NextToken": "page-2",
    }
    second = {
        **{key: first[key] for key in ("ChangeSetName", "ChangeSetId", "StackId", "StackName")},
        "Changes": [
            {
                "Type": "Resource",
                "ResourceChange": {
                    "Action": "Modify",
                    "LogicalResourceId": "IdempotencyTable",
                    "ResourceType": "AWS::DynamoDB::Table",
                    "Replacement": "True",
                    "Details": [{"Target": {"Attribute": "Properties", "Name": "KeySchema"}}],
                },
            },
            {
                "Type": "Resource",
                "ResourceChange": {
                    "Action": "Remove",
                    "LogicalResourceId": "ApiFunctionVersion9f8e7d6c5b",
                    "ResourceType": "AWS::Lambda::Version",
                },
            },
        ],
    }
    return [first, second]


def test_the_approver_reads_every_change_of_every_page() -> None:
    text = markdown(description_pages())

    assert text.startswith(f"### Change set `samcli-deploy1764000000` of stack `{STACK}`")
    assert "Parameters: `StageName=v1`, `AlarmTopicArn=`" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "`" in line]
    assert rows == [
        "| Modify | `ApiFunction` | AWS::Lambda::Function | no | Code, Tags, Timeout |",
        "| Add | `ApiFunctionVersion1a2b3c4d5e` | AWS::Lambda::Version |  |  |",
        "| Modify | `IdempotencyTable` | AWS::DynamoDB::Table | **yes** | KeySchema |",
        "| Remove | `ApiFunctionVersion9f8e7d6c5b` | AWS::Lambda::Version |  |  |",
    ]
    # What cannot be undone by a rollback is said apart from the table.
    assert "**Replaced** (a new resource, the old one deleted" in text
    assert "`IdempotencyTable`" in text.split("**Replaced**")[1]
    assert "**Removed**: `ApiFunctionVersion9f8e7d6c5b`" in text


def test_without_a_change_set_the_approver_reads_that_nothing_is_deployed() -> None:
    assert markdown([]).startswith("### No change set")


@pytest.fixture
def cloudformation() -> Iterator["CloudFormationClient"]:
    """CloudFormation in moto, with a stack to change."""
    with mock_aws():
        client: CloudFormationClient = boto3.client("cloudformation")
        template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}
        client.create_stack(StackName=STACK, TemplateBody=json.dumps(template))
        yield client


def change_set(cloudformation: "CloudFormationClient") -> str:
    template = {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue"},
            "DeadLetterQueue": {"Type": "AWS::SQS::Queue"},
        }
    }
    created = cloudformation.create_change_set(
        StackName=STACK, ChangeSetName="samcli-deploy1764000000", TemplateBody=json.dumps(template)
    )
    return created["Id"]


@pytest.mark.process
def test_the_change_set_described_is_the_one_executed(
    cloudformation: "CloudFormationClient",
) -> None:
    change_set_id = change_set(cloudformation)
    out = io.StringIO()

    text = markdown(describe(cloudformation, change_set_id))
    updated = execute(cloudformation, change_set_id, out, sleep=lambda _: None)

    assert "`DeadLetterQueue`" in text
    assert updated
    assert f"Executing samcli-deploy1764000000 on {STACK}" in out.getvalue()
    executed = cloudformation.describe_change_set(ChangeSetName=change_set_id)
    assert executed["ExecutionStatus"] == "EXECUTE_COMPLETE"
    # Once executed, it cannot be executed again.
    with pytest.raises(ChangeSetError, match="cannot be executed"):
        execute(cloudformation, change_set_id, io.StringIO(), sleep=lambda _: None)


def test_a_change_set_that_is_gone_is_not_replaced_by_another() -> None:
    # Another run's change set was executed first: CloudFormation deleted this one.
    client: CloudFormationClient = boto3.client("cloudformation")
    with Stubber(client) as stubber:
        stubber.add_client_error("describe_change_set", "ChangeSetNotFound", http_status_code=404)

        with pytest.raises(ChangeSetError, match="Make the plan again"):
            execute(client, CHANGE_SET_ID, io.StringIO(), sleep=lambda _: None)

        # Nothing else was asked: no other change set made, none executed.
        stubber.assert_no_pending_responses()


def test_a_rolled_back_deployment_fails_with_its_reasons() -> None:
    # The canary stopped by an alarm: CloudFormation rolls the whole update back.
    client: CloudFormationClient = boto3.client("cloudformation")
    event = {"StackId": STACK_ID, "StackName": STACK, "Timestamp": datetime.now(UTC)}
    alias_failed = {
        **event,
        "EventId": "alias-failed",
        "LogicalResourceId": "ApiFunctionAliaslive",
        "ResourceStatus": "UPDATE_FAILED",
        "ResourceStatusReason": "CodeDeploy deployment d-7PQJ6Z3QB stopped: alarm "
        "ApiCanaryErrorsAlarm went off",
    }
    before = {**event, "EventId": "before", "LogicalResourceId": STACK}
    out = io.StringIO()
    with Stubber(client) as stubber:
        stubber.add_response(
            "describe_change_set",
            {key: value for key, value in description_pages()[0].items() if key != "NextToken"},
        )
        stubber.add_response("describe_stack_events", {"StackEvents": [before]})
        stubber.add_response("execute_change_set", {}, {"ChangeSetName": CHANGE_SET_ID})
        for status in (
            "UPDATE_IN_PROGRESS",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "UPDATE_ROLLBACK_COMPLETE",
        ):
            stubber.add_response(
                "describe_stacks",
                {
                    "Stacks": [
                        {
                            "StackName": STACK,
                            "StackId": STACK_ID,
                            "CreationTime": datetime(2026, 1, 1, tzinfo=UTC),
                            "StackStatus": status,
                            "StackStatusReason": "The following resource(s) failed to update: "
                            "[ApiFunctionAliaslive].",
                        }
                    ]
                },
            )
        stubber.add_response(
            "describe_stack_events",
            {"StackEvents": [{**event, "EventId": "rolled-back"}, alias_failed, before]},
        )

        updated = execute(client, CHANGE_SET_ID, out, sleep=lambda _: None)

        stubber.assert_no_pending_responses()
    assert not updated
    shown = out.getvalue()
    assert "UPDATE_ROLLBACK_COMPLETE" in shown
    assert "ApiFunctionAliaslive UPDATE_FAILED: CodeDeploy deployment d-7PQJ6Z3QB stopped" in shown
