"""The CloudFormation that template.yaml becomes: keys, limits, retries, alarms, least privilege."""

import json
from typing import Any

import pytest

from local.template import resources_of_type
from tests.infra.conftest import DATA_KEY_ARN, resolved

SECONDS_PER_DAY = 86_400
API_KEY_SCHEME = {"type": "apiKey", "name": "x-api-key", "in": "header"}
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
XRAY_WRITE = "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"
# What SAM attaches for an SQS event source: receive, delete and read the queue's attributes.
SQS_POLLER = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
# What SAM gives CodeDeploy to shift the alias's traffic, read the alarms and invoke the hooks.
CODEDEPLOY_FOR_LAMBDA = "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRoleForLambda"
FUNCTION_ROLES = {
    "ApiFunctionRole",
    "ProcessorFunctionRole",
    "NotifierFunctionRole",
    "PreTrafficHookRole",
}
# What SAM gives a function that reads a DynamoDB stream.
STREAM_READER = "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole"


def get_att(logical_id: str, attribute: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def one(resources: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """The only resource of a mapping of logical id to properties."""
    assert len(resources) == 1, sorted(resources)
    ((logical_id, props),) = resources.items()
    return logical_id, props


def props(cfn: dict[str, Any], logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = cfn["Resources"][logical_id]["Properties"]
    return properties


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


# --- The REST API: every method requires the key, the key is limited by a usage plan ---


def test_every_method_of_the_api_requires_the_api_key(cfn: dict[str, Any]) -> None:
    body = props(cfn, "Api")["Body"]
    assert body["components"]["securitySchemes"] == {"api_key": API_KEY_SCHEME}
    operations = {
        (path, method): operation
        for path, methods in body["paths"].items()
        for method, operation in methods.items()
    }
    assert set(operations) == {
        ("/", "x-amazon-apigateway-any-method"),
        ("/{proxy+}", "x-amazon-apigateway-any-method"),
    }
    for key, operation in operations.items():
        assert operation["security"] == [{"api_key": []}], key


def test_the_api_integrations_invoke_the_snapstart_alias(cfn: dict[str, Any]) -> None:
    alias_id, alias = one(resources_of_type(cfn, "AWS::Lambda::Alias"))
    paths = props(cfn, "Api")["Body"]["paths"]
    for methods in paths.values():
        for operation in methods.values():
            integration = operation["x-amazon-apigateway-integration"]
            assert integration["type"] == "aws_proxy"
            assert f"${{{alias_id}}}/invocations" in integration["uri"]["Fn::Sub"]
    permissions = resources_of_type(cfn, "AWS::Lambda::Permission")
    assert permissions
    for permission in permissions.values():
        assert permission["Principal"] == "apigateway.amazonaws.com"
        assert permission["FunctionName"] == ref(alias_id)
    assert alias["FunctionName"] == ref("ApiFunction")


def test_the_api_has_one_stage_and_not_sams_default_stage(cfn: dict[str, Any]) -> None:
    _, stage = one(resources_of_type(cfn, "AWS::ApiGateway::Stage"))
    assert stage["StageName"] == ref("StageName")
    assert stage["RestApiId"] == ref("Api")
    # Without OpenApiVersion, SAM's deployment also creates a stage named "Stage".
    deployment_id, deployment = one(resources_of_type(cfn, "AWS::ApiGateway::Deployment"))
    assert "StageName" not in deployment
    assert stage["DeploymentId"] == ref(deployment_id)
    assert cfn["Parameters"]["StageName"]["Default"] != "Stage"


def test_the_usage_plan_limits_the_stage_and_holds_the_key(cfn: dict[str, Any]) -> None:
    plan_id, plan = one(resources_of_type(cfn, "AWS::ApiGateway::UsagePlan"))
    stage_id, _ = one(resources_of_type(cfn, "AWS::ApiGateway::Stage"))
    assert plan["ApiStages"] == [{"ApiId": ref("Api"), "Stage": ref(stage_id)}]
    assert plan["Throttle"]["RateLimit"] > 0
    assert plan["Throttle"]["BurstLimit"] >= plan["Throttle"]["RateLimit"]
    # A monthly quota only where the deployment sets one: by default, none.
    assert plan["Quota"] == {
        "Fn::If": [
            "HasUsagePlanQuota",
            {"Limit": ref("UsagePlanMonthlyQuota"), "Period": "MONTH"},
            ref("AWS::NoValue"),
        ]
    }
    assert cfn["Conditions"]["HasUsagePlanQuota"] == {
        "Fn::Not": [{"Fn::Equals": [ref("UsagePlanMonthlyQuota"), 0]}]
    }
    assert cfn["Parameters"]["UsagePlanMonthlyQuota"]["Default"] == 0

    key_id, key = one(resources_of_type(cfn, "AWS::ApiGateway::ApiKey"))
    assert key["Enabled"] is True
    _, plan_key = one(resources_of_type(cfn, "AWS::ApiGateway::UsagePlanKey"))
    assert plan_key == {"KeyId": ref(key_id), "KeyType": "API_KEY", "UsagePlanId": ref(plan_id)}
    assert cfn["Outputs"]["ApiKeyId"]["Value"] == ref(key_id)


def test_the_api_url_output_names_the_api_and_its_stage(cfn: dict[str, Any]) -> None:
    url = cfn["Outputs"]["ApiUrl"]["Value"]["Fn::Sub"]
    assert url.startswith("https://${Api}.execute-api.${AWS::Region}.")
    assert url.endswith("/${StageName}")


# --- The functions ---


@pytest.mark.parametrize(
    ("function_id", "handler", "variables"),
    [
        (
            "ApiFunction",
            "app.main.handler",
            {
                "AGE_GROUPS_TABLE",
                "ENROLLMENTS_TABLE",
                "IDEMPOTENCY_TABLE",
                "CLIENTS_TABLE",
                "STACK_API_KEY_ID",
                "ENROLLMENT_QUEUE_URL",
                "CURSOR_SECRET_ARN",
                "DOCS_ENABLED",
                "SERVICE_NAME",
                "PROCESSING_DELAY_SECONDS",
                "BATCHING_WINDOW_SECONDS",
                "WEBHOOKS_TABLE",
                "WEBHOOK_DELIVERIES_TABLE",
                "WEBHOOK_DELIVERY_QUEUE_URL",
                "CPF_KEY_SECRET_ARN",
                "RETENTION_DAYS",
            },
        ),
        (
            "NotifierFunction",
            "notifier.handler.handler",
            {
                "ENROLLMENTS_TABLE",
                "WEBHOOKS_TABLE",
                "WEBHOOK_DELIVERIES_TABLE",
                "WEBHOOK_DELIVERY_QUEUE_URL",
                "SERVICE_NAME",
            },
        ),
        (
            "ProcessorFunction",
            "processor.handler.handler",
            {
                "ENROLLMENTS_TABLE",
                "PROCESSING_DELAY_SECONDS",
                "API_TIMEOUT_SECONDS",
                "RETENTION_DAYS",
                "SERVICE_NAME",
            },
        ),
        ("PreTrafficHook", "deploy_hooks.pre_traffic.handler", {"NEW_VERSION", "STACK_API_KEY_ID"}),
    ],
)
def test_functions_run_python_3_13_on_arm64_traced_with_json_logs(
    cfn: dict[str, Any], function_id: str, handler: str, variables: set[str]
) -> None:
    function = props(cfn, function_id)
    assert function["Handler"] == handler
    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert function["LoggingConfig"]["LogFormat"] == "JSON"
    assert set(function["Environment"]["Variables"]) == variables
    assert function["Role"] == get_att(f"{function_id}Role", "Arn")


def test_the_api_serves_no_docs(cfn: dict[str, Any]) -> None:
    assert props(cfn, "ApiFunction")["Environment"]["Variables"]["DOCS_ENABLED"] == "false"


def test_the_api_function_restores_from_a_snapstart_snapshot(cfn: dict[str, Any]) -> None:
    assert props(cfn, "ApiFunction")["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    version_id, version = one(resources_of_type(cfn, "AWS::Lambda::Version"))
    assert version["FunctionName"] == ref("ApiFunction")
    _, alias = one(resources_of_type(cfn, "AWS::Lambda::Alias"))
    assert alias["FunctionVersion"] == get_att(version_id, "Version")


def test_the_processor_consumes_the_queue_with_partial_batch_responses(
    cfn: dict[str, Any],
) -> None:
    mapping = props(cfn, "ProcessorFunctionEnrollmentQueue")
    assert mapping["EventSourceArn"] == get_att("EnrollmentQueue", "Arn")
    assert mapping["FunctionName"] == ref("ProcessorFunction")
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 1 <= mapping["BatchSize"] <= 10
    # Lambda's minimum: fewer than 2 concurrent invocations is not a valid maximum.
    assert mapping["ScalingConfig"]["MaximumConcurrency"] >= 2


def test_processing_keeps_up_with_the_rate_the_stage_admits(cfn: dict[str, Any]) -> None:
    # A usage plan limits each client's key alone; the stage's method throttling bounds them all.
    _, stage = one(resources_of_type(cfn, "AWS::ApiGateway::Stage"))
    [settings] = stage["MethodSettings"]
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    mapping = props(cfn, "ProcessorFunctionEnrollmentQueue")
    delay = float(
        props(cfn, "ProcessorFunction")["Environment"]["Variables"]["PROCESSING_DELAY_SECONDS"]
    )
    # The records of a batch run concurrently, so each concurrent invocation clears a batch per
    # delay; below the admitted steady rate, a backlog would only grow.
    per_second = mapping["ScalingConfig"]["MaximumConcurrency"] * mapping["BatchSize"] / delay
    assert per_second >= settings["ThrottlingRateLimit"]


def test_the_processor_timeout_leaves_room_beyond_one_batch(cfn: dict[str, Any]) -> None:
    processor = props(cfn, "ProcessorFunction")
    # The records of a batch run concurrently: a batch takes about one processing delay.
    batch_seconds = int(processor["Environment"]["Variables"]["PROCESSING_DELAY_SECONDS"])
    assert processor["Timeout"] >= 3 * batch_seconds


# --- The queue, its dead-letter queue and the alarm ---


def test_the_queue_hides_a_message_for_six_processor_timeouts(cfn: dict[str, Any]) -> None:
    queue = props(cfn, "EnrollmentQueue")
    assert queue["VisibilityTimeout"] >= 6 * props(cfn, "ProcessorFunction")["Timeout"]


def test_the_queue_dead_letters_a_message_after_five_receives(cfn: dict[str, Any]) -> None:
    assert props(cfn, "EnrollmentQueue")["RedrivePolicy"] == {
        "deadLetterTargetArn": get_att("EnrollmentDeadLetterQueue", "Arn"),
        "maxReceiveCount": 5,
    }


def test_the_dead_letter_queue_keeps_messages_for_14_days(cfn: dict[str, Any]) -> None:
    dead_letters = props(cfn, "EnrollmentDeadLetterQueue")
    assert dead_letters["MessageRetentionPeriod"] == 14 * SECONDS_PER_DAY
    assert "RedrivePolicy" not in dead_letters


def test_every_queue_is_encrypted_at_rest(cfn: dict[str, Any]) -> None:
    queues = resources_of_type(cfn, "AWS::SQS::Queue")
    assert set(queues) == {
        "EnrollmentQueue",
        "EnrollmentDeadLetterQueue",
        "WebhookDeliveryQueue",
        "WebhookDeliveryDeadLetterQueue",
        "NotifierStreamFailureQueue",
    }
    for queue in queues.values():
        assert queue["SqsManagedSseEnabled"] is True


def test_an_alarm_fires_when_the_dead_letter_queue_is_not_empty(cfn: dict[str, Any]) -> None:
    alarm = props(cfn, "EnrollmentDeadLetterQueueAlarm")
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": get_att("EnrollmentDeadLetterQueue", "QueueName")}
    ]
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Threshold"] == 0
    assert alarm["TreatMissingData"] == "notBreaching"


# --- The tables ---


def test_tables_are_on_demand_with_point_in_time_recovery(cfn: dict[str, Any]) -> None:
    tables = resources_of_type(cfn, "AWS::DynamoDB::Table")
    assert set(tables) == {
        "AgeGroupsTable",
        "EnrollmentsTable",
        "IdempotencyTable",
        "ClientsTable",
        "WebhooksTable",
        "WebhookDeliveriesTable",
    }
    for table in tables.values():
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_the_cursor_key_is_generated_and_only_the_api_may_read_it(cfn: dict[str, Any]) -> None:
    secret = props(cfn, "CursorSecret")
    api = props(cfn, "ApiFunction")

    # Made by Secrets Manager, never written in the template: 64 characters of 62, 381 bits.
    assert "SecretString" not in secret
    assert secret["GenerateSecretString"]["PasswordLength"] >= 32
    # The function is given where it is, not what it is.
    assert api["Environment"]["Variables"]["CURSOR_SECRET_ARN"] == {"Ref": "CursorSecret"}
    readers = [
        role_id
        for role_id in resources_of_type(cfn, "AWS::IAM::Role")
        if "CursorSecret" in json.dumps(props(cfn, role_id).get("Policies", []))
    ]
    assert readers == ["ApiFunctionRole"]


def test_idempotency_records_expire_through_their_ttl_attribute(cfn: dict[str, Any]) -> None:
    from app.adapters.tables import EXPIRY_ATTRIBUTE

    table = props(cfn, "IdempotencyTable")
    assert table["TimeToLiveSpecification"] == {"AttributeName": EXPIRY_ATTRIBUTE, "Enabled": True}
    environment = props(cfn, "ApiFunction")["Environment"]["Variables"]
    assert environment["IDEMPOTENCY_TABLE"] == ref("IdempotencyTable")


# --- Least privilege ---


def inline_grants(cfn: dict[str, Any], role_id: str) -> set[tuple[str, str]]:
    """Every (action, resource) that a role's inline policies allow; resources as their JSON."""
    grants: set[tuple[str, str]] = set()
    for policy in props(cfn, role_id).get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}
            resources = statement["Resource"]
            for resource in resources if isinstance(resources, list) else [resources]:
                for action in as_list(statement["Action"]):
                    grants.add((action, repr(resource)))
    return grants


# What each inline policy grants is proven by the calls themselves: tests/infra/test_iam_calls.py.


def test_the_roles_managed_policies_are_logs_tracing_and_the_queue_poller(
    cfn: dict[str, Any],
) -> None:
    assert props(cfn, "ApiFunctionRole")["ManagedPolicyArns"] == [BASIC_EXECUTION, XRAY_WRITE]
    assert props(cfn, "ProcessorFunctionRole")["ManagedPolicyArns"] == [
        BASIC_EXECUTION,
        XRAY_WRITE,
        SQS_POLLER,
    ]
    assert props(cfn, "NotifierFunctionRole")["ManagedPolicyArns"] == [
        BASIC_EXECUTION,
        XRAY_WRITE,
        SQS_POLLER,
        STREAM_READER,
    ]
    assert props(cfn, "PreTrafficHookRole")["ManagedPolicyArns"] == [BASIC_EXECUTION, XRAY_WRITE]
    # SAM's role for CodeDeploy: the managed policy alone, nothing of ours.
    assert props(cfn, "CodeDeployServiceRole")["ManagedPolicyArns"] == [CODEDEPLOY_FOR_LAMBDA]
    assert "Policies" not in props(cfn, "CodeDeployServiceRole")


@pytest.mark.parametrize("data_key", ["", DATA_KEY_ARN])
def test_no_inline_policy_uses_a_wildcard(cfn: dict[str, Any], data_key: str) -> None:
    deployed = resolved(cfn, DataKmsKeyArn=data_key)
    roles = resources_of_type(deployed, "AWS::IAM::Role")
    assert set(roles) == FUNCTION_ROLES | {"CodeDeployServiceRole", "ApiGatewayCloudWatchRole"}
    for role_id in FUNCTION_ROLES:
        for action, resource in inline_grants(deployed, role_id):
            assert "*" not in action, (role_id, action)
            assert "*" not in resource, (role_id, resource)


def test_only_lambda_can_assume_the_functions_roles_and_codedeploy_its_own(
    cfn: dict[str, Any],
) -> None:
    roles = resources_of_type(cfn, "AWS::IAM::Role")
    # API Gateway's own role has a test of its own, below.
    for role_id in set(roles) - {"ApiGatewayCloudWatchRole"}:
        (statement,) = roles[role_id]["AssumeRolePolicyDocument"]["Statement"]
        service = "lambda" if role_id in FUNCTION_ROLES else "codedeploy"
        assert statement["Principal"] == {"Service": [f"{service}.amazonaws.com"]}, role_id
        assert statement["Action"] == ["sts:AssumeRole"]


def test_api_gateway_logs_through_a_retained_role_that_may_only_write_logs(
    cfn: dict[str, Any],
) -> None:
    role = cfn["Resources"]["ApiGatewayCloudWatchRole"]
    account = cfn["Resources"]["ApiGatewayAccount"]
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]

    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert role["Properties"]["ManagedPolicyArns"] == [
        {
            "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs"
        }
    ]
    assert "Policies" not in role["Properties"]
    assert account["Properties"] == {
        "CloudWatchRoleArn": {"Fn::GetAtt": ["ApiGatewayCloudWatchRole", "Arn"]}
    }
    # Another API of the account may log through them: a deletion leaves both.
    for resource in (role, account):
        assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
    # The stage is created once the account names the role (the deployment follows the API).
    assert cfn["Resources"]["Api"]["DependsOn"] == "ApiGatewayAccount"


ACCESS_LOG_FIELDS = {
    "requestId",
    "extendedRequestId",
    "apiKeyId",
    "httpMethod",
    "resourcePath",
    "status",
    "responseLatency",
    "integrationLatency",
    "errorResponseType",
}


def test_the_stage_logs_each_request_as_json_without_key_or_body(cfn: dict[str, Any]) -> None:
    setting = props(cfn, "ApiStage")["AccessLogSetting"]
    log_format = setting["Format"]["Fn::Sub"]
    line = json.loads(
        log_format.replace("$context.status", "200").replace("$context.responseLatency", "12")
    )

    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    assert line.keys() >= ACCESS_LOG_FIELDS
    assert line["apiKeyId"] == "$context.identity.apiKeyId"
    # Never the key's value, a body, or anything of the request beyond its line.
    for secret in ('$context.identity.apiKey"', "requestBody", "$input.body", "caller"):
        assert secret not in log_format


@pytest.mark.parametrize(
    ("group", "function"),
    [
        ("ApiFunctionLogGroup", "ApiFunction"),
        ("ProcessorFunctionLogGroup", "ProcessorFunction"),
        ("PreTrafficHookLogGroup", "PreTrafficHook"),
        ("ApiAccessLogGroup", None),
    ],
)
def test_every_log_group_keeps_its_lines_as_long_as_the_parameter_says(
    cfn: dict[str, Any], group: str, function: str | None
) -> None:
    assert props(cfn, group)["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    parameter = cfn["Parameters"]["LogRetentionDays"]
    assert parameter["Default"] == 30
    assert parameter["Default"] in parameter["AllowedValues"]
    if function is not None:
        assert props(cfn, function)["LoggingConfig"]["LogGroup"] == {"Ref": group}


def test_every_log_group_of_the_stack_has_a_retention(cfn: dict[str, Any]) -> None:
    for group in resources_of_type(cfn, "AWS::Logs::LogGroup").values():
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_api_gateways_own_answers_carry_the_request_id(cfn: dict[str, Any]) -> None:
    _, api = one(resources_of_type(cfn, "AWS::ApiGateway::RestApi"))
    responses = api["Body"]["x-amazon-apigateway-gateway-responses"]

    for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
        parameters = responses[kind]["responseParameters"]
        assert parameters["gatewayresponse.header.X-Request-Id"] == "context.requestId"
