"""The pipeline to copy: its workflow, samconfig.toml, the Makefile and docs' policies agree."""

import fnmatch
import json
import re
import subprocess
import tomllib
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from local.template import load_template, resources_of_type
from ops.cli import DEFAULT_STACK
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


# The jobs that reach AWS: the environment each runs in, and the role variable it assumes.
AWS_JOBS = {
    "deploy-staging": ("staging", "AWS_DEPLOY_ROLE_ARN"),
    "plan-production": ("production-plan", "AWS_PLAN_ROLE_ARN"),
    "deploy-production": ("production", "AWS_DEPLOY_ROLE_ARN"),
}


def test_the_deployment_runs_on_main_after_both_test_jobs() -> None:
    jobs = workflow()["jobs"]
    build = jobs["build"]
    assert build["if"] == "github.ref == 'refs/heads/main'"
    assert set(build["needs"]) == {"test", "test-browser"}
    assert "make build" in runs("build")
    assert jobs["deploy-staging"]["needs"] == "build"
    assert jobs["plan-production"]["needs"] == "deploy-staging"
    assert jobs["deploy-production"]["needs"] == "plan-production"


def test_staging_deploys_its_section_then_smoke_tests_its_stack() -> None:
    job = workflow()["jobs"]["deploy-staging"]
    stack = workflow()["env"]["STAGING_STACK"]

    assert job["environment"] == "staging"
    assert stack == deploy_parameters("staging")["stack_name"]
    assert workflow()["env"]["AWS_REGION"] == deploy_parameters("staging")["region"]
    assert runs("deploy-staging") == [
        "make deploy-built SAM_CONFIG_ENV=staging",
        'make smoke STACK="$STAGING_STACK"',
    ]


def test_production_executes_the_change_set_its_reviewer_was_shown() -> None:
    jobs = workflow()["jobs"]
    plan, deploy = jobs["plan-production"], jobs["deploy-production"]
    assert workflow()["env"]["PRODUCTION_STACK"] == deploy_parameters("production")["stack_name"]
    assert workflow()["env"]["AWS_REGION"] == deploy_parameters("production")["region"]

    # The plan: production's change set made, not executed, and written to the run's summary.
    (plan_step,) = [step for step in steps("plan-production") if "run" in step]
    make_line, output_line = plan_step["run"].replace("\\\n", " ").strip().splitlines()
    assert make_line.split()[:3] == ["make", "change-set", "SAM_CONFIG_ENV=production"]
    assert 'CHANGE_SET_SUMMARY="$GITHUB_STEP_SUMMARY"' in make_line
    id_file = re.search(r'CHANGE_SET_ID_FILE="([^"]+)"', make_line)
    assert id_file
    assert output_line == f'echo "change-set=$(cat "{id_file[1]}")" >> "$GITHUB_OUTPUT"'
    assert plan["outputs"] == {
        "change-set": f"${{{{ steps.{plan_step['id']}.outputs.change-set }}}}"
    }
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("\nchange-set:") : makefile.index("\nexecute-change-set:")]
    assert "--no-execute-changeset --output json" in recipe
    assert "scripts.change_set created" in recipe

    # The deployment: after the approval, that change set and no other; none when none was made.
    assert plan["environment"] == "production-plan"
    assert deploy["environment"] == "production"
    assert deploy["if"] == "needs.plan-production.outputs.change-set != ''"
    execute, smoke = [step for step in steps("deploy-production") if "run" in step]
    assert execute["env"] == {"CHANGE_SET": "${{ needs.plan-production.outputs.change-set }}"}
    assert execute["run"] == 'make execute-change-set CHANGE_SET="$CHANGE_SET"'
    # Production is only read: the smoke test's writes stay in staging.
    assert smoke["run"] == 'make smoke STACK="$PRODUCTION_STACK" SMOKE_READ_ONLY=1'


@pytest.mark.parametrize("job_id", sorted(AWS_JOBS))
def test_aws_credentials_come_from_oidc_never_a_stored_key(job_id: str) -> None:
    job = workflow()["jobs"][job_id]
    (credentials,) = [
        step
        for step in steps(job_id)
        if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
    ]
    environment, role_variable = AWS_JOBS[job_id]

    assert job["environment"] == environment
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert set(credentials["with"]) == {"role-to-assume", "role-session-name", "aws-region"}
    assert credentials["with"]["role-to-assume"] == f"${{{{ vars.{role_variable} }}}}"
    assert "secrets." not in WORKFLOW.read_text()
    assert "aws-access-key-id" not in WORKFLOW.read_text()


def test_only_the_jobs_that_reach_aws_may_request_an_oidc_token() -> None:
    assert workflow()["permissions"] == {"contents": "read"}
    for name, job in workflow()["jobs"].items():
        assert ("permissions" in job) == (name in AWS_JOBS), name


