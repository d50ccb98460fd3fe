"""The alarms and the dashboard of template.yaml watch what the code emits and AWS measures."""

import json
import re
from typing import Any

import pytest

from app.observability.metrics import NAMESPACE, SERVICE_DIMENSION, Metric
from local.template import resources_of_type

STACK_NAME = {"Ref": "AWS::StackName"}
# The deployer's topic, or the stack's own.
NOTIFY_TOPIC = [{"Fn::If": ["HasAlarmTopic", {"Ref": "AlarmTopicArn"}, {"Ref": "AlarmTopic"}]}]
# Each alarm: what it watches, as (namespace, metric, statistic).
ALARMS = {
    "EnrollmentQueueAgeAlarm": ("AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum"),
    "ProcessingLagAlarm": (NAMESPACE, Metric.PROCESSING_LAG, "p99"),
    "ProcessorErrorsAlarm": ("AWS/Lambda", "Errors", "Sum"),
    "ProcessorThrottlesAlarm": ("AWS/Lambda", "Throttles", "Sum"),
    "ApiServerErrorAlarm": ("AWS/ApiGateway", "5XXError", "Average"),
    "EnrollmentDeadLetterQueueAlarm": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum"),
    "ApiErrorsAlarm": ("AWS/Lambda", "Errors", "Sum"),
    "ApiThrottlesAlarm": ("AWS/Lambda", "Throttles", "Sum"),
    "DynamoDBThrottlesAlarm": ("AWS/DynamoDB", "ReadThrottleEvents+WriteThrottleEvents", "Sum"),
    "GatewayThrottledAlarm": (NAMESPACE, Metric.GATEWAY_THROTTLED, "Sum"),
    "ApiCanaryErrorsAlarm": ("AWS/Lambda", "Errors", "Sum"),
    "ApiCanaryServerErrorAlarm": ("AWS/ApiGateway", "5XXError", "Average"),
    "WebhookExhaustedAlarm": (NAMESPACE, Metric.WEBHOOK_EXHAUSTED, "Sum"),
    "WebhookDeadLetterQueueAlarm": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum"),
}
THROTTLE_EVENTS = ("ReadThrottleEvents", "WriteThrottleEvents")
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
    """Logical id to (namespace, metric, dimensions, statistic) of every alarm.

    An alarm on a sum of metrics names them joined by `+`, and each dimension's values as a list.
    """
    found = {}
    for alarm_id, alarm in resources_of_type(cfn, "AWS::CloudWatch::Alarm").items():
        if "Metrics" not in alarm:
            found[alarm_id] = (
                alarm["Namespace"],
                alarm["MetricName"],
                {d["Name"]: d["Value"] for d in alarm["Dimensions"]},
                alarm.get("Statistic") or alarm["ExtendedStatistic"],
            )
            continue
        stats = [m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m]
        dimensions: dict[str, Any] = {}
        for stat in stats:
            for dimension in stat["Metric"]["Dimensions"]:
                dimensions.setdefault(dimension["Name"], []).append(dimension["Value"])
        (namespace,) = {stat["Metric"]["Namespace"] for stat in stats}
        (statistic,) = {stat["Stat"] for stat in stats}
        names = "+".join(sorted({stat["Metric"]["MetricName"] for stat in stats}))
        found[alarm_id] = (namespace, names, dimensions, statistic)
    return found


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
    (api,) = resources_of_type(cfn, "AWS::ApiGateway::RestApi").values()
    assert api["Body"]["info"]["title"] == STACK_NAME
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
    # The API function's, on the alias API Gateway invokes.
    for alarm_id in ("ApiErrorsAlarm", "ApiThrottlesAlarm"):
        assert alarm_metrics(cfn)[alarm_id][2] == {
            "FunctionName": {"Ref": "ApiFunction"},
            "Resource": {"Fn::Sub": "${ApiFunction}:live"},
        }
    # A notification lost to either of the notifier's last resorts.
    assert alarm_metrics(cfn)["WebhookDeadLetterQueueAlarm"][2] == {
        "QueueName": [
            {"Fn::GetAtt": [queue_id, "QueueName"]}
            for queue_id in ("WebhookDeliveryDeadLetterQueue", "NotifierStreamFailureQueue")
        ]
    }


def test_the_dynamodb_alarm_sums_the_throttles_of_every_table(cfn: dict[str, Any]) -> None:
    alarm = props(cfn, "DynamoDBThrottlesAlarm")
    [expression] = [m for m in alarm["Metrics"] if "Expression" in m]
    stats = [m for m in alarm["Metrics"] if "MetricStat" in m]
    # An alarm's metric math takes ten metrics at most: the webhook tables' throttles show as the
    # notifier's retried errors and on the dashboard (ADR 0010, webhooks from the table stream).
    tables = set(resources_of_type(cfn, "AWS::DynamoDB::Table")) - {
        "WebhooksTable",
        "WebhookDeliveriesTable",
    }

    assert len(stats) <= 10
    assert expression["Expression"] == "SUM(METRICS())"
    assert expression["ReturnData"] is True
    assert all(m["ReturnData"] is False for m in stats)
    watched = {
        (
            m["MetricStat"]["Metric"]["MetricName"],
            m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"],
        )
        for m in stats
    }
    assert watched == {(event, table) for event in THROTTLE_EVENTS for table in tables}


