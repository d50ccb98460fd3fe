"""The quantities an enrollment uses, measured on the local stack, for the cost model (bench.cost).

- API requests: the handler served warm in this process against the emulator, timed and billed as
  Lambda bills (whole ms); the lines it prints (logs in the runtime's JSON format, EMF).
- DynamoDB: each call's units from the sizes of the items it wrote or read, as DynamoDB rounds them.
- The processor: batches of 1 and 10 with no delay, for its work beyond the delay, and its lines.
- Batches and waits: the sustained-intake run at the admitted rate (bench.intake), and a run at
  1 enrollment a second, each enrollment's seconds to PROCESSED taken back to the 4 s delay.

`measure_usage` saves them in bench/measured.json, from which `make plan` works.
"""

import asyncio
import contextlib
import io
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.entrypoints.events import rest_event
from bench import intake
from bench.common import AwsStack, median
from bench.cost import Measured, item_size, read_units, write_units
from bench.processing import _batch_seconds, _pending
from bench.progress import step
from bench.webhooks import receiver
from local.aws_shapes import LambdaContext, sqs_record
from local.poller import sqs_function_config
from local.stream import stream_source
from local.template import provision

MEASURED_PATH = Path(__file__).with_name("measured.json")
RUNS = 40
WARMUP = 5
SLOW_RATE = 1.0
SLOW_SECONDS = 20.0
SLOW_DELAY = 0.5
BATCH_RUNS = 5


class LambdaJsonFormatter(logging.Formatter):
    """A log record as Lambda's Python runtime writes it with LogFormat JSON.

    The runtime's fields (timestamp, level, message, logger, requestId) and the record's extra
    attributes, which carry the bound ids.
    """

    STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": str(uuid.uuid4()),
        }
        document |= {k: v for k, v in record.__dict__.items() if k not in self.STANDARD}
        return json.dumps(document, default=str)


