"""The alarms and the dashboard of template.yaml watch what the code emits and AWS measures."""

import json
import re
from typing import Any

import pytest

from app.observability.metrics import NAMESPACE, SERVICE_DIMENSION, Metric
from local.template import resources_of_type

STACK_NAME = {"Ref": "AWS::StackName"}
NOTIFY_TOPIC = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
# Each alarm: what it watches, as (namespace, metric, statistic).
ALARMS = {
    "EnrollmentQueueAgeAlarm": ("AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum"),
    "ProcessingLagAlarm": (NAMESPACE, Metric.PROCESSING_LAG, "p99"),
    "ProcessorErrorsAlarm": ("AWS/Lambda", "Errors", "Sum"),
    "ProcessorThrottlesAlarm": ("AWS/Lambda", "Throttles", "Sum"),
    "ApiServerErrorAlarm": ("AWS/ApiGateway", "5XXError", "Average"),
    "EnrollmentDeadLetterQueueAlarm": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum"),
    "ApiCanaryErrorsAlarm": ("AWS/Lambda", "Errors", "Sum"),
    "ApiCanaryServerErrorAlarm": ("AWS/ApiGateway", "5XXError", "Average"),
}
# The alarms CodeDeploy watches during a deployment of the API (its DeploymentPreference), which
# act through CodeDeploy rather than notify; the others page.
CANARY_ALARMS = {"ApiCanaryErrorsAlarm", "ApiCanaryServerErrorAlarm"}


def props(cfn: dict[str, Any], logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = cfn["Resources"][logical_id]["Properties"]
    return properties


def dashboard(cfn: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's body; its `${...}` placeholders stay as they are, inside JSON strings."""
    (board,) = resources_of_type(cfn, "AWS::CloudWatch::Dashboard").values()
    body: dict[str, Any] = json.loads(board["DashboardBody"]["Fn::Sub"])
    return body


def dashboard_metrics(cfn: dict[str, Any]) -> list[tuple[str, str, dict[str, str], str]]:
    """(namespace, metric, dimensions, statistic) of every line of every metric widget."""
    lines = []
    for widget in dashboard(cfn)["widgets"]:
        if widget["type"] != "metric":
            continue
        properties = widget["properties"]
        for line in properties["metrics"]:
            options = line[-1] if isinstance(line[-1], dict) else {}
            names = [part for part in line if isinstance(part, str)]
            # No shorthand ("." for the line above): each line is read on its own.
            assert "." not in names, line
            namespace, metric, *pairs = names
            dimensions = dict(zip(pairs[::2], pairs[1::2], strict=True))
            lines.append(
                (
                    namespace,
                    metric,
                    dimensions,
                    options.get("stat", properties.get("stat", "Average")),
                )
            )
    return lines


def alarm_metrics(cfn: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any], str]]:
    """Logical id to (namespace, metric, dimensions, statistic) of every alarm."""
    return {
        alarm_id: (
            alarm["Namespace"],
            alarm["MetricName"],
            {d["Name"]: d["Value"] for d in alarm["Dimensions"]},
            alarm.get("Statistic") or alarm["ExtendedStatistic"],
        )
        for alarm_id, alarm in resources_of_type(cfn, "AWS::CloudWatch::Alarm").items()
    }


def test_every_service_metric_watched_is_one_the_code_emits_under_its_dimension(
    cfn: dict[str, Any],
) -> None:
    watched = [
        (metric, dimensions)
        for namespace, metric, dimensions, _ in dashboard_metrics(cfn)
        + list(alarm_metrics(cfn).values())
        if namespace == NAMESPACE
    ]
    assert watched
    for metric, dimensions in watched:
        assert metric in set(Metric), metric
        assert dimensions in (
            {SERVICE_DIMENSION: STACK_NAME},
            {SERVICE_DIMENSION: "${AWS::StackName}"},
        )
    # And the dimension's value is the one both functions are given.
    for function_id in ("ApiFunction", "ProcessorFunction"):
        assert props(cfn, function_id)["Environment"]["Variables"]["SERVICE_NAME"] == STACK_NAME


