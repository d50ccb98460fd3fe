"""What an enrollment costs on AWS, and what a sustained rate needs: pure functions, no I/O.

The prices are bench/prices.toml's; the quantities are what `bench.usage` measures on the local
stack (`Measured`, saved in bench/measured.json by `make bench`). Every line of the table is a
measured quantity times a published price; what is modelled rather than measured says so.
"""

import json
import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from app.adapters.enrollment_index import SHARDS
from app.adapters.tables import BY_OWNER, BY_SHARD
from app.domain.services import MAX_AGE_GROUPS

PRICES_PATH = Path(__file__).with_name("prices.toml")
SECONDS_PER_MONTH = 730 * 3600  # AWS's pricing month: 730 hours
MILLION = 1_000_000
GIB = 1024**3


@dataclass(frozen=True)
class Price:
    """One published price (or published behaviour), with where and when it was read."""

    price: float
    unit: str
    source: str
    read: str
    status: str


def load_prices(path: Path = PRICES_PATH) -> dict[str, Price]:
    """The prices of bench/prices.toml, by name."""
    document = tomllib.loads(path.read_text())
    return {name: Price(**entry) for name, entry in document.items() if isinstance(entry, dict)}


# --- DynamoDB's units, from item sizes -----------------------------------------------------------


def attribute_size(value: Mapping[str, Any]) -> int:
    """Bytes DynamoDB counts for one attribute value (its name is counted by the item)."""
    (kind, content), *_ = value.items()
    if kind in ("S", "B"):
        return len(content.encode() if isinstance(content, str) else content)
    if kind == "N":
        digits = content.lstrip("-").replace(".", "").lstrip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + attribute_size(v) + 1 for k, v in content.items())
    if kind == "L":
        return 3 + sum(attribute_size(v) + 1 for v in content)
    if kind in ("SS", "BS"):
        return sum(len(v.encode() if isinstance(v, str) else v) for v in content)
    if kind == "NS":
        return sum(attribute_size({"N": v}) for v in content)
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """An item's size as DynamoDB bills it: each attribute's name and value."""
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def write_units(size: int, transactional: bool = False) -> int:
    """Write request units of one item write: 1 per KB, rounded up; twice in a transaction."""
    return max(1, math.ceil(size / 1024)) * (2 if transactional else 1)


def read_units(size: int, consistent: bool = True) -> float:
    """Read request units of one read: 1 per 4 KB rounded up; half when eventually consistent."""
    units = max(1, math.ceil(size / 4096))
    return units if consistent else units / 2


# --- Polls, batches, sampling -------------------------------------------------------------------


def polls_every(wait: float, interval: float = 1.0) -> int:
    """GETs a client makes, one each `interval` after the 202, until it sees PROCESSED."""
    return max(1, math.ceil(wait / interval - 1e-9))


def polls_following_retry_after(wait: float, first: float, then: float = 1.0) -> int:
    """GETs a client makes following `Retry-After`: first after `first` seconds, then each `then`.

    The API counts `Retry-After` down from the enrollment's creation, to at least 1 s: after the
    first read, a PENDING enrollment answers 1 s.
    """
    if wait <= first:
        return 1
    return 1 + math.ceil((wait - first) / then - 1e-9)


# Lambda polls each shard of a DynamoDB stream four times a second (Lambda guide, "Using AWS
# Lambda with Amazon DynamoDB", polling and batching streams). Without a batching window an
# invocation holds what one poll found, up to the mapping's BatchSize.
STREAM_POLLS_PER_SECOND = 4.0


def stream_records_per_invocation(rate: float, batch_size: float) -> float:
    """Records an invocation of a stream's mapping holds at `rate` changes a second, on one
    shard, with no batching window: a poll's worth, at least one, at most `batch_size`."""
    return min(batch_size, max(1.0, rate / STREAM_POLLS_PER_SECOND))


def linear(points: Mapping[str, float], records: float, most: float = math.inf) -> float:
    """A quantity measured for a batch of "1" and of "10" records, at `records` (at least 1, at
    most `most`): on the line through the two."""
    one, ten = points["1"], points["10"]
    return one + (ten - one) * (min(max(records, 1.0), most) - 1) / 9


def mean(values: Iterable[float]) -> float:
    """The arithmetic mean (of at least one value)."""
    values = list(values)
    return sum(values) / len(values)


def sampled_per_second(rate: float, reservoir: float, fixed_rate: float) -> float:
    """Traces recorded a second under a sampling rule: the reservoir, then a share of the rest."""
    return min(rate, reservoir) + fixed_rate * max(0.0, rate - reservoir)