@contextlib.contextmanager
def printed_bytes() -> Iterator[Callable[[], int]]:
    """Count the bytes of the log lines (INFO and up) and stdout lines printed inside."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LambdaJsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    stdout = io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout):
            yield lambda: len(stream.getvalue().encode()) + len(stdout.getvalue().encode())
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _timed_ms(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def _api(aws: AwsStack) -> dict[str, Any]:
    """Warm durations and printed bytes of each request of an enrollment, and DynamoDB units."""
    # Mangum runs on the thread's event loop, which Lambda keeps between invocations; the
    # processor's asyncio.run() in an earlier benchmark leaves this thread without one.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return _api_requests(aws)
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def _fresh_tables(aws: AwsStack, function_id: str) -> None:
    """Point this process at tables and queues of its own: the other benchmarks fill theirs."""
    stack = provision(
        aws.template,
        aws.client("dynamodb"),
        aws.client("sqs"),
        aws.client("secretsmanager"),
        prefix=f"cost{uuid.uuid4().hex[:6]}-",
    )
    os.environ.update(aws.env | stack.environment(aws.template, function_id))


def _api_requests(aws: AwsStack) -> dict[str, Any]:
    _fresh_tables(aws, "ApiFunction")
    from app.adapters.aws import get_dynamodb_client
    from app.api.security import get_client_cache
    from app.config import get_api_settings

    get_api_settings.cache_clear()
    get_dynamodb_client.cache_clear()
    get_client_cache.cache_clear()
    from app.main import handler

    settings = get_api_settings()
    dynamodb = get_dynamodb_client()
    context = LambdaContext()
    body = {"name": "Maria da Silva", "age": 22, "cpf": "52998224725"}

    def call(
        method: str, path: str, data: Any = None, headers: Any = None, key: str | None = None
    ) -> dict[str, Any]:
        event = rest_event(method, path, data, headers, **({"api_key_id": key} if key else {}))
        response: dict[str, Any] = handler(event, context)
        assert response["statusCode"] in (200, 201, 202), response
        return response

    call("POST", "/age-groups", {"min_age": 0, "max_age": 150})
    ids: list[str] = []

    def post() -> None:
        ids.append(json.loads(call("POST", "/enrollments", body)["body"])["enrollment_id"])

    def keyed_post() -> None:
        call("POST", "/enrollments", body, {"Idempotency-Key": str(uuid.uuid4())})

    def get() -> None:
        response = call("GET", f"/enrollments/{ids[0]}")
        assert "retry-after" in response["headers"], response

    actions = {"post": post, "keyed_post": keyed_post, "get": get}
    result: dict[str, Any] = {}
    with step("Cost: API requests", len(actions) * (RUNS + 1)) as advance:
        for name, action in actions.items():
            for _ in range(WARMUP):
                action()
            result[f"api_{name}_ms"] = median([_timed_ms(action) for _ in range(RUNS)])
            advance(RUNS)
            with printed_bytes() as printed:
                action()
            result[f"log_bytes_{name}"] = float(printed())
            advance(1)
    result["retry_after_seconds"] = float(
        call("POST", "/enrollments", body)["headers"]["retry-after"]
    )
    result["list_pages"] = _list_pages(call, dynamodb, settings)

    def item(table: str, key: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = dynamodb.get_item(TableName=table, Key=key)["Item"]
        return found

    enrollment = item(settings.enrollments_table, {"enrollment_id": {"S": ids[0]}})
    groups = dynamodb.scan(TableName=settings.age_groups_table)["Items"]
    record = dynamodb.scan(TableName=settings.idempotency_table, Limit=1)["Items"][0]
    # An update is billed on the larger of the item before and after: PROCESSED is as long as
    # PENDING, give or take a byte; the completed record is larger than its claim.
    result |= {
        "rru_scan": read_units(sum(item_size(g) for g in groups), consistent=False),
        "wru_put": float(write_units(item_size(enrollment))),
        "wru_claim": float(write_units(item_size(record))),
        "wru_transaction": float(
            write_units(item_size(enrollment), transactional=True)
            + write_units(item_size(record), transactional=True)
        ),
        "rru_get": read_units(item_size(enrollment) + 2, consistent=True),
        "wru_update": float(write_units(item_size(enrollment) + 2)),
        "age_groups": len(groups),
        "age_group_bytes": max(item_size(g) for g in groups),
        "enrollment_bytes": item_size(enrollment),
        "record_bytes": item_size(record),
        "index_writes": index_writes(aws.template, enrollment),
    }
    return result


def index_writes(template: dict[str, Any], item: dict[str, Any]) -> dict[str, float]:
    """The write units each index of the enrollments table takes of an enrollment: its put, then
    its move to PROCESSED, which writes the index item again where its key stays (the item
    changed, and the index holds it all; not an index of keys alone) and deletes it and puts it
    anew where its key moves."""
    from app.adapters.enrollments import from_item, to_item
    from app.domain.models.enrollments import EnrollmentStatus

    pending = from_item(item)
    processed = to_item(pending.model_copy(update={"status": EnrollmentStatus.PROCESSED}))
    table = template["Resources"]["EnrollmentsTable"]["Properties"]
    found = {}
    for index in table.get("GlobalSecondaryIndexes", []):
        keys = [key["AttributeName"] for key in index["KeySchema"]]
        if not all(key in item for key in keys):
            found[index["IndexName"]] = 0.0
            continue
        moves = any(item[key] != processed[key] for key in keys)
        if index["Projection"]["ProjectionType"] == "KEYS_ONLY":
            # It holds the keys alone, which a status change writes only if it moves them.
            keys_only = {name: item[name] for name in {*keys, "enrollment_id"}}
            update = 2 * write_units(item_size(keys_only)) if moves else 0
            found[index["IndexName"]] = float(write_units(item_size(keys_only)) + update)
            continue
        update = (2 if moves else 1) * write_units(item_size(processed))
        found[index["IndexName"]] = float(write_units(item_size(item)) + update)
    return found


def _list_pages(
    call: Callable[..., dict[str, Any]], dynamodb: Any, settings: Any
) -> dict[str, dict[str, float]]:
    """Warm durations, read units and printed bytes of a client's first and next page of its
    own GET /enrollments, of the default limit, with two pages' worth of its enrollments."""
    from app.adapters import clients
    from app.domain.clients import DEFAULT_SCOPES, Client
    from app.domain.models.lists import DEFAULT_LIMIT

    partner = Client(api_key_id="cost-client", name="cost-client", scopes=DEFAULT_SCOPES)
    dynamodb.put_item(TableName=settings.clients_table, Item=clients.to_item(partner))
    body = {"name": "Maria da Silva", "age": 22, "cpf": "52998224725"}
    for _ in range(2 * DEFAULT_LIMIT + 1):
        call("POST", "/enrollments", body, key=partner.api_key_id)
    first = f"/enrollments?limit={DEFAULT_LIMIT}"
    cursor = json.loads(call("GET", first, key=partner.api_key_id)["body"])["next_cursor"]
    found: dict[str, dict[str, float]] = {}
    with step("Cost: a client's list pages", 2 * (WARMUP + RUNS + 1)) as advance:
        for page, path in (("first", first), ("next", f"{first}&cursor={cursor}")):

            def read(path: str = path) -> dict[str, Any]:
                return call("GET", path, key=partner.api_key_id)

            for _ in range(WARMUP):
                read()
            ms = median([_timed_ms(read) for _ in range(RUNS)])
            advance(WARMUP + RUNS)
            with printed_bytes() as printed:
                items = json.loads(read()["body"])["items"]
            advance(1)
            # A Query is billed on the size of the items it reads, added up, per 4 KB.
            stored = [
                dynamodb.get_item(
                    TableName=settings.enrollments_table,
                    Key={"enrollment_id": {"S": item["enrollment_id"]}},
                )["Item"]
                for item in items
            ]
            found[page] = {
                "ms": ms,
                "rru": read_units(sum(item_size(item) for item in stored), consistent=False),
                "log_bytes": float(printed()),
                "items": float(len(items)),
            }
    return found