def test_the_dashboard_shows_every_metric_the_code_emits(cfn: dict[str, Any]) -> None:
    shown = {metric for namespace, metric, _, _ in dashboard_metrics(cfn) if namespace == NAMESPACE}

    assert shown == set(Metric)


def test_the_dashboard_shows_the_queues_the_api_and_each_function(cfn: dict[str, Any]) -> None:
    shown = {(n, m, tuple(sorted(d.items())), s) for n, m, d, s in dashboard_metrics(cfn)}
    queue = (("QueueName", "${EnrollmentQueue.QueueName}"),)
    dead_letters = (("QueueName", "${EnrollmentDeadLetterQueue.QueueName}"),)
    api = (("ApiName", "${AWS::StackName}"), ("Stage", "${StageName}"))
    expected = {
        (NAMESPACE, Metric.PROCESSING_LAG, (("service", "${AWS::StackName}"),), "p50"),
        (NAMESPACE, Metric.PROCESSING_LAG, (("service", "${AWS::StackName}"),), "p99"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", queue, "Maximum"),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage", queue, "Maximum"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", dead_letters, "Maximum"),
        ("AWS/ApiGateway", "4XXError", api, "Sum"),
        ("AWS/ApiGateway", "5XXError", api, "Sum"),
        ("AWS/ApiGateway", "Latency", api, "p99"),
    }
    for function_id in ("ApiFunction", "ProcessorFunction"):
        function = (("FunctionName", f"${{{function_id}}}"),)
        expected |= {
            ("AWS/Lambda", "Duration", function, "p99"),
            ("AWS/Lambda", "Errors", function, "Sum"),
            ("AWS/Lambda", "Throttles", function, "Sum"),
        }
    # What the canary's alarms judge: the newest version's invocations and errors through the
    # alias, and the stage's share of 5XX, per minute.
    (version_id,) = resources_of_type(cfn, "AWS::Lambda::Version")
    newest = (
        ("ExecutedVersion", f"${{{version_id}.Version}}"),
        ("FunctionName", "${ApiFunction}"),
        ("Resource", "${ApiFunction}:live"),
    )
    expected |= {
        ("AWS/Lambda", "Invocations", newest, "Sum"),
        ("AWS/Lambda", "Errors", newest, "Sum"),
        ("AWS/ApiGateway", "5XXError", api, "Average"),
    }
    assert expected <= shown, expected - shown


def test_every_placeholder_of_the_dashboard_names_something_of_the_stack(
    cfn: dict[str, Any],
) -> None:
    text = resources_of_type(cfn, "AWS::CloudWatch::Dashboard")["Dashboard"]["DashboardBody"]
    placeholders = set(re.findall(r"\$\{([^}]+)\}", text["Fn::Sub"]))
    known = set(cfn["Resources"]) | set(cfn["Parameters"]) | {"AWS::StackName", "AWS::Region"}

    assert {name.split(".")[0] for name in placeholders} <= known


def test_the_api_metrics_name_the_rest_api_as_sam_names_it(cfn: dict[str, Any]) -> None:
    # API Gateway's metrics carry the REST API's name: SAM's default title, the stack's name.
    assert props(cfn, "Api")["Body"]["info"]["title"] == STACK_NAME
    _, _, dimensions, _ = alarm_metrics(cfn)["ApiServerErrorAlarm"]
    assert dimensions == {"ApiName": STACK_NAME, "Stage": {"Ref": "StageName"}}


def test_the_alarms_watch_what_the_service_needs_watched(cfn: dict[str, Any]) -> None:
    watched = {
        alarm_id: (namespace, metric, statistic)
        for alarm_id, (namespace, metric, _, statistic) in alarm_metrics(cfn).items()
    }

    assert watched == ALARMS
    _, _, queue, _ = alarm_metrics(cfn)["EnrollmentQueueAgeAlarm"]
    assert queue == {"QueueName": {"Fn::GetAtt": ["EnrollmentQueue", "QueueName"]}}
    for alarm_id in ("ProcessorErrorsAlarm", "ProcessorThrottlesAlarm"):
        assert alarm_metrics(cfn)[alarm_id][2] == {"FunctionName": {"Ref": "ProcessorFunction"}}


@pytest.mark.parametrize("alarm_id", sorted(set(ALARMS) - CANARY_ALARMS))
def test_every_paging_alarm_notifies_the_topic_only_when_one_is_given(
    cfn: dict[str, Any], alarm_id: str
) -> None:
    alarm = props(cfn, alarm_id)
    assert alarm["AlarmActions"] == NOTIFY_TOPIC
    assert alarm["OKActions"] == NOTIFY_TOPIC
    assert alarm["TreatMissingData"] == "notBreaching"
    parameter = cfn["Parameters"]["AlarmTopicArn"]
    assert parameter["Default"] == ""
    assert re.fullmatch(parameter["AllowedPattern"], "")
    assert re.fullmatch(parameter["AllowedPattern"], "arn:aws:sns:us-east-1:123456789012:ops")
    assert cfn["Conditions"]["HasAlarmTopic"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]
    }


