"""Fixtures: template.yaml as written, and as the CloudFormation that SAM turns it into, offline."""

import copy
from pathlib import Path
from typing import Any

import pytest
from samtranslator.translator.transform import transform  # type: ignore[import-untyped]
from samtranslator.yaml_helper import yaml_parse  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
# The template names no managed policy by name, so the translator never looks one up; should it
# start to, these are the ARNs it would get, not a call to IAM.
MANAGED_POLICIES = {
    name: f"arn:aws:iam::aws:policy/{path}{name}"
    for path, name in [
        ("service-role/", "AWSLambdaBasicExecutionRole"),
        ("", "AWSXrayWriteOnlyAccess"),
        ("service-role/", "AWSLambdaSQSQueueExecutionRole"),
    ]
}


class StubManagedPolicyLoader:
    """Stands for samtranslator's ManagedPolicyLoader, which lists policies through IAM."""

    def __init__(self, policies: dict[str, str]) -> None:
        self._policies = policies

    def load(self) -> dict[str, str]:
        return dict(self._policies)


def read_template() -> dict[str, Any]:
    """template.yaml as plain data, in the form the SAM translator takes."""
    template: dict[str, Any] = yaml_parse(TEMPLATE.read_text())
    return template


def sam_transform(template: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation that the SAM transform makes of `template`, computed offline."""
    template = copy.deepcopy(template)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            # A deployed template points at the uploaded artifact; the transform only needs a URI.
            resource["Properties"]["CodeUri"] = "s3://artifacts-bucket/function.zip"
    with pytest.MonkeyPatch.context() as env:
        # The translator reads the partition from the region; it must need no credentials.
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        for name in (
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
        ):
            env.delenv(name, raising=False)
        transformed: dict[str, Any] = transform(
            template, {}, StubManagedPolicyLoader(MANAGED_POLICIES)
        )
    return transformed


@pytest.fixture(scope="session")
def sam_template() -> dict[str, Any]:
    """template.yaml, parsed."""
    return read_template()


@pytest.fixture(scope="session")
def cfn(sam_template: dict[str, Any]) -> dict[str, Any]:
    """template.yaml transformed into plain CloudFormation."""
    return sam_transform(sam_template)


# A customer managed key of the operator's, as DataKmsKeyArn names one.
DATA_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
_NO_VALUE = object()


def resolved(template: dict[str, Any], **parameters: str) -> dict[str, Any]:
    """`template` as CloudFormation deploys it with these parameter values (the others at their
    defaults): its conditions evaluated, each `Fn::If` replaced by its branch, `AWS::NoValue`
    and the resources of a false condition left out."""
    values = {
        name: str(parameter.get("Default", ""))
        for name, parameter in template.get("Parameters", {}).items()
    } | parameters

    def operand(value: Any) -> str:
        if isinstance(value, dict) and "Ref" in value:
            return values[value["Ref"]]
        return str(value)

    def holds(expression: dict[str, Any]) -> bool:
        ((function, arguments),) = expression.items()
        if function == "Condition":
            return holds(template["Conditions"][arguments])
        if function == "Fn::Equals":
            return operand(arguments[0]) == operand(arguments[1])
        if function == "Fn::Not":
            return not holds(arguments[0])
        if function == "Fn::And":
            return all(holds(argument) for argument in arguments)
        if function == "Fn::Or":
            return any(holds(argument) for argument in arguments)
        raise AssertionError(f"Unknown condition function {function}")

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if node == {"Ref": "AWS::NoValue"}:
                return _NO_VALUE
            if set(node) == {"Fn::If"}:
                name, then, otherwise = node["Fn::If"]
                return walk(then if holds({"Condition": name}) else otherwise)
            return {k: w for k, v in node.items() if (w := walk(v)) is not _NO_VALUE}
        if isinstance(node, list):
            return [w for v in node if (w := walk(v)) is not _NO_VALUE]
        return node

    deployed = walk(copy.deepcopy(template))
    deployed["Resources"] = {
        logical_id: resource
        for logical_id, resource in deployed["Resources"].items()
        if "Condition" not in resource or holds({"Condition": resource["Condition"]})
    }
    return dict(deployed)