def test_staging_and_production_get_the_one_build() -> None:
    (upload,) = [s for s in steps("build") if s.get("uses", "").startswith("actions/upload-")]
    for job_id in ("deploy-staging", "plan-production"):
        (download,) = [
            s for s in steps(job_id) if s.get("uses", "").startswith("actions/download-")
        ]
        assert download["with"] == {"name": upload["with"]["name"], "path": upload["with"]["path"]}
        assert not any("make build" in run for run in runs(job_id))
    # Production's deployment builds and uploads nothing: its change set names what the plan
    # uploaded.
    assert not any(
        s.get("uses", "").startswith("actions/download-") for s in steps("deploy-production")
    )
    assert not any(
        "make build" in run or "deploy-built" in run for run in runs("deploy-production")
    )


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


@pytest.mark.process
def test_samconfig_is_committed_not_ignored() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "samconfig.toml"],  # noqa: S607 (git from PATH)
        cwd=ROOT,
        check=False,
    )
    assert ignored.returncode == 1


@dataclass(frozen=True)
class Role:
    """A role of docs/deploy-pipeline.md: who may assume it, and what it may do."""

    trust: dict[str, Any]
    permissions: dict[str, Any]

    def subjects(self) -> list[str]:
        (statement,) = self.trust["Statement"]
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        subjects: list[str] = statement["Condition"]["StringEquals"][
            "token.actions.githubusercontent.com:sub"
        ]
        return subjects

    def actions(self) -> set[str]:
        return {a for s in self.permissions["Statement"] for a in s["Action"]}

    def allows(self, action: str, resource: str) -> bool:
        """Whether a statement allows `action` on `resource` (IAM's `*` wildcards)."""
        return any(
            action in statement["Action"]
            and any(
                fnmatch.fnmatchcase(resource, pattern) for pattern in as_list(statement["Resource"])
            )
            for statement in self.permissions["Statement"]
        )


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def roles() -> dict[str, Role]:
    """The deploy role and the plan role, as the page's JSON blocks give them, in order."""
    text = (ROOT / "docs" / "deploy-pipeline.md").read_text()
    blocks = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]
    deploy_trust, deploy_permissions, plan_trust, plan_permissions = blocks
    return {
        "AWS_DEPLOY_ROLE_ARN": Role(deploy_trust, deploy_permissions),
        "AWS_PLAN_ROLE_ARN": Role(plan_trust, plan_permissions),
    }


def subject(environment: str) -> str:
    return f"repo:OWNER/REPO:environment:{environment}"


def stack_arn(stack: str) -> str:
    return f"arn:aws:cloudformation:us-east-1:ACCOUNT:stack/{stack}/0b1c2d3e-4f50"


def test_each_role_is_assumed_only_by_the_jobs_of_its_environments() -> None:
    for job_id, (environment, role_variable) in AWS_JOBS.items():
        assert subject(environment) in roles()[role_variable].subjects(), job_id
    assert roles()["AWS_DEPLOY_ROLE_ARN"].subjects() == [subject(env) for env in ENVIRONMENTS]
    # The plan job needs no approval: its environment must not reach the deploy role.
    assert roles()["AWS_PLAN_ROLE_ARN"].subjects() == [subject("production-plan")]


def test_the_deploy_role_deploys_both_stacks_and_executes_production_change_sets() -> None:
    deploy = roles()["AWS_DEPLOY_ROLE_ARN"]
    for environment in ENVIRONMENTS:
        stack = stack_arn(deploy_parameters(environment)["stack_name"])
        for action in ("CreateChangeSet", "ExecuteChangeSet", "DescribeChangeSet"):
            assert deploy.allows(f"cloudformation:{action}", stack), (environment, action)
    production = stack_arn(deploy_parameters("production")["stack_name"])
    # make execute-change-set waits on the stack and shows its failed events.
    for action in ("DescribeStacks", "DescribeStackEvents"):
        assert deploy.allows(f"cloudformation:{action}", production), action
    # The smoke test's two reads of the stack and the key.
    assert {"cloudformation:DescribeStacks", "apigateway:GET"} <= deploy.actions()


def test_the_plan_role_makes_change_sets_and_cannot_deploy() -> None:
    plan = roles()["AWS_PLAN_ROLE_ARN"]
    production = stack_arn(deploy_parameters("production")["stack_name"])
    staging = stack_arn(deploy_parameters("staging")["stack_name"])
    transform = "arn:aws:cloudformation:us-east-1:aws:transform/Serverless-2016-10-31"

    for action in ("CreateChangeSet", "DescribeChangeSet", "DescribeStacks"):
        assert plan.allows(f"cloudformation:{action}", production), action
    assert plan.allows("cloudformation:CreateChangeSet", transform)
    assert not plan.allows("cloudformation:CreateChangeSet", staging)
    # Reads, change sets and the artifacts' upload: nothing that executes or changes a resource.
    assert plan.actions() <= {
        "cloudformation:CreateChangeSet",
        "cloudformation:DescribeChangeSet",
        "cloudformation:DescribeStacks",
        "cloudformation:GetTemplateSummary",
        "cloudformation:ValidateTemplate",
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
        "s3:GetBucketLocation",
    }