def test_the_dashboard_shows_every_alarm(cfn: dict[str, Any]) -> None:
    (alarms,) = [w for w in dashboard(cfn)["widgets"] if w["type"] == "alarm"]
    listed = alarms["properties"]["alarms"]

    assert len(listed) == len(set(listed))
    assert set(listed) == {
        f"${{{alarm_id}.Arn}}" for alarm_id in resources_of_type(cfn, "AWS::CloudWatch::Alarm")
    }


# --- Thresholds follow from the processing delay and the queue's timeouts ---


def processing_delay(cfn: dict[str, Any]) -> float:
    return float(
        props(cfn, "ProcessorFunction")["Environment"]["Variables"]["PROCESSING_DELAY_SECONDS"]
    )


def test_the_queue_age_alarm_waits_for_many_delays_and_outlasts_a_failing_record(
    cfn: dict[str, Any],
) -> None:
    alarm = props(cfn, "EnrollmentQueueAgeAlarm")
    visibility_timeout = props(cfn, "EnrollmentQueue")["VisibilityTimeout"]
    # A message normally waits one batch (one delay); the threshold is many batches behind.
    assert alarm["Threshold"] >= 10 * processing_delay(cfn)
    # SQS counts a failing message until its third receive, two visibility timeouts on.
    assert alarm["DatapointsToAlarm"] == alarm["EvaluationPeriods"]
    assert alarm["Period"] * alarm["EvaluationPeriods"] > 2 * visibility_timeout


def test_the_lag_alarm_waits_for_many_delays_and_outlasts_one_retried_record(
    cfn: dict[str, Any],
) -> None:
    alarm = props(cfn, "ProcessingLagAlarm")
    visibility_timeout = props(cfn, "EnrollmentQueue")["VisibilityTimeout"]
    # ProcessingLag is in milliseconds.
    assert alarm["Threshold"] >= 10 * processing_delay(cfn) * 1000
    # A retried record's lag is over the threshold: it takes more than one period to alarm.
    assert alarm["Threshold"] < visibility_timeout * 1000
    assert alarm["DatapointsToAlarm"] == alarm["EvaluationPeriods"] >= 2


@pytest.mark.parametrize("alarm_id", sorted(CANARY_ALARMS))
def test_the_canary_alarms_act_through_codedeploy_not_a_page(
    cfn: dict[str, Any], alarm_id: str
) -> None:
    alarm = props(cfn, alarm_id)
    assert "AlarmActions" not in alarm
    assert "OKActions" not in alarm
    assert alarm["TreatMissingData"] == "notBreaching"
    (group,) = resources_of_type(cfn, "AWS::CodeDeploy::DeploymentGroup").values()
    assert {"Name": {"Ref": alarm_id}} in group["AlarmConfiguration"]["Alarms"]