def test_the_gateways_429s_are_counted_from_its_access_log(cfn: dict[str, Any]) -> None:
    metric_filter = props(cfn, "GatewayThrottledMetricFilter")
    (transformation,) = metric_filter["MetricTransformations"]
    log_format = props(cfn, "ApiStage")["AccessLogSetting"]["Format"]["Fn::Sub"]
    line = json.loads(
        log_format.replace("$context.status", "429").replace("$context.responseLatency", "3")
    )

    assert metric_filter["LogGroupName"] == {"Ref": "ApiAccessLogGroup"}
    assert metric_filter["FilterPattern"] == "{ $.status = 429 }"
    assert line["status"] == 429
    assert transformation["MetricNamespace"] == NAMESPACE
    assert transformation["MetricName"] == Metric.GATEWAY_THROTTLED
    # The dimension every metric of the namespace has: the stack's name, which the line carries.
    assert transformation["Dimensions"] == [{"Key": SERVICE_DIMENSION, "Value": "$.service"}]
    assert line[SERVICE_DIMENSION] == "${AWS::StackName}"


@pytest.mark.parametrize("alarm_id", sorted(set(ALARMS) - CANARY_ALARMS))
def test_every_paging_alarm_notifies_the_deployers_topic_or_the_stacks_own(
    cfn: dict[str, Any], alarm_id: str
) -> None:
    alarm = props(cfn, alarm_id)
    assert alarm["AlarmActions"] == NOTIFY_TOPIC
    assert alarm["OKActions"] == NOTIFY_TOPIC
    assert alarm["TreatMissingData"] == "notBreaching"


def test_the_stacks_own_topic_exists_without_the_deployers_and_mails_the_given_address(
    cfn: dict[str, Any],
) -> None:
    parameter = cfn["Parameters"]["AlarmTopicArn"]
    assert parameter["Default"] == ""
    assert re.fullmatch(parameter["AllowedPattern"], "")
    assert re.fullmatch(parameter["AllowedPattern"], "arn:aws:sns:us-east-1:123456789012:ops")
    email = cfn["Parameters"]["AlarmEmail"]
    assert re.fullmatch(email["AllowedPattern"], "ops@example.com")
    assert not re.fullmatch(email["AllowedPattern"], "not an address")
    assert cfn["Resources"]["AlarmTopic"]["Condition"] == "CreatesAlarmTopic"
    subscription = cfn["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "MailsAlarms"
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "AlarmTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlarmEmail"},
    }
    for parameters, topic, mailed in [
        ({"AlarmTopicArn": "", "AlarmEmail": ""}, True, False),
        ({"AlarmTopicArn": "", "AlarmEmail": "ops@example.com"}, True, True),
        (
            {"AlarmTopicArn": "arn:aws:sns:us-east-1:123456789012:ops", "AlarmEmail": ""},
            False,
            False,
        ),
    ]:
        conditions = Conditions(cfn, parameters)
        assert conditions["CreatesAlarmTopic"] is topic
        assert conditions["MailsAlarms"] is mailed


@pytest.mark.parametrize(
    ("environment", "topic", "email", "allowed"),
    [
        ("production", "", "", False),
        ("production", "", "ops@example.com", True),
        ("production", "arn:aws:sns:us-east-1:123456789012:ops", "", True),
        ("staging", "", "", True),
        ("development", "", "", True),
    ],
)
def test_a_production_stack_without_an_alarm_destination_is_refused_saying_why(
    cfn: dict[str, Any], environment: str, topic: str, email: str, allowed: bool
) -> None:
    parameters = {"DeploymentEnvironment": environment, "AlarmTopicArn": topic, "AlarmEmail": email}
    rule = cfn["Rules"]["ProductionAlarmsReachSomeone"]
    conditions = Conditions(cfn, parameters)

    applies = conditions.value(rule["RuleCondition"])
    holds = all(conditions.value(assertion["Assert"]) for assertion in rule["Assertions"])

    assert (not applies or holds) is allowed
    assert "AlarmTopicArn" in rule["Assertions"][0]["AssertDescription"]
    assert "AlarmEmail" in rule["Assertions"][0]["AssertDescription"]


class Conditions:
    """The template's conditions and rules, evaluated for the given parameter values (the rest
    their defaults), as CloudFormation evaluates them."""

    def __init__(self, cfn: dict[str, Any], parameters: dict[str, str]) -> None:
        self._cfn = cfn
        self._parameters = {
            name: str(parameter.get("Default", "")) for name, parameter in cfn["Parameters"].items()
        } | parameters

    def __getitem__(self, name: str) -> bool:
        return bool(self.value(self._cfn["Conditions"][name]))

    def value(self, node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        ((function, argument),) = node.items()
        if function == "Ref":
            return self._parameters[argument]
        if function == "Condition":
            return self[argument]
        if function == "Fn::Equals":
            left, right = (str(self.value(part)) for part in argument)
            return left == right
        if function == "Fn::Not":
            return not self.value(argument[0])
        if function == "Fn::Or":
            return any(self.value(part) for part in argument)
        if function == "Fn::And":
            return all(self.value(part) for part in argument)
        raise AssertionError(f"no evaluation of {function}")


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