# --- What is measured ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """The quantities `bench.usage` measures on the local stack (JSON in bench/measured.json)."""

    # Billed duration of one warm API request (ms, rounded up as Lambda bills), at MemorySize.
    api_post_ms: float
    api_keyed_post_ms: float
    api_get_ms: float
    api_memory_mb: int
    # The processor: its work beyond the delay for a batch of 1 and of 10 (ms), its memory.
    processor_overhead_ms: dict[str, float]
    processor_memory_mb: int
    processing_delay_seconds: float
    # Records per invocation, and seconds from 202 to PROCESSED, at each rate measured.
    records_per_batch: dict[str, float]
    seconds_to_processed: dict[str, list[float]]
    # The first Retry-After of a 202 (s).
    retry_after_seconds: float
    # DynamoDB units of each call of an enrollment, from the items' sizes.
    rru_scan: float
    wru_put: float
    wru_claim: float
    wru_transaction: float
    rru_get: float
    wru_update: float
    # Bytes the functions print to CloudWatch Logs: per request, per record, per invocation.
    log_bytes_post: float
    log_bytes_keyed_post: float
    log_bytes_get: float
    log_bytes_record: float
    log_bytes_invocation: dict[str, float]
    # The template's alarms, dashboards, and metrics (name and dimension combinations).
    alarms: int
    dashboards: int
    custom_metrics: int
    admitted_rate: float
    # Where each number came from, for the table's notes.
    notes: list[str] = field(default_factory=list)
    # The largest age group item (bytes): what each group adds to an enrollment's scan.
    age_group_bytes: float = 0.0
    # A line of API Gateway's access log (bytes), one per request: the template's format.
    access_log_bytes: float = 0.0
    # Each function's SystemLogLevel in the template: at INFO, Lambda adds its START and REPORT.
    system_log_levels: dict[str, str] = field(default_factory=dict)
    # The template's sampling rule for the API's stage: its reservoir (traces a second) and its
    # rate; None where the template has none and X-Ray's default rule applies.
    api_sampling: dict[str, float] | None = None
    # The enrollments' indexes: the write units each takes of an enrollment, its put and its
    # move to PROCESSED together, from the items' sizes and the template's index keys.
    index_writes: dict[str, float] = field(default_factory=dict)
    # A page of a client's own GET /enrollments, "first" and "next": its warm billed ms
    # ("ms"), read units ("rru"), printed bytes ("log_bytes") and items ("items").
    list_pages: dict[str, dict[str, float]] = field(default_factory=dict)
    # The template's Secrets Manager secrets (the lists' cursors' key).
    secrets: int = 0
    # The notifier (webhooks): its memory; its event sources' BatchSize in the template
    # ("stream", "queue"); the warm ms and printed bytes of an invocation from each, for a batch
    # of "1" and of "10" records; the read units of a webhook's GetItem (strongly consistent)
    # and the write units of an attempt's PutItem. None measured: no notifier in the cost.
    notifier_memory_mb: int = 0
    notifier_batch_sizes: dict[str, float] = field(default_factory=dict)
    notifier_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    notifier_log_bytes: dict[str, dict[str, float]] = field(default_factory=dict)
    rru_webhook_get: float = 0.0
    wru_delivery: float = 0.0
    # The template's SQS event sources (the processor's queue, the notifier's delivery queue):
    # each long-polls its queue while idle.
    sqs_event_sources: int = 1

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Measured":
        return cls(**data)

    def overhead_ms(self, records: float) -> float:
        """A batch's work beyond the delay, between the batch of 1 and of 10 measured."""
        return linear(self.processor_overhead_ms, records, most=10.0)

    def invocation_log_bytes(self, records: float) -> float:
        """The EMF line of an invocation of `records` records (between the two measured)."""
        return linear(self.log_bytes_invocation, records, most=10.0)


@dataclass(frozen=True)
class Scenario:
    """A load to price: a rate, with or without an Idempotency-Key, our design or the seed's;
    clients that poll (following `Retry-After` or every second; by default as the design has
    them: ours follow it, the seed's poll every second) or take a webhook and never poll."""

    rate: float
    rate_key: str  # which measured run's batches and waits apply: "admitted" or "1/s"
    keyed: bool = False
    seed: bool = False
    follows_retry_after: bool | None = None
    webhook: bool = False


@dataclass(frozen=True)
class Usage:
    """What one enrollment uses, by service."""

    api_requests: float
    api_gb_seconds: float
    processor_invocations: float
    processor_gb_seconds: float
    rru: float
    wru: float
    sqs_requests: float
    log_bytes: float
    traces: float
    polls: float
    notifier_invocations: float = 0.0
    notifier_gb_seconds: float = 0.0


# The system log records Lambda writes for an invocation at SystemLogLevel INFO, in its JSON log
# format (the Lambda guide's telemetry schema reference: `platform.start`, `platform.report`),
# with values as long as a real invocation's. An estimate from the published schema: no Lambda
# runs here to print them.
_TRACE = {
    "spanId": "0123456789abcdef",
    "type": "X-Amzn-Trace-Id",
    "value": "Root=1-6754b3c2-2f9a7c1e4b5d6e7f8a9b0c1d;Parent=0123456789abcdef;Sampled=0",
}
_INVOCATION = "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa"
SYSTEM_LOG_RECORDS = (
    {
        "time": "2026-12-06T15:00:00.000Z",
        "type": "platform.start",
        "record": {"requestId": _INVOCATION, "version": "42", "tracing": _TRACE},
    },
    {
        "time": "2026-12-06T15:00:00.025Z",
        "type": "platform.report",
        "record": {
            "requestId": _INVOCATION,
            "metrics": {
                "durationMs": 23.456,
                "billedDurationMs": 24,
                "memorySizeMB": 512,
                "maxMemoryUsedMB": 67,
            },
            "tracing": _TRACE,
            "status": "success",
        },
    },
)
SYSTEM_LOG_BYTES = sum(
    len(json.dumps(record, separators=(",", ":"))) + 1 for record in SYSTEM_LOG_RECORDS
)


def system_log_bytes(measured: Measured, function_id: str) -> float:
    """What Lambda's own lines add to an invocation of `function_id`, at its SystemLogLevel."""
    level = measured.system_log_levels.get(function_id, "WARN")
    return SYSTEM_LOG_BYTES if level in ("INFO", "DEBUG") else 0.0


