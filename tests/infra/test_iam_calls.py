"""Least privilege, proven by the calls themselves.

Every AWS call that the four handlers make in a full run (app.main.handler with API Gateway's
events, processor.handler.handler with the queue's messages as Lambda delivers them,
notifier.handler.handler with the enrollments table's stream records and its delivery jobs, and
the PreTraffic hook as CodeDeploy invokes it, its Invoke of the new version answered in process by
the API's handler) is recorded through botocore's event hooks, turned into the IAM actions and
resources AWS authorizes it with, and evaluated against the function's policy in template.yaml,
its intrinsics resolved to the ARNs that moto created (and, for what moto has no part in, the
version, the CodeDeploy application and deployment group, the names CloudFormation would give).
Every call must be allowed, and every action granted must be used by the run (those used only
when something fails are named, with the failure that uses them). The API's requests are its
operations' declared samples (app/api/operations.py), so a new route is in the run once it is
declared, beside a client's key and a failing publish.

moto's own IAM enforcement cannot show this: it checks DynamoDB against resource `*` only, and
checks TransactWriteItems as an action, which real IAM does not have.
"""

import asyncio
import fnmatch
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from app.adapters.aws import get_dynamodb_client, get_secretsmanager_client, get_sqs_client
from app.adapters.tables import TABLES
from app.api.factory import samples
from app.domain.clients import DEFAULT_SCOPES
from app.entrypoints.events import SAMPLE_API_KEY_ID, rest_event
from bench.calls import SampleState
from deploy_hooks.clients import get_codedeploy_client, get_lambda_client
from local.aws_shapes import LambdaContext
from local.template import Stack, resources_of_type
from tests.app.faults import answering, throttled_response
from tests.aws_events import load_event
from tests.conftest import VALID_CPF, add_client, queued_event
from tests.deploy_hooks.conftest import clear_hook_providers
from tests.deploy_hooks.lambda_stand_in import answering_invoke
from tests.infra.conftest import DATA_KEY_ARN, resolved

pytestmark = pytest.mark.usefixtures("event_loop_as_on_lambda")

API = "ApiFunction"
PROCESSOR = "ProcessorFunction"
NOTIFIER = "NotifierFunction"
HOOK = "PreTrafficHook"
FUNCTIONS = [API, PROCESSOR, NOTIFIER, HOOK]
# The grants that only a failure uses, and the failure of the run that uses them.
FAILURE_PATHS = {
    (API, "dynamodb:DeleteItem", "IdempotencyTable"): (
        "a keyed request whose publish fails gives up its idempotency claim"
    ),
}
# The grants that Lambda's event source mappings use with the function's role, not its code; SAM
# adds them for the event source's configuration.
MAPPING_GRANTS = {
    (NOTIFIER, "sqs:SendMessage", "NotifierStreamFailureQueue"): (
        "the stream mapping sends a record the notifier failed on past its retries"
    ),
}
# DynamoDB operations on one table, each authorized as the action of its own name.
SINGLE_TABLE_OPERATIONS = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan"}
# The action of each kind of item of a transaction, checked on that item's own table.
TRANSACT_WRITE_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
# The SQS actions that authorize each operation (a batch needs the action of one message).
SQS_ACTIONS = {"SendMessage": "SendMessage", "SendMessageBatch": "SendMessage"}
# The names CloudFormation gives what moto does not create: "<stack>-<logical id>-<suffix>".
VERSION_NUMBER = "7"


@dataclass(frozen=True)
class Call:
    """One AWS API call, as a handler made it."""

    function: str
    scenario: str
    service: str
    operation: str
    params: str  # JSON, so that the call can be a set member and be shown


@dataclass(frozen=True)
class Authorization:
    """One action on one resource that IAM checks for a call; `via`, the service that makes the
    request on the caller's behalf (KMS's `kms:ViaService`), if one does."""

    action: str
    resource: str
    via: str = ""