# What API Gateway puts in place of each variable of the access log's format: a real request's
# values, as long as they come (a poll of an enrollment by a client's key).
ACCESS_LOG_VALUES = {
    "$context.requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
    "$context.extendedRequestId": "C3dYxF0kIAMFkZg=",
    "$context.identity.apiKeyId": "x4rxoiekt5",
    "$context.httpMethod": "GET",
    "$context.resourcePath": "/{proxy+}",
    "$context.path": "/v1/enrollments/8a1e2f4c-1b2d-4e5f-9a8b-7c6d5e4f3a2b",
    "$context.status": "200",
    "$context.responseLatency": "23",
    "$context.integrationLatency": "21",
    "$context.error.responseType": "-",
    "$context.requestTime": "06/Dec/2026:15:00:00 +0000",
    "${AWS::StackName}": "enrollment-service-production",
}


def access_log_bytes(template: dict[str, Any]) -> float:
    """The bytes of one line of the API's access log, as its format renders a request."""
    line = template["Resources"]["Api"]["Properties"]["AccessLogSetting"]["Format"]["Fn::Sub"]
    for variable in sorted(ACCESS_LOG_VALUES, key=len, reverse=True):
        line = line.replace(variable, ACCESS_LOG_VALUES[variable])
    if "$context" in line or "${" in line:
        raise ValueError(f"A variable of the access log has no sample value: {line}")
    json.loads(line)
    return float(len(line.encode()) + 1)