def billed_ms(ms: float) -> float:
    """Lambda bills duration in whole milliseconds, rounded up."""
    return float(math.ceil(ms - 1e-9))


def polls(measured: Measured, scenario: Scenario) -> float:
    """Mean GETs per enrollment until PROCESSED, over the measured waits; none with a webhook."""
    if scenario.webhook:
        return 0.0
    waits = measured.seconds_to_processed[scenario.rate_key]
    follows = scenario.follows_retry_after
    if follows if follows is not None else not scenario.seed:
        return mean(polls_following_retry_after(w, measured.retry_after_seconds) for w in waits)
    return mean(polls_every(w) for w in waits)


@dataclass(frozen=True)
class NotifierUse:
    """What the notifier adds to an enrollment: its invocations and GB-s, DynamoDB units, SQS
    requests and printed bytes."""

    invocations: float = 0.0
    gb_seconds: float = 0.0
    rru: float = 0.0
    wru: float = 0.0
    sqs_requests: float = 0.0
    log_bytes: float = 0.0


def notifier_use(measured: Measured, scenario: Scenario) -> NotifierUse:
    """The notifier's share of one enrollment.

    Every enrollment of our design reaches it: its move to PROCESSED is a MODIFY of the stream,
    which invokes it whether or not the client has an endpoint (a share of a stream batch); it
    reads the enrollment (strongly consistent) and the client's webhook (eventually). The
    stream's GetRecords are free when Lambda's trigger makes them (bench/prices.toml). With a
    webhook, it queues a job (an SQS send), and a delivery invocation (a share of a batch of the
    queue, one receive and one DeleteMessageBatch) reads the webhook and the enrollment again,
    POSTs, and writes the attempt to the deliveries table.
    """
    if scenario.seed or not measured.notifier_ms:
        return NotifierUse()
    gb = measured.notifier_memory_mb / 1024
    stream_records = stream_records_per_invocation(
        scenario.rate, measured.notifier_batch_sizes["stream"]
    )

    def invocation(source: str, records: float) -> tuple[float, float, float]:
        """Invocations, GB-s and printed bytes per record of a batch of `records`."""
        ms = billed_ms(linear(measured.notifier_ms[source], records))
        printed = linear(measured.notifier_log_bytes[source], records)
        printed += system_log_bytes(measured, "NotifierFunction")
        return 1 / records, ms / 1000 * gb / records, printed / records

    invocations, gb_seconds, log_bytes = invocation("stream", stream_records)
    rru = measured.rru_get + measured.rru_webhook_get / 2
    if not scenario.webhook:
        return NotifierUse(invocations, gb_seconds, rru, 0.0, 0.0, log_bytes)
    # The jobs of a stream batch reach the queue together; with no batching window a receive
    # takes what is there, up to the queue mapping's BatchSize.
    queue_records = min(measured.notifier_batch_sizes["queue"], stream_records)
    more_invocations, more_gb_seconds, more_log_bytes = invocation("queue", queue_records)
    return NotifierUse(
        invocations=invocations + more_invocations,
        gb_seconds=gb_seconds + more_gb_seconds,
        rru=rru + measured.rru_webhook_get + measured.rru_get,
        wru=measured.wru_delivery,
        sqs_requests=1 + 2 / queue_records,
        log_bytes=log_bytes + more_log_bytes,
    )


def usage(measured: Measured, scenario: Scenario, prices: Mapping[str, Price]) -> Usage:
    """What one enrollment uses under `scenario`, from the measured quantities."""
    gets = polls(measured, scenario)
    requests = 1 + gets
    post_ms = measured.api_keyed_post_ms if scenario.keyed else measured.api_post_ms
    api_gb_s = (billed_ms(post_ms) + gets * billed_ms(measured.api_get_ms)) / 1000
    api_gb_s *= measured.api_memory_mb / 1024
    # The seed's processor takes one message an invocation and sleeps through it; ours takes a
    # batch and processes its records at once, so an invocation costs one delay for them all.
    records = 1.0 if scenario.seed else measured.records_per_batch[scenario.rate_key]
    batch_ms = billed_ms(measured.processing_delay_seconds * 1000 + measured.overhead_ms(records))
    processor_gb_s = batch_ms / 1000 / records * measured.processor_memory_mb / 1024
    invocations = 1 / records
    if scenario.keyed:
        wru = measured.wru_claim + measured.wru_transaction + measured.wru_update
    else:
        wru = measured.wru_put + measured.wru_update
    if not scenario.seed:
        # The seed's design had no list, no CPF index, and so no index at all.
        wru += sum(measured.index_writes.values())
    notified = notifier_use(measured, scenario)
    wru += notified.wru
    rru = measured.rru_scan + measured.rru_get + gets * measured.rru_get + notified.rru
    # The send, then per batch one receive and one DeleteMessageBatch (modelled, not counted).
    sqs = 1 + 2 * invocations + notified.sqs_requests
    log_bytes = (
        (measured.log_bytes_keyed_post if scenario.keyed else measured.log_bytes_post)
        + gets * measured.log_bytes_get
        + measured.log_bytes_record
        + measured.invocation_log_bytes(records) / records
        + notified.log_bytes
    )
    if not scenario.seed:
        # The access log's line of every request, and Lambda's own lines where the template
        # sends them; the seed's design is priced without either, as before.
        log_bytes += requests * measured.access_log_bytes
        log_bytes += requests * system_log_bytes(measured, "ApiFunction")
        log_bytes += invocations * system_log_bytes(measured, "ProcessorFunction")
    reservoir = prices["xray_default_reservoir"].price
    fixed_rate = prices["xray_default_rate"].price
    # API Gateway samples the requests (the function follows its decision) by the template's
    # rule for its stage, if any; Lambda samples the processor's invocations by the default rule.
    api_rule = measured.api_sampling or {"reservoir": reservoir, "rate": fixed_rate}
    if scenario.seed:
        api_rule = {"reservoir": reservoir, "rate": fixed_rate}
    api_traces = sampled_per_second(
        scenario.rate * requests, api_rule["reservoir"], api_rule["rate"]
    )
    # The processor's and the notifier's invocations, together under the default rule: its
    # reservoir is the rule's, not each function's.
    function_traces = sampled_per_second(
        scenario.rate * (invocations + notified.invocations), reservoir, fixed_rate
    )
    traces = (api_traces + function_traces) / scenario.rate
    return Usage(
        api_requests=requests,
        api_gb_seconds=api_gb_s,
        processor_invocations=invocations,
        processor_gb_seconds=processor_gb_s,
        rru=rru,
        wru=wru,
        sqs_requests=sqs,
        log_bytes=log_bytes,
        traces=traces,
        polls=gets,
        notifier_invocations=notified.invocations,
        notifier_gb_seconds=notified.gb_seconds,
    )