@dataclass
class Recorder:
    """Records the calls of the process's cached clients, naming the function and scenario."""

    function: str = ""
    scenario: str = ""
    calls: list[Call] = field(default_factory=list)

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append(
            Call(
                self.function,
                self.scenario,
                model.service_model.service_name,
                model.name,
                json.dumps(params, sort_keys=True, default=str),
            )
        )

    @contextmanager
    def acting_as(self, function: str) -> Iterator[None]:
        """Name `function` for the calls made inside: one function's code run inside another's
        invocation (the API answering the hook's Invoke, in this process)."""
        outer = self.function
        self.function = function
        try:
            yield
        finally:
            self.function = outer


@dataclass(frozen=True)
class Account:
    """Where the calls go: what an ARN of the emulated account starts with."""

    region: str
    account: str
    # Each CodeDeploy deployment of the run, and the ARN of the deployment group it belongs to.
    deployment_groups: dict[str, str] = field(default_factory=dict)

    def function_arn(self, name: str, qualifier: str | None = None) -> str:
        # A function is named by its name or by its ARN, qualified or not.
        arn = (
            name
            if name.startswith("arn:")
            else (f"arn:aws:lambda:{self.region}:{self.account}:function:{name}")
        )
        return f"{arn}:{qualifier}" if qualifier else arn

    def table_arn(self, table_name: str) -> str:
        return f"arn:aws:dynamodb:{self.region}:{self.account}:table/{table_name}"

    def queue_arn(self, queue_url: str) -> str:
        # https://sqs.<region>.amazonaws.com/<account>/<name>, or the emulator's equivalent.
        account, name = queue_url.rstrip("/").split("/")[-2:]
        return f"arn:aws:sqs:{self.region}:{account}:{name}"


def authorizations(call: Call, account: Account) -> list[Authorization]:
    """What IAM authorizes `call` with: an action and a resource for each thing it touches."""
    params = json.loads(call.params)
    if call.service == "dynamodb":
        if call.operation in SINGLE_TABLE_OPERATIONS:
            resource = account.table_arn(params["TableName"])
            if "IndexName" in params:
                resource += f"/index/{params['IndexName']}"
            return [Authorization(f"dynamodb:{call.operation}", resource)]
        if call.operation == "TransactWriteItems":
            found = []
            for item in params["TransactItems"]:
                ((kind, write),) = item.items()
                action = f"dynamodb:{TRANSACT_WRITE_ACTIONS[kind]}"
                found.append(Authorization(action, account.table_arn(write["TableName"])))
            return found
        if call.operation == "TransactGetItems":
            return [
                Authorization("dynamodb:GetItem", account.table_arn(item["Get"]["TableName"]))
                for item in params["TransactItems"]
            ]
    if call.service == "secretsmanager" and call.operation == "GetSecretValue":
        return [Authorization("secretsmanager:GetSecretValue", params["SecretId"])]
    if call.service == "sqs" and call.operation in SQS_ACTIONS:
        return [
            Authorization(
                f"sqs:{SQS_ACTIONS[call.operation]}", account.queue_arn(params["QueueUrl"])
            )
        ]
    if call.service == "secretsmanager" and call.operation == "GetSecretValue":
        # The function is given the secret's ARN, as CloudFormation's `!Ref` of it is.
        return [Authorization("secretsmanager:GetSecretValue", params["SecretId"])]
    if call.service == "lambda" and call.operation == "Invoke":
        arn = account.function_arn(params["FunctionName"], params.get("Qualifier"))
        return [Authorization("lambda:InvokeFunction", arn)]
    if call.service == "codedeploy" and call.operation == "PutLifecycleEventHookExecutionStatus":
        group = account.deployment_groups[params["deploymentId"]]
        return [Authorization("codedeploy:PutLifecycleEventHookExecutionStatus", group)]
    raise AssertionError(f"No IAM mapping for {call.service}:{call.operation}: add one")


# --- The template's policies, resolved to the emulated stack ---


