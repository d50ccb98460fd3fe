"""The pipeline to copy: its workflow, samconfig.toml and the policies of docs agree."""

import json
import re
import subprocess
import tomllib
from typing import Any

import pytest
import yaml

from local.clients import DEFAULT_STACK
from local.template import load_template
from tests.infra.conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "pipeline.yml"
ENVIRONMENTS = ("staging", "production")


def workflow() -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return document


def samconfig() -> dict[str, Any]:
    return tomllib.loads((ROOT / "samconfig.toml").read_text())


def deploy_parameters(environment: str) -> dict[str, Any]:
    parameters: dict[str, Any] = samconfig()[environment]["deploy"]["parameters"]
    return parameters


def steps(job: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = workflow()["jobs"][job]["steps"]
    return found


def runs(job: str) -> list[str]:
    return [step["run"] for step in steps(job) if "run" in step]


def test_every_push_runs_both_test_targets() -> None:
    document = workflow()
    # PyYAML reads the key `on` as True.
    assert "push" in document[True]
    assert "branches" not in (document[True]["push"] or {})
    assert runs("test") == ["make test"]
    assert runs("test-browser") == ["make test-browser"]


def test_the_deployment_runs_on_main_after_both_test_jobs() -> None:
    build = workflow()["jobs"]["build"]
    assert build["if"] == "github.ref == 'refs/heads/main'"
    assert set(build["needs"]) == {"test", "test-browser"}
    assert "make build" in runs("build")
    assert workflow()["jobs"]["deploy-staging"]["needs"] == "build"
    assert workflow()["jobs"]["deploy-production"]["needs"] == "deploy-staging"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environment_deploys_its_section_then_smoke_tests_its_stack(environment: str) -> None:
    job = workflow()["jobs"][f"deploy-{environment}"]
    stack = workflow()["env"][f"{environment.upper()}_STACK"]

    assert job["environment"] == environment
    assert stack == deploy_parameters(environment)["stack_name"]
    assert workflow()["env"]["AWS_REGION"] == deploy_parameters(environment)["region"]
    deploy, smoke = runs(f"deploy-{environment}")
    assert deploy == f"make deploy-built SAM_CONFIG_ENV={environment}"
    assert smoke.startswith(f'make smoke STACK="${environment.upper()}_STACK"')
    # Production is only read: the smoke test's writes stay in staging.
    assert smoke.endswith("SMOKE_READ_ONLY=1") == (environment == "production")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_aws_credentials_come_from_oidc_never_a_stored_key(environment: str) -> None:
    job = workflow()["jobs"][f"deploy-{environment}"]
    (credentials,) = [
        step
        for step in steps(f"deploy-{environment}")
        if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
    ]

    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert set(credentials["with"]) == {"role-to-assume", "role-session-name", "aws-region"}
    assert "secrets." not in WORKFLOW.read_text()
    assert "aws-access-key-id" not in WORKFLOW.read_text()


def test_only_the_deploy_jobs_may_request_an_oidc_token() -> None:
    assert workflow()["permissions"] == {"contents": "read"}
    for name, job in workflow()["jobs"].items():
        if not name.startswith("deploy-"):
            assert "permissions" not in job, name


def test_both_deployments_use_the_one_build() -> None:
    (upload,) = [s for s in steps("build") if s.get("uses", "").startswith("actions/upload-")]
    for environment in ENVIRONMENTS:
        (download,) = [
            s
            for s in steps(f"deploy-{environment}")
            if s.get("uses", "").startswith("actions/download-")
        ]
        assert download["with"] == {"name": upload["with"]["name"], "path": upload["with"]["path"]}
        assert not any("make build" in run for run in runs(f"deploy-{environment}"))


def test_samconfig_has_a_section_per_environment_and_no_secret() -> None:
    config = samconfig()
    template_parameters = set(load_template()["Parameters"])

    assert set(config) - {"version"} == {"default", *ENVIRONMENTS}
    names = {deploy_parameters(env)["stack_name"] for env in ("default", *ENVIRONMENTS)}
    assert len(names) == 3
    for environment in ("default", *ENVIRONMENTS):
        parameters = deploy_parameters(environment)
        assert parameters["capabilities"] == "CAPABILITY_IAM"
        overrides = dict(pair.split("=", 1) for pair in parameters["parameter_overrides"].split())
        assert set(overrides) <= template_parameters
    # Settings only: no credential, key or token among the names or the values.
    settings = " ".join(
        f"{name}={value}"
        for environment in ("default", *ENVIRONMENTS)
        for name, value in deploy_parameters(environment).items()
    ).lower()
    for word in ("secret", "password", "access_key", "token", "api_key", "akia"):
        assert word not in settings, word


def test_each_environment_says_what_it_is_and_production_names_where_alarms_go_or_fails() -> None:
    def overrides(environment: str) -> dict[str, str]:
        pairs = deploy_parameters(environment)["parameter_overrides"].split()
        return dict(pair.split("=", 1) for pair in pairs)

    default = load_template()["Parameters"]["DeploymentEnvironment"]["Default"]
    assert overrides("default").get("DeploymentEnvironment", default) == "development"
    for environment in ENVIRONMENTS:
        assert overrides(environment)["DeploymentEnvironment"] == environment
    # The committed production section names no destination: deploying it as it is fails with
    # the rule's message, until the deployer adds one (docs/deploy.md).
    production = overrides("production")
    assert not production.get("AlarmTopicArn")
    assert not production.get("AlarmEmail")
    assert "ProductionAlarmsReachSomeone" in (ROOT / "samconfig.toml").read_text()


def test_the_docs_and_the_tools_name_the_stacks_samconfig_deploys() -> None:
    developer = deploy_parameters("default")["stack_name"]

    assert developer == DEFAULT_STACK
    assert f"STACK={developer}\n" in (ROOT / "docs" / "deploy.md").read_text()
    for page in (ROOT / "README.md", *(ROOT / "docs").glob("*.md")):
        names = set(re.findall(r"enrollment-service(?:-[a-z]+)?\b", page.read_text()))
        stacks = {deploy_parameters(env)["stack_name"] for env in ("default", *ENVIRONMENTS)}
        # The bare name is the local stack's and the metrics' default service name, no stack.
        assert names <= stacks | {"enrollment-service"}, page
        assert "not committed" not in page.read_text(), page


def test_samconfig_is_committed_not_ignored() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "samconfig.toml"],  # noqa: S607 (git from PATH)
        cwd=ROOT,
        check=False,
    )
    assert ignored.returncode == 1