SERVICES = (
    "API Gateway",
    "Lambda: API",
    "Lambda: processor",
    "Lambda: notifier",
    "DynamoDB",
    "SQS",
    "CloudWatch Logs",
    "X-Ray",
)


def cost_per_million(
    use: Usage, prices: Mapping[str, Price], seed: bool = False
) -> dict[str, float]:
    """Dollars per million enrollments, by service."""
    gb_s = prices["lambda_arm64_duration"].price
    per_request = prices["lambda_requests"].price / MILLION
    gateway = prices["api_gateway_http" if seed else "api_gateway_rest"].price / MILLION
    each = {
        "API Gateway": use.api_requests * gateway,
        "Lambda: API": use.api_requests * per_request + use.api_gb_seconds * gb_s,
        "Lambda: processor": use.processor_invocations * per_request
        + use.processor_gb_seconds * gb_s,
        "Lambda: notifier": use.notifier_invocations * per_request + use.notifier_gb_seconds * gb_s,
        "DynamoDB": use.rru * prices["dynamodb_read_request_unit"].price / MILLION
        + use.wru * prices["dynamodb_write_request_unit"].price / MILLION,
        "SQS": use.sqs_requests * prices["sqs_requests"].price / MILLION,
        "CloudWatch Logs": use.log_bytes / GIB * prices["logs_ingestion"].price,
        "X-Ray": use.traces * prices["xray_traces_recorded"].price / MILLION,
    }
    return {service: dollars * MILLION for service, dollars in each.items()}


def fixed_monthly(
    measured: Measured, prices: Mapping[str, Price], data_key: bool = False
) -> dict[str, float]:
    """What the stack costs a month however little it serves (list prices, no free tier); with
    `data_key`, deployed with a KMS key of the operator's own (DataKmsKeyArn)."""
    snapshot_gb = measured.api_memory_mb / 1024
    own_key = {"KMS key of your own (DataKmsKeyArn)": prices["kms_key"].price} if data_key else {}
    return {
        "alarms": measured.alarms * prices["alarms"].price,
        "dashboard": measured.dashboards * prices["dashboards"].price,
        "custom metrics (any month with traffic)": measured.custom_metrics
        * prices["custom_metrics"].price,
        "SnapStart cache, one version": snapshot_gb
        * SECONDS_PER_MONTH
        * prices["snapstart_cache"].price,
        "SQS event sources' empty receives": measured.sqs_event_sources
        * prices["sqs_idle_receives"].price
        * 730
        * prices["sqs_requests"].price
        / MILLION,
        "the secrets (the lists' cursors, the CPF's key)": measured.secrets
        * prices["secrets_manager_secret"].price,
    } | own_key


LIST_SERVICES = ("API Gateway", "Lambda: API", "DynamoDB", "CloudWatch Logs", "X-Ray")


def list_page_cost(measured: Measured, page: str, prices: Mapping[str, Price]) -> dict[str, float]:
    """Dollars per thousand pages of a client's own GET /enrollments (`page`: "first", "next"),
    by service: one request, its billed duration, its Query's read units, its lines."""
    quantities = measured.list_pages[page]
    gb_s = billed_ms(quantities["ms"]) / 1000 * measured.api_memory_mb / 1024
    log_bytes = (
        quantities["log_bytes"]
        + measured.access_log_bytes
        + system_log_bytes(measured, "ApiFunction")
    )
    sampled = (measured.api_sampling or {"rate": prices["xray_default_rate"].price})["rate"]
    each = {
        "API Gateway": prices["api_gateway_rest"].price / MILLION,
        "Lambda: API": prices["lambda_requests"].price / MILLION
        + gb_s * prices["lambda_arm64_duration"].price,
        "DynamoDB": quantities["rru"] * prices["dynamodb_read_request_unit"].price / MILLION,
        "CloudWatch Logs": log_bytes / GIB * prices["logs_ingestion"].price,
        "X-Ray": sampled * prices["xray_traces_recorded"].price / MILLION,
    }
    return {service: dollars * 1000 for service, dollars in each.items()}


