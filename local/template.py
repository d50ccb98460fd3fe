"""Read `template.yaml` and create its tables, queues, secrets and log groups, so their definition
lives in one place."""

import contextlib
import copy
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from app.entrypoints.events import SAMPLE_API_KEY_ID

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "template.yaml"
# What `!Ref AWS::StackName` is locally: the settings' default service name, as deployed.
LOCAL_STACK_NAME = "enrollment-service"


class _CfnLoader(yaml.CSafeLoader):
    """YAML loader that reads CloudFormation's short tags (`!Ref`, `!GetAtt`) as their long form.

    On libyaml's parser (PyYAML's wheels carry it): the same data as the pure-Python one, in an
    eighth of the time, for a template every test and every process of the local stack reads.
    """


def _intrinsic(loader: yaml.CSafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix == "Ref" else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as plain data, intrinsic functions in their long form: the caller's own copy."""
    # Parsed once per version of the file; a copy for each caller, which may change it.
    return copy.deepcopy(_parsed(path, path.stat().st_mtime_ns))


@lru_cache
def _parsed(path: Path, modified_ns: int) -> dict[str, Any]:
    with path.open() as stream:
        template: dict[str, Any] = yaml.load(stream, Loader=_CfnLoader)  # noqa: S506 (safe subclass)
    return template


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical id to properties of every resource of `resource_type`."""
    return {
        logical_id: resource.get("Properties", {})
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


@dataclass
class Stack:
    """What `provision` created: for each logical id, what `!Ref` and `!GetAtt` resolve to."""

    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    name: str = LOCAL_STACK_NAME

    def resolve(self, value: Any) -> str:
        """The value of a template property that is a string, `!Ref`, `!GetAtt`, or `!Sub` of
        names (`${AWS::StackName}`, `${Resource}`)."""
        if isinstance(value, str):
            return value
        if value.get("Ref") == "AWS::StackName":
            return self.name
        if "Ref" in value:
            return self.refs[value["Ref"]]
        if "Fn::Sub" in value:
            return re.sub(
                r"\$\{([^}]+)\}", lambda name: self.resolve({"Ref": name[1]}), value["Fn::Sub"]
            )
        logical_id, attribute = value["Fn::GetAtt"]
        return self.attributes[(logical_id, attribute)]

    @classmethod
    def of(cls, template: dict[str, Any], api_key_id: str = SAMPLE_API_KEY_ID) -> "Stack":
        """A stack of `template` before anything is created: its parameters' defaults, and the
        stack's key as `api_key_id`."""
        stack = cls()
        # A parameter is what a deployment that sets none of them gets: its default.
        for name, parameter in template.get("Parameters", {}).items():
            if "Default" in parameter:
                stack.refs[name] = str(parameter["Default"])
        # API Gateway's key and usage plan are the local gateway's to create (local.gateway),
        # which then replaces this: without a gateway, the key is the one the sample events name.
        stack.refs["StackApiKey"] = api_key_id
        return stack

    def environment(self, template: dict[str, Any], function_id: str) -> dict[str, str]:
        """The environment variables that the template gives a function, resolved."""
        props = template["Resources"][function_id]["Properties"]
        variables = props.get("Environment", {}).get("Variables", {})
        return {name: self.resolve(value) for name, value in variables.items()}


def table_definition(props: dict[str, Any]) -> dict[str, Any]:
    """What `CreateTable` takes of a table's template properties: its keys, its global secondary
    indexes and its stream (TTL is set apart, once the table exists)."""
    definition: dict[str, Any] = {
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if indexes := props.get("GlobalSecondaryIndexes"):
        definition["GlobalSecondaryIndexes"] = [
            {key: index[key] for key in ("IndexName", "KeySchema", "Projection")}
            for index in indexes
        ]
    if stream := props.get("StreamSpecification"):
        definition["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": stream["StreamViewType"],
        }
    return definition


# What GetRandomPassword takes of a secret's GenerateSecretString (the rest shapes a JSON value).
PASSWORD_OPTIONS = (
    "PasswordLength",
    "ExcludeCharacters",
    "ExcludeNumbers",
    "ExcludePunctuation",
    "ExcludeUppercase",
    "ExcludeLowercase",
    "IncludeSpace",
    "RequireEachIncludedType",
)


def provision_secrets(
    template: dict[str, Any],
    secretsmanager: "SecretsManagerClient",
    stack: Stack,
    prefix: str = "",
    exist_ok: bool = False,
) -> None:
    """Create the template's Secrets Manager secrets, each with a random value as its
    `GenerateSecretString` says; `!Ref` of one is its ARN, as in CloudFormation."""
    for logical_id, props in resources_of_type(template, "AWS::SecretsManager::Secret").items():
        generate = props["GenerateSecretString"]
        value = secretsmanager.get_random_password(
            **{key: generate[key] for key in PASSWORD_OPTIONS if key in generate}
        )["RandomPassword"]
        name = f"{prefix}{logical_id}"
        try:
            arn = secretsmanager.create_secret(Name=name, SecretString=value)["ARN"]
        except secretsmanager.exceptions.ResourceExistsException:
            if not exist_ok:
                raise
            arn = secretsmanager.describe_secret(SecretId=name)["ARN"]
        stack.refs[logical_id] = arn


def provision(
    template: dict[str, Any],
    dynamodb: "DynamoDBClient",
    sqs: "SQSClient",
    secretsmanager: "SecretsManagerClient",
    prefix: str = "",
    exist_ok: bool = False,
    api_key_id: str = SAMPLE_API_KEY_ID,
    *,
    logs: "CloudWatchLogsClient | None" = None,
) -> Stack:
    """Create the template's DynamoDB tables, SQS queues (dead-letter queues first) and Secrets
    Manager secrets (each with a generated value), and with `logs` its log groups.

    With `exist_ok`, tables and secrets that already exist are used as they are (a shared
    emulator that a previous run provisioned); queues and log groups are always reused.
    """
    stack = Stack.of(template, api_key_id)
    provision_secrets(template, secretsmanager, stack, prefix, exist_ok)
    for logical_id, props in resources_of_type(template, "AWS::DynamoDB::Table").items():
        name = f"{prefix}{logical_id}"
        try:
            description = dynamodb.create_table(TableName=name, **table_definition(props))[
                "TableDescription"
            ]
        except dynamodb.exceptions.ResourceInUseException:
            if not exist_ok:
                raise
            description = dynamodb.describe_table(TableName=name)["Table"]
        else:
            if ttl := props.get("TimeToLiveSpecification"):
                dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        stack.refs[logical_id] = name
        stack.attributes[(logical_id, "Arn")] = description["TableArn"]
        if "LatestStreamArn" in description:
            stack.attributes[(logical_id, "StreamArn")] = description["LatestStreamArn"]

    queues = resources_of_type(template, "AWS::SQS::Queue")
    # A queue's redrive policy names its dead-letter queue, which must exist first.
    for logical_id in sorted(queues, key=lambda q: "RedrivePolicy" in queues[q]):
        props = queues[logical_id]
        attributes: dict[str, str] = {
            key: str(props[key])
            for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds")
            if key in props
        }
        if "RedrivePolicy" in props:
            policy = props["RedrivePolicy"]
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": stack.resolve(policy["deadLetterTargetArn"]),
                    "maxReceiveCount": str(policy["maxReceiveCount"]),
                }
            )
        name = f"{prefix}{logical_id}"
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]  # type: ignore[arg-type]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        stack.refs[logical_id] = url
        stack.attributes[(logical_id, "Arn")] = arn
        stack.attributes[(logical_id, "QueueName")] = name

    for logical_id, props in resources_of_type(template, "AWS::Logs::LogGroup").items():
        group = stack.resolve(props["LogGroupName"])
        if logs is not None:
            with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                logs.create_log_group(logGroupName=group)
        stack.refs[logical_id] = group
    return stack