def resolve(value: Any, stack: Stack, account: Account) -> str:
    """A policy's resource: a string, or `Ref`, `Fn::GetAtt` or `Fn::Sub` of the stack."""
    pseudo = {
        "AWS::Region": account.region,
        "AWS::AccountId": account.account,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackName": stack.name,
    }
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return pseudo.get(value["Ref"]) or stack.refs[value["Ref"]]
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return stack.attributes[(logical_id, attribute)]
    if "Fn::Sub" in value:
        text, variables = (
            (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
        )

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return resolve(variables[name], stack, account)
            if name in pseudo:
                return pseudo[name]
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return stack.attributes[(logical_id, attribute)]
            return stack.refs[name]

        return re.sub(r"\$\{([^}!]+)\}", substitute, text)
    raise AssertionError(f"Cannot resolve {value!r}")


@dataclass(frozen=True)
class Grant:
    """An action on a resource that a statement of a role's inline policies allows; with `via`,
    only through those services (`kms:ViaService`)."""

    action: str
    resource: str
    logical_id: str  # the resource's logical id in the template, for messages
    via: frozenset[str] = frozenset()


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def code_grants(
    cfn: dict[str, Any], function_id: str, stack: Stack, account: Account, data_key: str = ""
) -> list[Grant]:
    """What the function's role allows its code: all but what an event source mapping uses."""
    return [
        grant
        for grant in grants(cfn, function_id, stack, account, data_key)
        if (function_id, grant.action, grant.logical_id) not in MAPPING_GRANTS
    ]


def grants(
    cfn: dict[str, Any], function_id: str, stack: Stack, account: Account, data_key: str = ""
) -> list[Grant]:
    """What the function's role allows through its inline policies, resolved, in a stack
    deployed with `data_key` as its DataKmsKeyArn."""
    deployed = resolved(cfn, DataKmsKeyArn=data_key)
    stack = Stack(stack.refs | {"DataKmsKeyArn": data_key}, stack.attributes, stack.name)
    role = deployed["Resources"][f"{function_id}Role"]["Properties"]
    found = []
    for policy in role.get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            # Nothing to weigh against: the policies hold allows only.
            assert statement["Effect"] == "Allow", statement
            conditions = statement.get("Condition", {})
            # The one condition the policies use: the key's use through named services.
            assert set(conditions) <= {"StringEquals"}, conditions
            assert set(conditions.get("StringEquals", {})) <= {"kms:ViaService"}, conditions
            via = frozenset(
                resolve(service, stack, account)
                for service in as_list(conditions.get("StringEquals", {}).get("kms:ViaService", []))
            )
            for resource in as_list(statement["Resource"]):
                logical_id = (
                    resource["Fn::GetAtt"][0]
                    if isinstance(resource, dict) and "Fn::GetAtt" in resource
                    else str(resource)
                )
                for action in as_list(statement["Action"]):
                    found.append(Grant(action, resolve(resource, stack, account), logical_id, via))
    return found


def allows(grant: Grant, needed: Authorization) -> bool:
    """Whether the grant covers the authorization (IAM's wildcards; actions ignore case; a
    grant through named services only covers a request one of them makes)."""
    return (
        fnmatch.fnmatch(needed.action.lower(), grant.action.lower())
        and fnmatch.fnmatchcase(needed.resource, grant.resource)
        and (not grant.via or needed.via in grant.via)
    )


def data_key_uses(
    cfn: dict[str, Any], stack: Stack, account: Account, data_key: str
) -> dict[str, str]:
    """Each resource the stack encrypts with `data_key`, by ARN, and the service that decrypts
    with it on a caller's behalf (the KMS docs of DynamoDB and Secrets Manager)."""
    deployed = resolved(cfn, DataKmsKeyArn=data_key)
    uses = {}
    for logical_id, props in resources_of_type(deployed, "AWS::DynamoDB::Table").items():
        if props.get("SSESpecification", {}).get("KMSMasterKeyId", {}) == {"Ref": "DataKmsKeyArn"}:
            uses[account.table_arn(stack.refs[logical_id])] = "dynamodb"
    for logical_id, props in resources_of_type(deployed, "AWS::SecretsManager::Secret").items():
        if props.get("KmsKeyId") == {"Ref": "DataKmsKeyArn"}:
            uses[stack.refs[logical_id]] = "secretsmanager"
    return uses


# --- The run ---


@dataclass
class Run:
    """A full run of both handlers on the emulated stack: what each called."""

    calls: list[Call]
    account: Account
    stack: Stack

    def needed(
        self, function_id: str, data_key: str = "", cfn: dict[str, Any] | None = None
    ) -> dict[Authorization, list[Call]]:
        """Each authorization the function's calls needed, with the calls that needed it; in a
        stack with `data_key` (its template `cfn`), also the key's use on each resource it
        encrypts, by the service that decrypts with it."""
        encrypted = data_key_uses(cfn, self.stack, self.account, data_key) if cfn else {}
        region = self.account.region
        found: dict[Authorization, list[Call]] = {}
        for call in self.calls:
            if call.function == function_id:
                for authorization in authorizations(call, self.account):
                    found.setdefault(authorization, []).append(call)
                    service = encrypted.get(authorization.resource.split("/index/")[0])
                    if data_key and service:
                        via = f"{service}.{region}.amazonaws.com"
                        key_use = Authorization("kms:Decrypt", data_key, via)
                        found.setdefault(key_use, []).append(call)
        return found


def invoke(
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    api_key_id: str = SAMPLE_API_KEY_ID,
) -> tuple[int, dict[str, str], Any]:
    from app.main import handler

    event = rest_event(method, path, body, headers, api_key_id=api_key_id)
    response = handler(event, LambdaContext())
    return response["statusCode"], response["headers"], json.loads(response["body"] or "null")


def api_scenarios(recorder: Recorder, stack: Stack) -> None:
    """Every operation's declared samples, each served for real on what it finds; a client's
    key; and a failing publish."""

    def scenario(name: str) -> None:
        recorder.function, recorder.scenario = API, name

    table_names = {spec.logical_id: stack.refs[spec.logical_id] for spec in TABLES}
    for declared in samples():
        sample = declared.sample
        # Put in place untold: the run records the API's calls alone.
        SampleState(sample, boto3.client("dynamodb"), table_names).reset()
        scenario(declared.name)
        status, _, body = invoke(sample.method, sample.path, sample.body, dict(sample.headers))
        assert status == sample.status, (declared.name, body)

    enrollment = {"name": "Ana", "age": 20, "cpf": VALID_CPF}
    scenario("a client's key: its record read once, then its own enrollment, and its lists")
    add_client("partner-key-id", DEFAULT_SCOPES)
    status, _, own = invoke("POST", "/enrollments", enrollment, api_key_id="partner-key-id")
    assert status == 202, own
    path = f"/enrollments/{own['enrollment_id']}"
    assert invoke("GET", path, api_key_id="partner-key-id")[0] == 200
    for listed in ("/enrollments", "/enrollments?status=PENDING"):
        status, _, page = invoke("GET", listed, api_key_id="partner-key-id")
        assert (status, [item["enrollment_id"] for item in page["items"]]) == (
            200,
            [own["enrollment_id"]],
        )

    scenario(FAILURE_PATHS[(API, "dynamodb:DeleteItem", "IdempotencyTable")])
    attempts: list[str] = []
    sqs_events = get_sqs_client().meta.events
    hook: Callable[..., Any] = answering(lambda: throttled_response("sqs"), attempts)
    sqs_events.register_first("before-send.sqs.SendMessage", hook)
    try:
        status, _, failed = invoke("POST", "/enrollments", enrollment, {"Idempotency-Key": "enr-3"})
    finally:
        sqs_events.unregister("before-send.sqs.SendMessage", hook)
    assert status == 503, failed
    assert attempts


def processor_scenarios(recorder: Recorder, stack: Stack) -> None:
    """The queued messages, as Lambda delivers them, processed; then delivered again."""
    from processor.handler import handler

    event = queued_event(stack)
    # The samples' enrollments and the client's (the failed publish queued nothing).
    assert len(event["Records"]) >= 2
    recorder.function, recorder.scenario = PROCESSOR, "process a batch"
    assert handler(event, LambdaContext()) == {"batchItemFailures": []}
    recorder.scenario = "a batch delivered again"
    assert handler(event, LambdaContext()) == {"batchItemFailures": []}


def notifier_scenarios(recorder: Recorder, stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stream's records of the processed enrollments, then their delivery jobs: a first
    attempt that fails and is queued again, and its retry, which is delivered."""
    from app.config import get_api_settings, get_notifier_settings
    from notifier.handler import handler
    from tests.webhooks import receiver

    # A receiver on this machine, and no wait before a retry.
    monkeypatch.setenv("WEBHOOK_ALLOW_LOOPBACK_HTTP", "true")
    monkeypatch.setenv("WEBHOOK_RETRY_DELAYS", "0")
    get_api_settings.cache_clear()
    get_notifier_settings.cache_clear()
    answers: Iterator[tuple[int, dict[str, str]]] = iter([(500, {}), (204, {})])
    with receiver() as endpoint:
        endpoint.answer = lambda delivery: next(answers, (204, {}))
        recorder.function = "the run's own setup"
        asyncio.set_event_loop(asyncio.new_event_loop())
        assert invoke("PUT", "/webhook", {"url": endpoint.url})[0] == 200

        recorder.function, recorder.scenario = NOTIFIER, "the stream's changes: their jobs queued"
        changes = stream_changes(stack)
        assert changes["Records"]
        assert handler(changes, LambdaContext()) == {"batchItemFailures": []}
        recorder.scenario = "a first attempt fails: the endpoint failing, the retry queued"
        jobs = queued_event(stack, "WebhookDeliveryQueue")
        assert handler(jobs, LambdaContext()) == {"batchItemFailures": []}
        recorder.scenario = "the retry is delivered: the endpoint no longer failing"
        assert handler(queued_event(stack, "WebhookDeliveryQueue"), LambdaContext()) == {
            "batchItemFailures": []
        }
        # Each event once, and the one that failed once more, with its webhook-id.
        sent = [delivery.headers["webhook-id"] for delivery in endpoint.wait_for(3, timeout=5)]
        assert len(sent) == len(set(sent)) + 1


def stream_changes(stack: Stack) -> dict[str, Any]:
    """The enrollments table's stream records, as the notifier's mapping hands them over."""
    from local.stream import lambda_record

    arn = stack.attributes[("EnrollmentsTable", "StreamArn")]
    streams = boto3.client("dynamodbstreams")
    (shard,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = [
        lambda_record(r, arn) for r in streams.get_records(ShardIterator=iterator)["Records"]
    ]
    return {"Records": [r for r in records if r["eventName"] == "MODIFY"]}


def hook_scenarios(recorder: Recorder, stack: Stack) -> None:
    """CodeDeploy's invocation of the PreTraffic hook, the new version answering its requests."""
    from app.main import handler as api_handler
    from deploy_hooks.pre_traffic import SUCCEEDED
    from deploy_hooks.pre_traffic import handler as hook_handler

    def new_version(event: dict[str, Any], context: Any) -> Any:
        # The API's own calls, though made in this process, are the API's role's to authorize.
        with recorder.acting_as(API):
            return api_handler(event, context)

    lifecycle_event = load_event("codedeploy_lifecycle_hook.json")
    recorder.function, recorder.scenario = HOOK, "check the new version before its traffic"
    with (
        answering_invoke(get_lambda_client(), new_version) as invoked,
        Stubber(get_codedeploy_client()) as codedeploy,
    ):
        codedeploy.add_response(
            "put_lifecycle_event_hook_execution_status",
            {"lifecycleEventHookExecutionId": lifecycle_event["LifecycleEventHookExecutionId"]},
        )
        assert hook_handler(lifecycle_event, LambdaContext()) == SUCCEEDED
        codedeploy.assert_no_pending_responses()
    assert invoked.invoked


def names_cloudformation_gives(
    cfn: dict[str, Any], stack: Stack, account: Account, monkeypatch: pytest.MonkeyPatch
) -> Account:
    """The API's version, the CodeDeploy application and deployment group, as the stack's refs;
    the hook's environment set to them; the account, knowing the run's deployment."""
    (version_id,) = resources_of_type(cfn, "AWS::Lambda::Version")
    function_arn = account.function_arn(f"{stack.name}-ApiFunction-1A2B3C4D5E6F")
    stack.refs[version_id] = f"{function_arn}:{VERSION_NUMBER}"
    application = f"{stack.name}-ServerlessDeploymentApplication-7G8H9I0J1K2L"
    group = f"{stack.name}-ApiFunctionDeploymentGroup-3M4N5O6P7Q8R"
    stack.refs["ServerlessDeploymentApplication"] = application
    stack.refs["ApiFunctionDeploymentGroup"] = group
    monkeypatch.setenv("NEW_VERSION", stack.refs[version_id])
    monkeypatch.setenv("STACK_API_KEY_ID", stack.refs["StackApiKey"])
    clear_hook_providers()
    deployment_id = load_event("codedeploy_lifecycle_hook.json")["DeploymentId"]
    group_arn = (
        f"arn:aws:codedeploy:{account.region}:{account.account}:deploymentgroup:"
        f"{application}/{group}"
    )
    return Account(account.region, account.account, {deployment_id: group_arn})


@pytest.fixture
def run(stack: Stack, cfn: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    """The four handlers' calls in a full run on the stack of template.yaml."""
    sts = boto3.client("sts")
    account = Account(get_dynamodb_client().meta.region_name, sts.get_caller_identity()["Account"])
    account = names_cloudformation_gives(cfn, stack, account, monkeypatch)
    recorder = Recorder()
    clients: list[Any] = [
        get_dynamodb_client(),
        get_sqs_client(),
        get_secretsmanager_client(),
        get_lambda_client(),
        get_codedeploy_client(),
    ]
    for client in clients:
        client.meta.events.register("provide-client-params", recorder)
    try:
        api_scenarios(recorder, stack)
        # Before the processor's: its asyncio.run() leaves no event loop for Mangum's next run.
        hook_scenarios(recorder, stack)
        processor_scenarios(recorder, stack)
        notifier_scenarios(recorder, stack, monkeypatch)
    finally:
        for client in clients:
            client.meta.events.unregister("provide-client-params", recorder)
    yield Run(recorder.calls, account, stack)
    clear_hook_providers()


def describe(calls: list[Call]) -> str:
    return "; ".join(sorted({f"{c.operation} ({c.scenario})" for c in calls}))


# --- The tests ---


# Each test holds the policies to the calls twice (one run of the handlers serves both): as
# deployed by default, and with a key of the operator's own (DataKmsKeyArn), whose use each role
# is granted exactly where it needs it.
DATA_KEYS = ("", DATA_KEY_ARN)


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_every_call_is_allowed_by_the_functions_policy(
    run: Run, cfn: dict[str, Any], function_id: str
) -> None:
    for data_key in DATA_KEYS:
        granted = grants(cfn, function_id, run.stack, run.account, data_key)
        needed = run.needed(function_id, data_key, cfn)

        denied = {
            (authorization.action, authorization.resource): describe(calls)
            for authorization, calls in needed.items()
            if not any(allows(grant, authorization) for grant in granted)
        }

        assert needed
        assert denied == {}, f"{function_id}'s policy denies ({data_key=}): {denied}"


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_every_granted_action_is_used(run: Run, cfn: dict[str, Any], function_id: str) -> None:
    for data_key in DATA_KEYS:
        needed = run.needed(function_id, data_key, cfn)

        unused = [
            f"{grant.action} on {grant.logical_id}"
            for grant in code_grants(cfn, function_id, run.stack, run.account, data_key)
            if not any(allows(grant, authorization) for authorization in needed)
        ]

        assert unused == [], f"{function_id} ({data_key=}) is granted what it never calls: {unused}"


def test_each_failure_path_uses_what_it_is_named_for(run: Run, cfn: dict[str, Any]) -> None:
    for (function_id, action, logical_id), scenario in FAILURE_PATHS.items():
        (grant,) = [
            g
            for g in grants(cfn, function_id, run.stack, run.account)
            if (g.action, g.logical_id) == (action, logical_id)
        ]
        users = {
            call.scenario
            for authorization, calls in run.needed(function_id).items()
            if allows(grant, authorization)
            for call in calls
        }
        assert users == {scenario}, (action, logical_id, users)


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_removing_any_granted_action_denies_a_call_of_the_run(
    run: Run, cfn: dict[str, Any], function_id: str
) -> None:
    """The check itself: each grant is the only one that allows some call."""
    for data_key in DATA_KEYS:
        granted = code_grants(cfn, function_id, run.stack, run.account, data_key)
        needed = run.needed(function_id, data_key, cfn)

        for removed in granted:
            rest = [grant for grant in granted if grant != removed]
            denied = [a for a in needed if not any(allows(grant, a) for grant in rest)]
            assert denied, f"Without {removed.action} on {removed.logical_id}, nothing is denied"


def test_the_key_of_the_operators_own_is_used_only_through_the_services_that_need_it(
    run: Run, cfn: dict[str, Any]
) -> None:
    # The API decrypts through DynamoDB (its tables) and Secrets Manager (the CPF's key), the
    # processor and the notifier through DynamoDB alone; none may use the key directly.
    region = run.account.region
    for function_id, services in [
        (API, {"dynamodb", "secretsmanager"}),
        (PROCESSOR, {"dynamodb"}),
        (NOTIFIER, {"dynamodb"}),
        (HOOK, set()),
    ]:
        key_uses = {
            authorization.via
            for authorization in run.needed(function_id, DATA_KEY_ARN, cfn)
            if authorization.action == "kms:Decrypt"
        }
        assert key_uses == {f"{service}.{region}.amazonaws.com" for service in services}
        granted = [
            grant
            for grant in grants(cfn, function_id, run.stack, run.account, DATA_KEY_ARN)
            if grant.action.startswith("kms:")
        ]
        assert [(g.action, g.resource, g.via) for g in granted] == (
            [("kms:Decrypt", DATA_KEY_ARN, frozenset(key_uses))] if services else []
        )
        assert not any(
            allows(grant, Authorization("kms:Decrypt", DATA_KEY_ARN)) for grant in granted
        )


def test_a_mapping_grant_is_exactly_what_the_mapping_needs(run: Run, cfn: dict[str, Any]) -> None:
    for function_id, action, logical_id in MAPPING_GRANTS:
        granted = grants(cfn, function_id, run.stack, run.account)
        found = [g for g in granted if g.action == action and g.logical_id == logical_id]
        assert len(found) == 1, (function_id, action, logical_id)
        # And the code never uses it.
        assert not any(allows(found[0], a) for a in run.needed(function_id))


def test_a_transaction_is_authorized_item_by_item_on_each_table() -> None:
    account = Account("us-east-1", "123456789012")
    call = Call(
        API,
        "",
        "dynamodb",
        "TransactWriteItems",
        json.dumps(
            {
                "TransactItems": [
                    {"Put": {"TableName": "Enrollments", "Item": {}}},
                    {"Update": {"TableName": "Keys", "Key": {}}},
                    {"ConditionCheck": {"TableName": "Groups", "Key": {}}},
                    {"Delete": {"TableName": "Keys", "Key": {}}},
                ]
            }
        ),
    )

    assert authorizations(call, account) == [
        Authorization("dynamodb:PutItem", account.table_arn("Enrollments")),
        Authorization("dynamodb:UpdateItem", account.table_arn("Keys")),
        Authorization("dynamodb:ConditionCheckItem", account.table_arn("Groups")),
        Authorization("dynamodb:DeleteItem", account.table_arn("Keys")),
    ]


def test_the_run_commits_a_transaction_across_two_tables(run: Run) -> None:
    # What makes the item-by-item mapping matter: a keyed create writes the resource's table and
    # the idempotency table in one TransactWriteItems.
    tables = [
        {item[kind]["TableName"] for item in json.loads(c.params)["TransactItems"] for kind in item}
        for c in run.calls
        if c.operation == "TransactWriteItems"
    ]
    assert {run.stack.refs["EnrollmentsTable"], run.stack.refs["IdempotencyTable"]} in tables


def test_an_unmapped_operation_fails_the_check_rather_than_passing() -> None:
    call = Call(API, "", "dynamodb", "BatchWriteItem", json.dumps({"RequestItems": {}}))

    with pytest.raises(AssertionError, match="No IAM mapping for dynamodb:BatchWriteItem"):
        authorizations(call, Account("us-east-1", "123456789012"))