def list_lines(measured: Measured, prices: Mapping[str, Price]) -> list[str]:
    """Markdown lines: what a thousand pages of a client's own list cost, by service."""
    if not measured.list_pages:
        return []
    items = measured.list_pages["first"]["items"]
    lines = [
        "",
        f"A page of a client's own `GET /enrollments`, {items:g} items: $ per thousand pages "
        "(one request, its warm billed duration, the read units of its one Query, eventually "
        "consistent, its log lines):",
        "",
        "| page | " + " | ".join(LIST_SERVICES) + " | total | read units |",
        "|---|" + "---|" * (len(LIST_SERVICES) + 2),
    ]
    for page in ("first", "next"):
        costs = list_page_cost(measured, page, prices)
        row = " | ".join(f"${costs[service]:,.4f}" for service in LIST_SERVICES)
        total = sum(costs.values())
        rru = measured.list_pages[page]["rru"]
        lines.append(f"| {page} | {row} | **${total:,.4f}** | {rru:g} |")
    return lines


def index_line(measured: Measured, prices: Mapping[str, Price]) -> str:
    """What the enrollments' indexes add to an enrollment's writes."""
    price = prices["dynamodb_write_request_unit"].price
    each = ", ".join(f"`{name}` {units:g}" for name, units in measured.index_writes.items())
    total = sum(measured.index_writes.values())
    return (
        f"the enrollments' indexes (GET /enrollments): {total:g} write units an enrollment, its "
        f"put and its move to PROCESSED ({each}; a key that moves is two), "
        f"{_money(total * price)} per million enrollments, in the DynamoDB line above"
    )


# --- The table -----------------------------------------------------------------------------------


def scenarios(measured: Measured) -> list[tuple[str, Scenario]]:
    """The columns of the table: both rates, with and without a key; the admitted rate with a
    webhook in place of the polls (if the notifier was measured); the seed at both rates, and at
    the admitted rate polling once after a `Retry-After` as our clients do."""
    admitted = measured.admitted_rate
    webhook = (
        [(f"{admitted:g}/s, {WEBHOOK}", Scenario(admitted, "admitted", webhook=True))]
        if measured.notifier_ms
        else []
    )
    return [
        (f"{admitted:g}/s", Scenario(admitted, "admitted")),
        (f"{admitted:g}/s, key", Scenario(admitted, "admitted", keyed=True)),
        *webhook,
        ("1/s", Scenario(1.0, "1/s")),
        ("1/s, key", Scenario(1.0, "1/s", keyed=True)),
        (f"seed {admitted:g}/s", Scenario(admitted, "admitted", seed=True)),
        (
            f"seed {admitted:g}/s, Retry-After",
            Scenario(admitted, "admitted", seed=True, follows_retry_after=True),
        ),
        ("seed 1/s", Scenario(1.0, "1/s", seed=True)),
    ]


WEBHOOK = "webhook instead of polls"


def seed_ratios(measured: Measured, prices: Mapping[str, Price]) -> dict[str, dict[str, float]]:
    """Our total at the admitted rate over the seed's, for our polling clients and (if measured)
    a webhook instead: against the seed's clients polling every second, and polling once after a
    `Retry-After` as ours do (the fair comparison)."""
    rate = measured.admitted_rate

    def total(scenario: Scenario) -> float:
        return sum(
            cost_per_million(usage(measured, scenario, prices), prices, scenario.seed).values()
        )

    seeds = {
        "every second": total(Scenario(rate, "admitted", seed=True, follows_retry_after=False)),
        "after Retry-After": total(Scenario(rate, "admitted", seed=True, follows_retry_after=True)),
    }
    ours = {"polls following Retry-After": total(Scenario(rate, "admitted"))}
    if measured.notifier_ms:
        ours[WEBHOOK] = total(Scenario(rate, "admitted", webhook=True))
    return {name: {seed: value / seeds[seed] for seed in seeds} for name, value in ours.items()}


def _money(value: float) -> str:
    return f"${value:,.2f}"


