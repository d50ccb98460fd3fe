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