def system_log_levels(template: dict[str, Any]) -> dict[str, str]:
    """Each function's SystemLogLevel: its own, else the template's Globals'."""
    default = template["Globals"]["Function"].get("LoggingConfig", {}).get("SystemLogLevel", "")
    return {
        function_id: resource["Properties"].get("LoggingConfig", {}).get("SystemLogLevel", default)
        for function_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def _processor(aws: AwsStack) -> dict[str, Any]:
    """The processor's work beyond the delay for a batch of 1 and of 10; the bytes it prints."""
    _fresh_tables(aws, "ProcessorFunction")
    os.environ["PROCESSING_DELAY_SECONDS"] = "0"
    from app.adapters.aws import get_dynamodb_client
    from app.config import get_processor_settings
    from processor.handler import get_enrollment_repository

    get_processor_settings.cache_clear()
    get_dynamodb_client.cache_clear()
    get_enrollment_repository.cache_clear()
    overhead: dict[str, float] = {}
    printed_per_invocation: dict[int, int] = {}
    with step("Cost: processor batches", 2 * (BATCH_RUNS + 2)) as advance:
        for size in (1, 10):
            _batch_seconds(aws, _pending(aws, size), False)  # warm-up
            samples = []
            for _ in range(BATCH_RUNS):
                samples.append(_batch_seconds(aws, _pending(aws, size), False) * 1000)
                advance(1)
            overhead[str(size)] = median(samples)
            ids = _pending(aws, size)
            with printed_bytes() as printed:
                _batch_seconds(aws, ids, False)
            printed_per_invocation[size] = printed()
            advance(2)
    # Each record prints one log line; each invocation one EMF line, whose arrays grow with it.
    per_record = (printed_per_invocation[10] - printed_per_invocation[1]) / 9
    # The EMF line's arrays hold a value per record: a share of the growth belongs to it.
    emf_one = printed_per_invocation[1] - per_record
    return {
        "processor_overhead_ms": overhead,
        "log_bytes_record": per_record,
        "log_bytes_invocation": {"1": emf_one, "10": emf_one},
    }


def _notifier(aws: AwsStack) -> dict[str, Any]:
    """The notifier's warm invocations, as the enrollments table's stream and its delivery queue
    invoke it, for batches of 1 and 10 PROCESSED enrollments of a client with an endpoint (a
    receiver on 127.0.0.1): their durations, the bytes they print, and the items they read and
    write."""
    _fresh_tables(aws, "NotifierFunction")
    os.environ["WEBHOOK_ALLOW_LOOPBACK_HTTP"] = "true"
    from app.adapters import enrollments
    from app.adapters.aws import get_dynamodb_client, get_sqs_client
    from app.adapters.webhooks import WebhookRepository
    from app.config import get_notifier_settings
    from app.domain.models.enrollments import Enrollment, EnrollmentStatus
    from notifier.handler import get_stores
    from notifier.handler import handler as notify

    for provider in (get_notifier_settings, get_dynamodb_client, get_sqs_client, get_stores):
        provider.cache_clear()
    settings = get_notifier_settings()
    dynamodb, sqs = get_dynamodb_client(), get_sqs_client()
    queue_url = settings.webhook_delivery_queue_url
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    owner = "cost-webhook-client"
    sequence = iter(range(10**6))

    def stream_event(count: int) -> dict[str, Any]:
        """MODIFY records of `count` PROCESSED enrollments of `owner`, as Lambda sends them."""
        records = []
        for _ in range(count):
            now = datetime.now(UTC)
            enrollment = Enrollment(
                enrollment_id=uuid.uuid4(),
                name="Maria da Silva",
                age=22,
                cpf="52998224725",
                status=EnrollmentStatus.PROCESSED,
                created_at=now,
                updated_at=now,
                owner=owner,
            )
            item = enrollments.to_item(enrollment)
            dynamodb.put_item(TableName=settings.enrollments_table, Item=item)
            records.append(
                {
                    "eventID": uuid.uuid4().hex,
                    "eventName": "MODIFY",
                    "eventVersion": "1.1",
                    "eventSource": "aws:dynamodb",
                    "awsRegion": aws.env["AWS_DEFAULT_REGION"],
                    "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/x/stream/y",
                    "dynamodb": {
                        "ApproximateCreationDateTime": int(now.timestamp()),
                        "Keys": {"enrollment_id": item["enrollment_id"]},
                        "SequenceNumber": f"{next(sequence):021d}",
                        "SizeBytes": 60,
                        "StreamViewType": "KEYS_ONLY",
                    },
                }
            )
        return {"Records": records}

    def queue_event(count: int) -> dict[str, Any]:
        """The `count` jobs the stream's invocation queued, as Lambda receives them."""
        messages: list[Any] = []
        while len(messages) < count:
            messages += sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=count - len(messages),
                WaitTimeSeconds=1,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
        for message in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        region = aws.env["AWS_DEFAULT_REGION"]
        return {"Records": [sqs_record(m, queue_arn, region) for m in messages]}

    def invoke(event: dict[str, Any], quiet: bool = True) -> float:
        """The invocation's milliseconds; its metric lines kept off this run's output, unless
        they are being counted."""
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
            assert notify(event, LambdaContext()) == {"batchItemFailures": []}
        return (time.perf_counter() - start) * 1000

    durations: dict[str, dict[str, float]] = {"stream": {}, "queue": {}}
    printed_bytes_of: dict[str, dict[str, float]] = {"stream": {}, "queue": {}}

    with receiver() as target, step("Cost: notifier batches", 2 * (BATCH_RUNS + 2)) as advance:
        WebhookRepository(dynamodb, settings.webhooks_table).put(owner, target.url)
        for size in (1, 10):
            samples: dict[str, list[float]] = {"stream": [], "queue": []}
            for run in range(BATCH_RUNS + 2):
                changes = stream_event(size)
                if run == BATCH_RUNS + 1:
                    # The last run's lines, printed as on Lambda; the first is a warm-up.
                    with printed_bytes() as printed:
                        invoke(changes, quiet=False)
                    printed_bytes_of["stream"][str(size)] = float(printed())
                    jobs = queue_event(size)
                    with printed_bytes() as printed:
                        invoke(jobs, quiet=False)
                    printed_bytes_of["queue"][str(size)] = float(printed())
                else:
                    stream_ms = invoke(changes)
                    queue_ms = invoke(queue_event(size))
                    if run:
                        samples["stream"].append(stream_ms)
                        samples["queue"].append(queue_ms)
                advance(1)
            for source, values in samples.items():
                durations[source][str(size)] = median(values)
        delivered = len(target.deliveries)
    assert delivered == (BATCH_RUNS + 2) * 11, delivered
    webhook = dynamodb.scan(TableName=settings.webhooks_table, Limit=1)["Items"][0]
    attempt = dynamodb.scan(TableName=settings.webhook_deliveries_table, Limit=1)["Items"][0]
    return {
        "notifier_ms": durations,
        "notifier_log_bytes": printed_bytes_of,
        "rru_webhook_get": read_units(item_size(webhook), consistent=True),
        "wru_delivery": float(write_units(item_size(attempt))),
        "webhook_bytes": item_size(webhook),
        "delivery_bytes": item_size(attempt),
    }


def _waits(run: intake.IntakeRun, production_delay: float) -> list[float]:
    """Seconds to PROCESSED as on AWS: the local delay replaced by the production one."""
    return [round(w - run.delay + production_delay, 3) for w in run.waits]


def measure_usage(
    aws: AwsStack, admitted_run: intake.IntakeRun | None = None, save: Path | None = MEASURED_PATH
) -> Measured:
    """Measure what an enrollment uses; save it for `make plan`.

    `admitted_run` is `make bench`'s sustained-intake run (`intake.admitted_intake`), whose
    batches and waits stand for the admitted rate; without it, one is run here.
    """
    template = aws.template
    resources = template["Resources"]
    api_props = resources["ApiFunction"]["Properties"]
    processor = sqs_function_config(template, "ProcessorFunction")
    notifier_queue = sqs_function_config(template, "NotifierFunction")
    notifier_stream = stream_source(template, "NotifierFunction")
    assert notifier_stream is not None, "the notifier reads the enrollments table's stream"
    delay = float(
        resources["ProcessorFunction"]["Properties"]["Environment"]["Variables"][
            "PROCESSING_DELAY_SECONDS"
        ]
    )
    admitted_rate = float(resources["UsagePlan"]["Properties"]["Throttle"]["RateLimit"])

    # The runs first: each starts a local stack with an emulator of its own, unless this
    # process's environment already points at the benchmarks' one, as the calls below make it.
    if admitted_run is None:
        admitted_run = intake.admitted_intake(aws)
    slow_run = intake.sustained_intake(aws, SLOW_RATE, SLOW_SECONDS, SLOW_DELAY)
    environment = dict(os.environ)
    try:
        api = _api(aws)
        work = _processor(aws)
        notifier = _notifier(aws)
    finally:
        os.environ.clear()
        os.environ.update(environment)

    def mean_batch(run: intake.IntakeRun) -> float:
        return sum(run.batches) / len(run.batches)

    api_sampling = None
    for resource in resources.values():
        rule = resource.get("Properties", {}).get("SamplingRule", {})
        if resource["Type"] == "AWS::XRay::SamplingRule" and rule.get("ServiceType") == (
            "AWS::ApiGateway::Stage"
        ):
            api_sampling = {
                "reservoir": float(rule["ReservoirSize"]),
                "rate": float(rule["FixedRate"]),
            }
    # CloudWatch bills an alarm per metric it watches: one on a sum of eight is eight.
    alarms = sum(
        sum(1 for m in r["Properties"]["Metrics"] if "MetricStat" in m)
        if "Metrics" in r["Properties"]
        else 1
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    )
    dashboards = sum(1 for r in resources.values() if r["Type"] == "AWS::CloudWatch::Dashboard")
    from app.observability.metrics import Metric

    stream_ms, queue_ms = notifier["notifier_ms"]["stream"], notifier["notifier_ms"]["queue"]
    notes = [
        f"API function: warm medians of {RUNS} requests through the handler against the "
        f"emulator, {api['api_post_ms']:.1f} ms POST, {api['api_keyed_post_ms']:.1f} ms with "
        f"a key, {api['api_get_ms']:.1f} ms GET; billed in whole ms at "
        f"{api_props['MemorySize']} MB. On Lambda each DynamoDB or SQS call also waits on the "
        "network (about 5-10 ms), and 512 MB is a third of a vCPU: these durations are a floor",
        f"processor: a batch of 1 takes {work['processor_overhead_ms']['1']:.0f} ms beyond the "
        f"delay, a batch of 10 {work['processor_overhead_ms']['10']:.0f} ms; "
        f"{processor.memory_mb} MB",
        f"batches: {mean_batch(admitted_run):.1f} records an invocation at {admitted_run.rate:g}/s "
        f"(the sustained-intake run, delay {admitted_run.delay:g} s, standing for "
        f"{admitted_rate:g}/s on AWS), {mean_batch(slow_run):.2f} at {slow_run.rate:g}/s "
        f"(MaximumBatchingWindowInSeconds {processor.batching_window_seconds:g})",
        f"DynamoDB: an enrollment is {api['enrollment_bytes']} bytes, an idempotency record "
        f"{api['record_bytes']} bytes, the age-groups table {api['age_groups']} group(s) (a scan "
        "is billed on every item it reads: more groups, more units)",
        "SQS: one receive and one DeleteMessageBatch per batch (modelled); the event source's "
        "extra receives while it gathers a batch are not counted",
        f"logs: {api['log_bytes_post']:.0f} bytes a POST, {api['log_bytes_keyed_post']:.0f} with "
        f"a key, {api['log_bytes_get']:.0f} a GET, {work['log_bytes_record']:.0f} a record; "
        "a record's line here lacks the request id its message carries on AWS (about 50 bytes); "
        f"a line of API Gateway's access log {access_log_bytes(template):.0f} bytes a request "
        "(the template's format, with a real request's values); Lambda's START and REPORT "
        "lines are counted where the template's SystemLogLevel sends them",
        f"lists: a client's first and next page of its own GET /enrollments, "
        f"{api['list_pages']['first']['items']:g} items each, take "
        f"{api['list_pages']['first']['ms']:.1f} and {api['list_pages']['next']['ms']:.1f} ms "
        "warm: moto's Query of an index reads every item of the table, where DynamoDB reads the "
        "page's, so these durations grow with the emulator's table and bound the billed one",
        f"notifier: a stream invocation of 1 and 10 records takes {stream_ms['1']:.0f} and "
        f"{stream_ms['10']:.0f} ms warm, a delivery invocation {queue_ms['1']:.0f} and "
        f"{queue_ms['10']:.0f} ms, to a receiver on 127.0.0.1 that answers at once (a "
        "partner's endpoint answering in t ms adds t ms to each delivery invocation: its records "
        "run concurrently); "
        f"{notifier_queue.memory_mb} MB; a webhook item is {notifier['webhook_bytes']} bytes, a "
        f"delivery attempt {notifier['delivery_bytes']} bytes",
        "X-Ray: API Gateway samples requests by "
        + (
            f"the template's rule ({api_sampling['reservoir']:g} a second, then "
            f"{api_sampling['rate']:.0%})"
            if api_sampling
            else "the default rule (1 a second, then 5%)"
        )
        + "; Lambda samples the processor's and the notifier's invocations by the default rule, "
        "one reservoir for both",
    ]
    measured = Measured(
        api_post_ms=api["api_post_ms"],
        api_keyed_post_ms=api["api_keyed_post_ms"],
        api_get_ms=api["api_get_ms"],
        api_memory_mb=int(api_props["MemorySize"]),
        processor_overhead_ms=work["processor_overhead_ms"],
        processor_memory_mb=processor.memory_mb,
        processing_delay_seconds=delay,
        records_per_batch={"admitted": mean_batch(admitted_run), "1/s": mean_batch(slow_run)},
        seconds_to_processed={
            "admitted": _waits(admitted_run, delay),
            "1/s": _waits(slow_run, delay),
        },
        retry_after_seconds=api["retry_after_seconds"],
        rru_scan=api["rru_scan"],
        age_group_bytes=api["age_group_bytes"],
        wru_put=api["wru_put"],
        wru_claim=api["wru_claim"],
        wru_transaction=api["wru_transaction"],
        rru_get=api["rru_get"],
        wru_update=api["wru_update"],
        log_bytes_post=api["log_bytes_post"],
        log_bytes_keyed_post=api["log_bytes_keyed_post"],
        log_bytes_get=api["log_bytes_get"],
        log_bytes_record=work["log_bytes_record"],
        log_bytes_invocation=work["log_bytes_invocation"],
        alarms=alarms,
        dashboards=dashboards,
        custom_metrics=len(Metric),
        access_log_bytes=access_log_bytes(template),
        system_log_levels=system_log_levels(template),
        admitted_rate=admitted_rate,
        notes=notes,
        api_sampling=api_sampling,
        index_writes=api["index_writes"],
        list_pages=api["list_pages"],
        secrets=sum(1 for r in resources.values() if r["Type"] == "AWS::SecretsManager::Secret"),
        notifier_memory_mb=notifier_queue.memory_mb,
        notifier_batch_sizes={
            "stream": float(notifier_stream.batch_size),
            "queue": float(notifier_queue.batch_size),
        },
        notifier_ms=notifier["notifier_ms"],
        notifier_log_bytes=notifier["notifier_log_bytes"],
        rru_webhook_get=notifier["rru_webhook_get"],
        wru_delivery=notifier["wru_delivery"],
        sqs_event_sources=sum(
            1
            for r in resources.values()
            if r["Type"] == "AWS::Serverless::Function"
            for event in r["Properties"].get("Events", {}).values()
            if event["Type"] == "SQS"
        ),
    )
    if save is not None:
        save.write_text(json.dumps(measured.to_json(), indent=1) + "\n")
    return measured


def load_measured(path: Path = MEASURED_PATH) -> Measured:
    """The quantities the last `make bench` measured."""
    return Measured.from_json(json.loads(path.read_text()))


def main() -> int:
    """Measure the quantities alone (`python -m bench.usage`), save them, print the costs."""
    from bench.common import emulated_stack
    from bench.cost import cost_section

    with emulated_stack() as aws:
        measured = measure_usage(aws)
    print("\n".join(cost_section(measured)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