def cost_section(measured: Measured, prices: Mapping[str, Price] | None = None) -> list[str]:
    """Markdown lines: $ per million enrollments by service and load, the seed's, the fixed cost."""
    prices = prices or load_prices()
    columns = scenarios(measured)
    costs = {
        name: cost_per_million(usage(measured, s, prices), prices, s.seed) for name, s in columns
    }
    names = [name for name, _ in columns]
    admitted, seed_admitted = names[0], f"seed {measured.admitted_rate:g}/s"
    lines = [
        "### What an enrollment costs",
        "",
        "$ per million enrollments, us-east-1 list prices (bench/prices.toml), no free tier. "
        f"{names[0]}: the usage plan's admitted rate, clients polling once after the answer's "
        "`Retry-After`; 1/s: batches nearly empty; "
        f"{WEBHOOK}: every client takes a webhook and never polls (the notifier's stream and "
        "delivery invocations, its reads, the job's SQS requests and the attempt's write, in "
        "place of the GET, its gateway request, function, read and lines). The seed's "
        "design: HTTP API, a function per route, a processor that takes one message an invocation "
        "and sleeps through it; clients poll every second, or (Retry-After) once after a "
        "`Retry-After` as ours do. Same measured quantities.",
        "",
        "| service | " + " | ".join(names) + f" | ours / seed at {admitted} |",
        "|---|" + "---|" * (len(names) + 1),
    ]
    for service in SERVICES:
        row = [_money(costs[name][service]) for name in names]
        seed_cost = costs[seed_admitted][service]
        share = f"{costs[admitted][service] / seed_cost:.2f}x" if seed_cost else "n/a"
        lines.append(f"| {service} | " + " | ".join(row) + f" | {share} |")
    totals = {name: sum(costs[name].values()) for name in names}
    ratio = totals[admitted] / totals[seed_admitted]
    lines.append(
        "| **total** | "
        + " | ".join(f"**{_money(totals[name])}**" for name in names)
        + f" | **{ratio:.2f}x** |"
    )
    lines += [
        "",
        f"Our total at {admitted} over the seed's at the same rate:",
        "",
        "| ours | seed polling every second | seed polling once after Retry-After |",
        "|---|---|---|",
    ]
    for name, ratios in seed_ratios(measured, prices).items():
        lines.append(
            f"| {name} | {ratios['every second']:.2f}x | {ratios['after Retry-After']:.2f}x |"
        )
    lines += ["", "Per enrollment, the quantities priced above:", ""]
    lines += [
        "| quantity | " + " | ".join(names) + " | source |",
        "|---|" + "---|" * (len(names) + 1),
    ]
    uses = {name: usage(measured, s, prices) for name, s in columns}
    rows: list[tuple[str, str, str]] = [
        ("API requests (POST + polls)", "api_requests", "measured waits, Retry-After"),
        ("polls (GET until PROCESSED)", "polls", "measured waits, Retry-After"),
        ("API function GB-s", "api_gb_seconds", "measured, billed ms x MemorySize"),
        ("processor invocations", "processor_invocations", "measured records per batch"),
        ("processor GB-s", "processor_gb_seconds", "measured, billed ms x MemorySize"),
        (
            "notifier invocations",
            "notifier_invocations",
            "template BatchSize, Lambda's 4 polls a second of a shard",
        ),
        ("notifier GB-s", "notifier_gb_seconds", "measured, billed ms x MemorySize"),
        ("DynamoDB read units", "rru", "measured item sizes, DynamoDB rounding"),
        ("DynamoDB write units", "wru", "measured item sizes, DynamoDB rounding"),
        ("SQS requests", "sqs_requests", "modelled: send, receive and delete a batch"),
        ("log bytes", "log_bytes", "measured lines as the functions print them"),
        ("X-Ray traces", "traces", "published default sampling, per rate"),
    ]
    for label, attribute, source in rows:
        values = [f"{getattr(uses[name], attribute):.4g}" for name in names]
        lines.append(f"| {label} | " + " | ".join(values) + f" | {source} |")
    lines += [
        "",
        "Polls per enrollment until PROCESSED, over the measured times to PROCESSED:",
        "",
        "| rate | polling every second | following Retry-After | API Gateway $/M before | after |",
        "|---|---|---|---|---|",
    ]
    polling = [(n, s) for n, s in columns if not (s.seed or s.keyed or s.webhook)]
    for name, scenario in polling:
        every = replace(scenario, follows_retry_after=False)
        before, after = polls(measured, every), polls(measured, scenario)
        gateway = prices["api_gateway_rest"].price
        lines.append(
            f"| {name} | {before:.2f} | {after:.2f} | {_money((1 + before) * gateway)} "
            f"| {_money((1 + after) * gateway)} |"
        )
    lines += list_lines(measured, prices)
    fixed = fixed_monthly(measured, prices)
    own_key = prices["kms_key"].price
    lines += [
        "",
        f"Fixed, a month, idle: {_money(sum(fixed.values()))} ("
        + ", ".join(f"{name} {_money(value)}" for name, value in fixed.items())
        + f"), and {_money(own_key)} more for the KMS key of your own where DataKmsKeyArn "
        "names one (its requests are not modelled: DynamoDB asks KMS only after five minutes "
        "of inactivity per connection). The dashboard is free within an account's first 3; "
        f"the empty receives are {prices['sqs_idle_receives'].status}; the secrets' reads, one "
        "per execution environment and secret, are "
        f"${prices['secrets_manager_api_calls'].price:g} per 10,000.",
        "",
    ]
    lines += [f"- {note}" for note in measured.notes]
    if measured.age_group_bytes:
        lines.append(f"- {cap_line(measured, prices)}")
    if measured.index_writes:
        lines.append(f"- {index_line(measured, prices)}")
    lines.append(f"- {system_log_line(measured, prices)}")
    return lines


def system_log_line(measured: Measured, prices: Mapping[str, Price]) -> str:
    """What Lambda's START and REPORT lines cost per million enrollments, function by function,
    at the admitted rate: the price of SystemLogLevel INFO (docs/adr/0009-system-log-level.md)."""
    name, scenario = scenarios(measured)[0]
    use = usage(measured, scenario, prices)
    per_byte = prices["logs_ingestion"].price / GIB * MILLION
    api = use.api_requests * SYSTEM_LOG_BYTES * per_byte
    processor = use.processor_invocations * SYSTEM_LOG_BYTES * per_byte
    notifier = use.notifier_invocations * SYSTEM_LOG_BYTES * per_byte
    levels = ", ".join(
        f"{function} {measured.system_log_levels.get(function, 'WARN')}"
        for function in ("ApiFunction", "ProcessorFunction", "NotifierFunction")
    )
    return (
        f"Lambda's START and REPORT lines at SystemLogLevel INFO: about {SYSTEM_LOG_BYTES} bytes "
        f"an invocation (Lambda's published JSON schema, not measured); at {name}, "
        f"{_money(api)} per million enrollments on the API function "
        f"({use.api_requests:.2f} invocations each), {_money(processor)} on the processor "
        f"({use.processor_invocations:.3f}), {_money(notifier)} on the notifier "
        f"({use.notifier_invocations:.3f}); the template sets {levels}, and the table above "
        "counts the lines it sends"
    )


