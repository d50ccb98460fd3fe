"""How a new version of the API reaches its traffic: a canary CodeDeploy can stop, judged by fast
alarms and by a PreTraffic hook, with a new version on any change and none left behind."""

import copy
import re
import tomllib
from typing import Any

import pytest

from local.template import resources_of_type
from tests.infra.conftest import ROOT, sam_transform

# Lambda's limit on a function's name, and the characters it allows.
FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
CANARY = re.compile(r"Canary(?P<percent>\d+)Percent(?P<minutes>\d+)Minutes")
# A minute's datapoint reaches CloudWatch about a minute after the minute ends.
METRIC_DELAY_SECONDS = 60


def props(cfn: dict[str, Any], logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = cfn["Resources"][logical_id]["Properties"]
    return properties


def version_id(cfn: dict[str, Any]) -> str:
    (logical_id,) = resources_of_type(cfn, "AWS::Lambda::Version")
    return logical_id


def deployment_group(cfn: dict[str, Any]) -> dict[str, Any]:
    (group,) = resources_of_type(cfn, "AWS::CodeDeploy::DeploymentGroup").values()
    return group


def canary(cfn: dict[str, Any]) -> re.Match[str]:
    """The deployment configuration's name, as a canary's percent and minutes."""
    config = deployment_group(cfn)["DeploymentConfigName"]["Fn::Sub"][1]["ConfigName"]
    match = CANARY.fullmatch(config)
    assert match, config
    return match


def stack_names() -> set[str]:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    return {
        section["deploy"]["parameters"]["stack_name"]
        for name, section in config.items()
        if name != "version"
    }


def test_the_api_reaches_its_traffic_through_a_codedeploy_canary(cfn: dict[str, Any]) -> None:
    (alias,) = resources_of_type(cfn, "AWS::Lambda::Alias")
    update = cfn["Resources"][alias]["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    group = deployment_group(cfn)

    # Naming the hook by Ref is what orders its update (its NEW_VERSION) before the alias's.
    assert update == {
        "ApplicationName": {"Ref": "ServerlessDeploymentApplication"},
        "DeploymentGroupName": {"Ref": "ApiFunctionDeploymentGroup"},
        "BeforeAllowTrafficHook": {"Ref": "PreTrafficHook"},
    }
    assert int(canary(cfn)["percent"]) < 100
    assert {"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"} <= set(
        group["AutoRollbackConfiguration"]["Events"]
    )
    assert group["AlarmConfiguration"]["Enabled"] is True
    # The processor is not deployed gradually: docs/adr/0008-no-canary-for-the-processor.md.
    assert set(resources_of_type(cfn, "AWS::CodeDeploy::DeploymentGroup")) == {
        "ApiFunctionDeploymentGroup"
    }


def test_each_canary_alarm_can_go_off_before_the_canary_ends(cfn: dict[str, Any]) -> None:
    canary_seconds = int(canary(cfn)["minutes"]) * 60
    alarms = [
        entry["Name"]["Ref"] for entry in deployment_group(cfn)["AlarmConfiguration"]["Alarms"]
    ]

    assert alarms
    for alarm_id in alarms:
        alarm = props(cfn, alarm_id)
        datapoints = alarm.get("DatapointsToAlarm", alarm["EvaluationPeriods"])
        assert alarm["Period"] == 60, alarm_id
        assert datapoints * alarm["Period"] + METRIC_DELAY_SECONDS < canary_seconds, alarm_id


def test_the_errors_alarm_watches_the_new_version_through_the_live_alias(
    cfn: dict[str, Any],
) -> None:
    alarm = props(cfn, "ApiCanaryErrorsAlarm")
    alias = props(cfn, "ApiFunctionAliaslive")

    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
        "FunctionName": {"Ref": "ApiFunction"},
        "Resource": {"Fn::Sub": f"${{ApiFunction}}:{alias['Name']}"},
        "ExecutedVersion": {"Fn::GetAtt": [version_id(cfn), "Version"]},
    }
    assert alias["FunctionVersion"] == {"Fn::GetAtt": [version_id(cfn), "Version"]}
    # Any error: the handler never raises, so each one is a crash, a timeout or memory.
    assert (alarm["Statistic"], alarm["Threshold"]) == ("Sum", 0)
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_a_new_version_failing_all_its_requests_trips_the_5xx_alarm(cfn: dict[str, Any]) -> None:
    alarm = props(cfn, "ApiCanaryServerErrorAlarm")
    share_of_new_version = int(canary(cfn)["percent"]) / 100

    assert alarm["Dimensions"] == props(cfn, "ApiServerErrorAlarm")["Dimensions"]
    assert alarm["Statistic"] == "Average"
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    # Even with no other 5XX at all, the canary's share alone is over the threshold.
    assert alarm["Threshold"] < share_of_new_version


def test_every_auto_published_function_publishes_on_any_change(
    sam_template: dict[str, Any],
) -> None:
    functions = resources_of_type(sam_template, "AWS::Serverless::Function")
    published = {name: fn for name, fn in functions.items() if "AutoPublishAlias" in fn}

    assert published
    for name, function in published.items():
        assert function.get("AutoPublishAliasAllProperties") is True, name


@pytest.mark.parametrize("all_properties", [True, False])
def test_a_new_timeout_publishes_a_new_version_only_with_all_properties(
    sam_template: dict[str, Any], all_properties: bool
) -> None:
    template = copy.deepcopy(sam_template)
    api = template["Resources"]["ApiFunction"]["Properties"]
    api["AutoPublishAliasAllProperties"] = all_properties
    before = version_id(sam_transform(template))
    # Another timeout than the parameter's: a property the old publishing rule ignores.
    api["Timeout"] = 17

    after = version_id(sam_transform(template))

    assert (after != before) is all_properties


def test_a_replaced_version_is_deleted_not_retained(cfn: dict[str, Any]) -> None:
    version = cfn["Resources"][version_id(cfn)]
    assert version["DeletionPolicy"] == "Delete"
    assert version["Properties"]["FunctionName"] == {"Ref": "ApiFunction"}


def test_the_hook_is_named_for_the_codedeploy_role_and_fits_every_stack(
    cfn: dict[str, Any],
) -> None:
    name = props(cfn, "PreTrafficHook")["FunctionName"]["Fn::Sub"]
    # SAM's role for CodeDeploy (no Role in the DeploymentPreference) may invoke only these.
    assert "ServiceRoleArn" in deployment_group(cfn)
    assert deployment_group(cfn)["ServiceRoleArn"] == {
        "Fn::GetAtt": ["CodeDeployServiceRole", "Arn"]
    }
    assert name.startswith("CodeDeployHook_")
    for stack in stack_names():
        assert FUNCTION_NAME.fullmatch(name.replace("${AWS::StackName}", stack)), stack


def test_the_hook_checks_the_version_the_alias_shifts_to_as_the_stacks_key(
    cfn: dict[str, Any],
) -> None:
    hook = props(cfn, "PreTrafficHook")["Environment"]["Variables"]
    api = props(cfn, "ApiFunction")["Environment"]["Variables"]

    assert hook["NEW_VERSION"] == {"Ref": version_id(cfn)}
    assert hook["STACK_API_KEY_ID"] == api["STACK_API_KEY_ID"] == {"Ref": "StackApiKey"}
    # The hook itself is deployed at once: it has no alias for CodeDeploy to shift.
    assert "AutoPublishAlias" not in props(cfn, "PreTrafficHook")