def physical_names(stack: str) -> dict[str, str]:
    """The name CloudFormation gives each function of the template in `stack`."""
    names = {}
    for logical_id, function in resources_of_type(
        load_template(), "AWS::Serverless::Function"
    ).items():
        given = function.get("FunctionName")
        names[logical_id] = (
            given["Fn::Sub"].replace("${AWS::StackName}", stack)
            if given
            else f"{stack}-{logical_id}-A1B2C3D4E5F6"
        )
    return names


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_deploy_role_may_create_every_function_and_version_of_the_stack(
    environment: str,
) -> None:
    deploy = roles()["AWS_DEPLOY_ROLE_ARN"]
    stack = deploy_parameters(environment)["stack_name"]
    names = physical_names(stack)

    assert set(names) == {"ApiFunction", "ProcessorFunction", "NotifierFunction", "PreTrafficHook"}
    for logical_id, name in names.items():
        arn = f"arn:aws:lambda:us-east-1:ACCOUNT:function:{name}"
        for action in ("lambda:CreateFunction", "lambda:UpdateFunctionCode"):
            assert deploy.allows(action, arn), (logical_id, action)
        # A replaced version is deleted by its qualified ARN (VersionDeletionPolicy).
        assert deploy.allows("lambda:DeleteFunction", f"{arn}:7"), logical_id
        assert deploy.allows(
            "iam:PassRole", f"arn:aws:iam::ACCOUNT:role/{stack}-{logical_id}Role-X1"
        )


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_deploy_role_may_run_the_apis_codedeploy_deployment(environment: str) -> None:
    deploy = roles()["AWS_DEPLOY_ROLE_ARN"]
    stack = deploy_parameters(environment)["stack_name"]
    application = f"{stack}-ServerlessDeploymentApplication-1A2B3C4D5E6F"
    codedeploy = "arn:aws:codedeploy:us-east-1:ACCOUNT"
    group = f"{codedeploy}:deploymentgroup:{application}/{stack}-ApiFunctionDeploymentGroup-7G8H"
    preference = load_template()["Resources"]["ApiFunction"]["Properties"]["DeploymentPreference"]
    config = f"{codedeploy}:deploymentconfig:CodeDeployDefault.Lambda{preference['Type']}"

    for action in ("CreateApplication", "GetApplication", "DeleteApplication"):
        assert deploy.allows(f"codedeploy:{action}", f"{codedeploy}:application:{application}")
    for action in ("CreateDeploymentGroup", "CreateDeployment", "GetDeployment", "StopDeployment"):
        assert deploy.allows(f"codedeploy:{action}", group), action
    assert deploy.allows("codedeploy:GetDeploymentConfig", config)
    # SAM's role for CodeDeploy, passed to the deployment group.
    role = f"arn:aws:iam::ACCOUNT:role/{stack}-CodeDeployServiceRole-9I0J"
    assert deploy.allows("iam:PassRole", role)


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
    "AWS::SecretsManager::Secret": "secretsmanager:CreateSecret",
    "AWS::SQS::Queue": "sqs:CreateQueue",
    "AWS::XRay::SamplingRule": "xray:CreateSamplingRule",
}


def test_the_deploy_role_may_create_every_kind_of_resource_of_the_stack(
    cfn: dict[str, Any],
) -> None:
    granted = roles()["AWS_DEPLOY_ROLE_ARN"].actions()
    kinds = {resource["Type"] for resource in cfn["Resources"].values()}

    assert kinds <= CREATE_ACTIONS.keys(), kinds - CREATE_ACTIONS.keys()
    missing = {kind: CREATE_ACTIONS[kind] for kind in kinds if CREATE_ACTIONS[kind] not in granted}
    assert missing == {}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_deploy_role_may_create_the_cpf_keys_secret_and_the_audit_log_group(
    environment: str,
) -> None:
    deploy = roles()["AWS_DEPLOY_ROLE_ARN"]
    stack = deploy_parameters(environment)["stack_name"]
    # CloudFormation names a secret without a Name after its logical id, and a random suffix.
    secret = "arn:aws:secretsmanager:us-east-1:ACCOUNT:secret:CpfKeySecret-Ab12Cd34Ef56-GhIjKl"
    group = props_of("AuditLogGroup")["LogGroupName"]["Fn::Sub"].replace("${AWS::StackName}", stack)

    assert "Name" not in props_of("CpfKeySecret")
    assert deploy.allows("secretsmanager:CreateSecret", secret)
    assert deploy.allows("secretsmanager:GetRandomPassword", "*")
    assert deploy.allows("logs:CreateLogGroup", f"arn:aws:logs:us-east-1:ACCOUNT:log-group:{group}")


def props_of(logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = load_template()["Resources"][logical_id]["Properties"]
    return properties