def cap_line(measured: Measured, prices: Mapping[str, Price]) -> str:
    """What every enrollment costs more with as many age groups as may be registered."""
    at_cap = read_units(math.ceil(MAX_AGE_GROUPS * measured.age_group_bytes), consistent=False)
    price = prices["dynamodb_read_request_unit"].price
    return (
        f"at the cap of {MAX_AGE_GROUPS} age groups (MAX_AGE_GROUPS), each POST /enrollments "
        f"scans {MAX_AGE_GROUPS} items of up to {measured.age_group_bytes:.0f} bytes: "
        f"{at_cap:g} read units in place of {measured.rru_scan:g}, "
        f"{_money((at_cap - measured.rru_scan) * price)} more per million enrollments"
    )


# --- Capacity plan -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    """A limit that a rate meets, its value, what the plan needs of it, and its source."""

    name: str
    value: float
    needed: float
    source: str

    @property
    def headroom(self) -> float:
        return self.value / self.needed if self.needed else math.inf


@dataclass(frozen=True)
class Plan:
    """What to set for a sustained rate, the limits it meets, and what it costs a month."""

    rate: float
    batch_size: int
    batching_window_seconds: float
    maximum_concurrency: int
    processor_capacity: float
    api_requests_per_second: float
    usage_plan_rate: int
    usage_plan_burst: int
    stage_rate: int
    stage_burst: int
    api_concurrency: int
    account_concurrency: int
    ramp_minutes: float
    wru_per_second: float
    rru_per_second: float
    # The enrollments' indexes, all of them; a client's own partition (`by-owner`) if one client
    # sent the whole rate; a shard of every client's (`by-shard`).
    index_wru_per_second: float
    owner_partition_wru: float
    shard_partition_wru: float
    limits: list[Limit]
    monthly: float
    seed_monthly: float


HEADROOM = 1.25
BATCH_SIZE = 10


def parse_rate(text: str) -> float:
    """A rate of enrollments a second from the command line, or `ValueError` saying why not."""
    message = f"RATE must be a positive number of enrollments a second, not {text!r}"
    try:
        rate = float(text)
    except ValueError:
        raise ValueError(message) from None
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(message)
    return rate


def plan(
    rate: float,
    measured: Measured,
    prices: Mapping[str, Price] | None = None,
    keyed: bool = True,
    monthly_quota: float | None = None,
) -> Plan:
    """What to set for `rate` enrollments a second, sustained; priced with every request keyed.

    `monthly_quota` is the usage plan's quota the template deploys (requests a month per key), if
    it deploys one.
    """
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"the rate must be a positive number, not {rate!r}")
    prices = prices or load_prices()
    scenario = Scenario(rate, "admitted", keyed=keyed)
    use = usage(measured, scenario, prices)
    batch_seconds = (
        billed_ms(measured.processing_delay_seconds * 1000 + measured.overhead_ms(BATCH_SIZE))
        / 1000
    )
    # Little's law: concurrent batches = batches a second x seconds each, with headroom.
    concurrency = max(2, math.ceil(rate / BATCH_SIZE * batch_seconds * HEADROOM))
    api_rps = rate * use.api_requests
    api_seconds = (
        measured.api_keyed_post_ms if keyed else measured.api_post_ms
    ) / 1000 + use.polls * measured.api_get_ms / 1000
    # Lambda runs each request in an environment of its own for its duration.
    api_concurrency = math.ceil(rate * api_seconds * HEADROOM * 2)
    account = concurrency + api_concurrency
    usage_plan_rate = math.ceil(api_rps * HEADROOM)
    stage_rate = usage_plan_rate
    # The limits are a table's: the enrollments table takes the enrollment's write (doubled in a
    # transaction) and the processor's update; the idempotency table the claim and its update.
    enrollments_wru = (2 if keyed else 1) * measured.wru_put + measured.wru_update
    keys_wru = measured.wru_claim + measured.wru_transaction - 2 * measured.wru_put if keyed else 0
    wru = rate * max(enrollments_wru, keys_wru)
    rru = rate * use.rru
    index_wru = rate * sum(measured.index_writes.values())
    owner_partition = rate * measured.index_writes.get(BY_OWNER.name, 0.0)
    # A shard of `by-shard` takes its enrollments' puts and updates (and PENDING's shard of
    # `by-status-shard` as many: their puts and their moves out).
    shard_partition = rate * measured.index_writes.get(BY_SHARD.name, 0.0) / SHARDS
    ramp = max(0.0, (concurrency - 5) / 300)
    limits = [
        Limit(
            "account Lambda concurrency, a new account (reported: unconfirmed)",
            10,
            account,
            "AWS-FACTS.md, Lambda quotas page; ask for an increase before launch",
        ),
        Limit(
            "account Lambda concurrency (default)",
            1000,
            account,
            "Lambda quotas page",
        ),
        Limit(
            "SQS event source concurrency",
            1250,
            concurrency,
            "Lambda guide, services-sqs-scaling",
        ),
        Limit("MaximumConcurrency", 1000, concurrency, "ScalingConfig API reference"),
        Limit(
            "API Gateway account throttle (requests/s)",
            10000,
            api_rps,
            "API Gateway quotas page",
        ),
        Limit(
            "DynamoDB new on-demand table (WRU/s, the busier table)",
            4000,
            wru,
            "DynamoDB guide, pre-warming on-demand tables",
        ),
        Limit(
            "DynamoDB new on-demand table (RRU/s)",
            12000,
            rru,
            "DynamoDB guide, pre-warming on-demand tables",
        ),
        Limit(
            "DynamoDB per partition (WRU/s, ids spread writes over partitions)",
            1000,
            wru / 4,
            "DynamoDB guide, warm throughput (4 partitions at 4,000 WRU/s: assumed)",
        ),
    ]
    if measured.index_writes:
        limits.append(
            Limit(
                "DynamoDB index partition (WRU/s, one client's own enrollments at the whole rate)",
                1000,
                owner_partition,
                "DynamoDB guide, warm throughput; docs/adr/0011-enrollment-lists.md",
            )
        )
    if monthly_quota is not None:
        limits.append(
            Limit(
                "usage plan quota (requests a month per key)",
                monthly_quota,
                api_rps * SECONDS_PER_MONTH,
                "template.yaml UsagePlanMonthlyQuota",
            )
        )
    limits.sort(key=lambda limit: limit.headroom)
    per_enrollment = sum(cost_per_million(use, prices).values()) / MILLION
    seed_use = usage(measured, replace(scenario, seed=True), prices)
    seed_per_enrollment = sum(cost_per_million(seed_use, prices, seed=True).values()) / MILLION
    fixed = sum(fixed_monthly(measured, prices).values())
    monthly_enrollments = rate * SECONDS_PER_MONTH
    return Plan(
        rate=rate,
        batch_size=BATCH_SIZE,
        batching_window_seconds=1.0,
        maximum_concurrency=concurrency,
        processor_capacity=concurrency * BATCH_SIZE / batch_seconds,
        api_requests_per_second=api_rps,
        usage_plan_rate=usage_plan_rate,
        usage_plan_burst=2 * usage_plan_rate,
        stage_rate=stage_rate,
        stage_burst=2 * stage_rate,
        api_concurrency=api_concurrency,
        account_concurrency=account,
        ramp_minutes=ramp,
        wru_per_second=wru,
        rru_per_second=rru,
        index_wru_per_second=index_wru,
        owner_partition_wru=owner_partition,
        shard_partition_wru=shard_partition,
        limits=limits,
        monthly=per_enrollment * monthly_enrollments + fixed,
        seed_monthly=seed_per_enrollment * monthly_enrollments + fixed,
    )