def policies() -> list[dict[str, Any]]:
    text = (ROOT / "docs" / "deploy-pipeline.md").read_text()
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]


def test_the_documented_policies_are_valid_json_for_both_stacks() -> None:
    trust, permissions = policies()

    (statement,) = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    subjects = statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    assert subjects == [f"repo:OWNER/REPO:environment:{env}" for env in ENVIRONMENTS]
    (stacks,) = [s for s in permissions["Statement"] if s["Sid"] == "Stacks"]
    for environment in ENVIRONMENTS:
        stack = deploy_parameters(environment)["stack_name"]
        assert f"arn:aws:cloudformation:us-east-1:ACCOUNT:stack/{stack}/*" in stacks["Resource"]
    # The smoke test's two reads of the stack and the key.
    actions = {a for s in permissions["Statement"] for a in s["Action"]}
    assert {"cloudformation:DescribeStacks", "apigateway:GET"} <= actions


# The action CloudFormation calls to create each kind of resource of the stack, with the
# caller's permissions: the deploy role must hold each (docs/deploy-pipeline.md).
CREATE_ACTIONS = {
    "AWS::ApiGateway::Account": "apigateway:PATCH",
    "AWS::ApiGateway::ApiKey": "apigateway:POST",
    "AWS::ApiGateway::Deployment": "apigateway:POST",
    "AWS::ApiGateway::RestApi": "apigateway:POST",
    "AWS::ApiGateway::Stage": "apigateway:POST",
    "AWS::ApiGateway::UsagePlan": "apigateway:POST",
    "AWS::ApiGateway::UsagePlanKey": "apigateway:POST",
    "AWS::CloudWatch::Alarm": "cloudwatch:PutMetricAlarm",
    "AWS::CloudWatch::Dashboard": "cloudwatch:PutDashboard",
    "AWS::CodeDeploy::Application": "codedeploy:CreateApplication",
    "AWS::CodeDeploy::DeploymentGroup": "codedeploy:CreateDeploymentGroup",
    "AWS::DynamoDB::Table": "dynamodb:CreateTable",
    "AWS::IAM::Role": "iam:CreateRole",
    "AWS::Lambda::Alias": "lambda:CreateAlias",
    "AWS::Lambda::EventSourceMapping": "lambda:CreateEventSourceMapping",
    "AWS::Lambda::Function": "lambda:CreateFunction",
    "AWS::Lambda::Permission": "lambda:AddPermission",
    "AWS::Lambda::Version": "lambda:PublishVersion",
    "AWS::Logs::LogGroup": "logs:CreateLogGroup",
    "AWS::Logs::MetricFilter": "logs:PutMetricFilter",
    "AWS::SNS::Subscription": "sns:Subscribe",
    "AWS::SNS::Topic": "sns:CreateTopic",
    "AWS::SQS::Queue": "sqs:CreateQueue",
    "AWS::XRay::SamplingRule": "xray:CreateSamplingRule",
}


def test_the_deploy_role_may_create_every_kind_of_resource_of_the_stack(
    cfn: dict[str, Any],
) -> None:
    _, permissions = policies()
    granted = {action for statement in permissions["Statement"] for action in statement["Action"]}
    kinds = {resource["Type"] for resource in cfn["Resources"].values()}

    assert kinds <= CREATE_ACTIONS.keys(), kinds - CREATE_ACTIONS.keys()
    missing = {kind: CREATE_ACTIONS[kind] for kind in kinds if CREATE_ACTIONS[kind] not in granted}
    assert missing == {}