def plan_lines(result: Plan) -> list[str]:
    """The plan as text: what to set, the limits in the order they bind, the monthly cost."""
    monthly_requests = math.ceil(result.api_requests_per_second * SECONDS_PER_MONTH * HEADROOM)
    lines = [
        f"Plan for {result.rate:g} enrollments/s sustained (every request with an Idempotency-Key)",
        "",
        "Set:",
        f"  ProcessorFunction SQS event: BatchSize {result.batch_size}, "
        f"MaximumBatchingWindowInSeconds {result.batching_window_seconds:g}, "
        f"ScalingConfig.MaximumConcurrency {result.maximum_concurrency} "
        f"(clears {result.processor_capacity:,.0f}/s, {HEADROOM:g}x the rate)",
        f"  UsagePlan Throttle: RateLimit {result.usage_plan_rate}, BurstLimit "
        f"{result.usage_plan_burst} per API key ({result.api_requests_per_second:,.0f} "
        "requests/s: POST and polls following Retry-After)",
        f"  UsagePlanMonthlyQuota: 0 (none, the default), or at least {monthly_requests:,} "
        "requests a month per key",
        f"  Api stage MethodSettings: ThrottlingRateLimit {result.stage_rate}, "
        f"ThrottlingBurstLimit {result.stage_burst} (all keys together)",
        f"  Account Lambda concurrency: at least {result.account_concurrency} "
        f"(processor {result.maximum_concurrency} + API {result.api_concurrency}: its "
        "measured duration x requests/s, with 2.5x headroom for cold starts and AWS latency)",
        f"  The event source reaches {result.maximum_concurrency} concurrent batches "
        f"{result.ramp_minutes:.1f} min after a burst starts (from 5, +300 a minute)",
        f"  DynamoDB: {result.wru_per_second:,.0f} WRU/s on the busier table, "
        f"{result.rru_per_second:,.0f} RRU/s in all",
        f"  DynamoDB indexes of the enrollments (GET /enrollments): "
        f"{result.index_wru_per_second:,.0f} WRU/s in all; a partition of one client's own "
        f"{result.owner_partition_wru:,.0f} at most (if one client sent the whole rate), a "
        f"shard of every client's {result.shard_partition_wru:,.0f} (of 1,000 each)",
        "",
        "Limits, the first to bind first:",
    ]
    for limit in result.limits:
        lines.append(
            f"  {limit.name}: {limit.value:,.0f}, needed {limit.needed:,.0f} "
            f"({limit.headroom:.1f}x headroom) [{limit.source}]"
        )
    lines += [
        "",
        f"Monthly cost at {result.rate:g}/s: ${result.monthly:,.0f} "
        f"(the seed's design, same quantities: ${result.seed_monthly:,.0f})",
    ]
    return lines
