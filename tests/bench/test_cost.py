"""The cost model and the capacity plan: pure functions over measured quantities and prices."""

import math
from dataclasses import replace

import pytest

from app.adapters import enrollments
from app.adapters.samples import SAMPLE_ENROLLMENT
from bench import cost
from bench.cost import Measured, Scenario
from local.gateway import usage_plan_quota
from local.template import load_template

PRICES = cost.load_prices()


def measured(**overrides: object) -> Measured:
    """Quantities of the shape `make bench` measures, with round numbers."""
    values: dict[str, object] = {
        "api_post_ms": 15.2,
        "api_keyed_post_ms": 30.0,
        "api_get_ms": 7.4,
        "api_memory_mb": 512,
        "processor_overhead_ms": {"1": 15.0, "10": 120.0},
        "processor_memory_mb": 128,
        "processing_delay_seconds": 4.0,
        "records_per_batch": {"admitted": 10.0, "1/s": 1.0},
        "seconds_to_processed": {"admitted": [4.3, 4.6], "1/s": [4.5, 5.4]},
        "retry_after_seconds": 6.0,
        "rru_scan": 0.5,
        "wru_put": 1.0,
        "wru_claim": 1.0,
        "wru_transaction": 4.0,
        "rru_get": 1.0,
        "wru_update": 1.0,
        "log_bytes_post": 800.0,
        "log_bytes_keyed_post": 800.0,
        "log_bytes_get": 260.0,
        "log_bytes_record": 300.0,
        "log_bytes_invocation": {"1": 300.0, "10": 300.0},
        "alarms": 6,
        "dashboards": 1,
        "custom_metrics": 5,
        "admitted_rate": 50.0,
    }
    return Measured(**(values | overrides))  # type: ignore[arg-type]


def test_every_price_names_its_unit_source_date_and_status() -> None:
    for name, price in PRICES.items():
        # A price of nothing says so in its unit (the stream's reads by a Lambda trigger).
        assert price.price > 0 or "free" in price.unit, name
        assert all((price.unit, price.source, price.read)), name
        assert price.status in {"published", "unconfirmed"}, name
    assert PRICES["api_gateway_rest"].price == 3.50
    assert PRICES["api_gateway_http"].price == 1.00
    assert PRICES["sqs_idle_receives"].status == "unconfirmed"


@pytest.mark.parametrize(
    ("item", "size"),
    [
        ({"id": {"S": "abc"}}, 5),
        ({"n": {"N": "22"}}, 1 + 2),
        ({"n": {"N": "-12345"}}, 1 + 4),
        ({"ok": {"BOOL": True}}, 3),
        ({"m": {"M": {"a": {"S": "xy"}}}}, 1 + 3 + 1 + 2 + 1),
    ],
)
def test_item_sizes_count_names_and_values(item: dict[str, dict[str, object]], size: int) -> None:
    assert cost.item_size(item) == size


def test_units_round_up_and_transactions_count_twice() -> None:
    assert cost.write_units(183) == 1
    assert cost.write_units(1025) == 2
    assert cost.write_units(466, transactional=True) == 2
    assert cost.read_units(183) == 1
    assert cost.read_units(4097) == 2
    assert cost.read_units(100, consistent=False) == 0.5


def test_polls_every_second_against_following_retry_after() -> None:
    assert [cost.polls_every(w) for w in (0.5, 1.0, 4.3, 5.4)] == [1, 1, 5, 6]
    assert [cost.polls_following_retry_after(w, 6.0) for w in (4.3, 6.0, 6.2, 8.5)] == [1, 1, 2, 4]


def test_sampling_takes_the_reservoir_then_a_share() -> None:
    assert cost.sampled_per_second(0.5, 1, 0.05) == 0.5
    assert cost.sampled_per_second(101, 1, 0.05) == pytest.approx(6.0)


def test_retry_after_cuts_the_gateways_requests_to_the_post_and_one_poll() -> None:
    quantities = measured()
    before = cost.usage(quantities, Scenario(50, "admitted", follows_retry_after=False), PRICES)
    after = cost.usage(quantities, Scenario(50, "admitted"), PRICES)

    assert (before.polls, after.polls) == (5.0, 1.0)
    assert (before.api_requests, after.api_requests) == (6.0, 2.0)


def test_an_enrollment_at_the_admitted_rate_priced_line_by_line() -> None:
    quantities = measured()
    use = cost.usage(quantities, Scenario(50, "admitted"), PRICES)
    lines = cost.cost_per_million(use, PRICES)

    assert lines["API Gateway"] == pytest.approx(2 * 3.50)
    # A batch of 10: 4,120 ms at 128 MB for ten records, and a tenth of an invocation each.
    assert use.processor_gb_seconds == pytest.approx(4.120 / 10 / 8)
    assert lines["Lambda: processor"] == pytest.approx(0.1 * 0.20 + 0.0515 * 13.3334, rel=1e-4)
    # The POST (16 ms) and a GET (8 ms) at 512 MB, two requests.
    assert lines["Lambda: API"] == pytest.approx(2 * 0.20 + 0.024 / 2 * 13.3334, rel=1e-4)
    # The put and the processor's update; the indexes' writes are measured from the template.
    assert use.wru == 2.0
    assert use.rru == 0.5 + 1 + 1
    assert lines["SQS"] == pytest.approx(1.2 * 0.40)


def test_a_key_adds_its_claim_and_the_transactions_double_units() -> None:
    quantities = measured()
    plain = cost.usage(quantities, Scenario(50, "admitted"), PRICES)
    keyed = cost.usage(quantities, Scenario(50, "admitted", keyed=True), PRICES)

    assert keyed.wru - plain.wru == 1 + 4 - 1


def test_nearly_empty_batches_cost_a_delay_per_record() -> None:
    quantities = measured()
    slow = cost.usage(quantities, Scenario(1, "1/s"), PRICES)
    busy = cost.usage(quantities, Scenario(50, "admitted"), PRICES)

    assert slow.processor_gb_seconds == pytest.approx(4.015 / 8)
    assert slow.processor_gb_seconds / busy.processor_gb_seconds > 9


def test_the_seed_design_pays_http_prices_but_polls_every_second_and_a_delay_per_message() -> None:
    quantities = measured()
    scenario = Scenario(50, "admitted")
    ours = cost.cost_per_million(cost.usage(quantities, scenario, PRICES), PRICES)
    seed_use = cost.usage(quantities, replace(scenario, seed=True), PRICES)
    seed = cost.cost_per_million(seed_use, PRICES, seed=True)

    assert seed_use.polls == 5.0
    assert seed["API Gateway"] == pytest.approx(6 * 1.00)
    assert seed_use.processor_invocations == 1.0
    assert seed["Lambda: processor"] > 9 * ours["Lambda: processor"]
    assert sum(seed.values()) > sum(ours.values())


def test_sampling_records_nearly_every_enrollment_at_one_a_second() -> None:
    quantities = measured()
    slow = cost.usage(quantities, Scenario(1, "1/s"), PRICES)
    busy = cost.usage(quantities, Scenario(50, "admitted"), PRICES)

    # One a second from each reservoir: the API's (2 requests a second) and the processor's.
    assert slow.traces == pytest.approx(1 + 0.05 + 1)
    assert busy.traces < 0.2


def test_the_fixed_monthly_cost_of_an_idle_stack() -> None:
    fixed = cost.fixed_monthly(measured(), PRICES)

    assert fixed["alarms"] == pytest.approx(0.60)
    assert fixed["dashboard"] == 3.00
    assert fixed["custom metrics (any month with traffic)"] == pytest.approx(1.50)
    assert fixed["SnapStart cache, one version"] == pytest.approx(0.5 * 730 * 3600 * 0.0000015046)
    assert fixed["SQS event sources' empty receives"] == pytest.approx(900 * 730 * 0.40 / 1e6)
    two = cost.fixed_monthly(measured(sqs_event_sources=2), PRICES)
    assert two["SQS event sources' empty receives"] == pytest.approx(2 * 900 * 730 * 0.40 / 1e6)
    assert fixed["the secrets (the lists' cursors, the CPF's key)"] == 0
    assert "KMS key of your own (DataKmsKeyArn)" not in fixed
    with_key = cost.fixed_monthly(measured(), PRICES, data_key=True)
    assert with_key["KMS key of your own (DataKmsKeyArn)"] == 1.00
    assert sum(with_key.values()) == pytest.approx(sum(fixed.values()) + 1.00)


def test_the_section_has_a_line_per_service_and_the_seeds_ratio() -> None:
    lines = cost.cost_section(measured(), PRICES)
    table = [line for line in lines if line.startswith("| ")]

    for service in cost.SERVICES:
        assert any(line.startswith(f"| {service} |") for line in table), service
    header = table[0]
    assert all(column in header for column in ("50/s", "1/s, key", "seed 1/s"))
    assert any(line.startswith("Fixed, a month, idle: $") for line in lines)
    assert any("polls" in line for line in table)


@pytest.mark.parametrize("rate", [0.5, 50, 200, 1000])
def test_the_plan_clears_the_rate_it_plans_for(rate: float) -> None:
    result = cost.plan(rate, measured(), PRICES)

    assert result.processor_capacity >= rate
    assert result.usage_plan_rate >= result.api_requests_per_second
    assert result.account_concurrency >= result.maximum_concurrency + result.api_concurrency
    assert result.limits == sorted(result.limits, key=lambda limit: limit.headroom)
    assert all(limit.source for limit in result.limits)


def test_costs_grow_with_the_rate() -> None:
    monthly = [cost.plan(rate, measured(), PRICES).monthly for rate in (1, 10, 200, 1000)]

    assert monthly == sorted(monthly)
    assert monthly[0] < monthly[-1]


def test_the_plan_prices_the_seed_design_from_the_same_quantities() -> None:
    result = cost.plan(200, measured(), PRICES)

    assert result.seed_monthly > result.monthly
    assert any("seed" in line for line in cost.plan_lines(result))


def test_at_200_a_second_a_new_accounts_concurrency_binds_first_then_dynamodb() -> None:
    result = cost.plan(200, measured(), PRICES)
    names = [limit.name for limit in result.limits]

    assert names[0].startswith("account Lambda concurrency, a new account")
    assert names[1].startswith("DynamoDB")
    # Keyed: 3 WRU an enrollment on each table, not the 6 of both together.
    assert result.wru_per_second == 600
    text = "\n".join(cost.plan_lines(result))
    assert all(setting in text for setting in ("MaximumConcurrency", "RateLimit"))


@pytest.mark.parametrize("text", ["0", "-3", "abc", "", "nan", "inf"])
def test_a_rate_that_is_not_a_positive_number_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="positive number"):
        cost.parse_rate(text)
    assert cost.parse_rate("200") == 200.0
    with pytest.raises(ValueError, match="positive number"):
        cost.plan(-1, measured(), PRICES)


def test_make_plan_says_why_a_rate_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.plan import main

    assert main(["fast"]) == 2
    assert "positive number" in capsys.readouterr().err
    assert main([]) == 2


def test_make_plan_works_from_the_recorded_run(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.plan import main

    assert main(["200"]) == 0
    out = capsys.readouterr().out
    assert all(part in out for part in ("MaximumConcurrency", "Monthly cost at 200/s"))
    assert not math.isnan(
        float(out.split("Monthly cost at 200/s: $")[1].split()[0].replace(",", ""))
    )


def test_a_monthly_quota_below_the_rates_requests_binds_first() -> None:
    result = cost.plan(50, measured(), PRICES, monthly_quota=100_000)

    assert result.limits[0].name.startswith("usage plan quota")
    assert result.limits[0].needed == pytest.approx(50 * 2 * 730 * 3600)


def test_the_plan_has_no_quota_limit_while_the_template_deploys_none() -> None:
    result = cost.plan(50, measured(), PRICES, monthly_quota=usage_plan_quota(load_template()))

    assert not any("quota" in limit.name for limit in result.limits)
    assert "UsagePlanMonthlyQuota: 0 (none, the default)" in "\n".join(cost.plan_lines(result))


def test_the_cost_of_an_enrollment_at_the_cap_of_age_groups_is_priced_from_a_groups_size() -> None:
    line = cost.cap_line(replace(measured(), age_group_bytes=130), PRICES)

    # 100 groups of 130 bytes: 13,000 bytes, 4 units of 4 KB, half as an eventual read.
    assert "2 read units in place of 0.5" in line
    price = PRICES["dynamodb_read_request_unit"].price
    assert line.endswith(f"{cost._money(1.5 * price)} more per million enrollments")


def test_the_indexes_writes_are_counted_from_the_template_and_an_items_size() -> None:
    from bench.usage import index_writes

    item = enrollments.to_item(SAMPLE_ENROLLMENT.model_copy(update={"owner": "client-a"}))

    # Each put once; an update rewrites an index item where it is, or moves it: a delete, a put.
    assert index_writes(load_template(), dict(item)) == {
        "by-owner": 2.0,
        "by-owner-status": 3.0,
        "by-shard": 2.0,
        "by-status-shard": 3.0,
        # Keys alone: its put, and no write when the status changes; none without a CPF hash.
        "CpfHashIndex": 0.0,
    }
    hashed = enrollments.to_item(SAMPLE_ENROLLMENT.model_copy(update={"cpf_hash": "a" * 64}))
    assert index_writes(load_template(), dict(hashed))["CpfHashIndex"] == 1.0
    # An enrollment without an owner is in no index of a client's own.
    no_owner = index_writes(load_template(), dict(enrollments.to_item(SAMPLE_ENROLLMENT)))
    assert (no_owner["by-owner"], no_owner["by-owner-status"]) == (0.0, 0.0)


INDEX_WRITES = {"by-owner": 2.0, "by-owner-status": 3.0, "by-shard": 2.0, "by-status-shard": 3.0}


def test_an_enrollment_pays_its_index_writes_and_the_seeds_design_none() -> None:
    plain = cost.usage(measured(), Scenario(50, "admitted"), PRICES)
    indexed = measured(index_writes=INDEX_WRITES)

    assert cost.usage(indexed, Scenario(50, "admitted"), PRICES).wru == plain.wru + 10
    assert cost.usage(indexed, Scenario(50, "admitted", seed=True), PRICES).wru == plain.wru
    assert "10 write units an enrollment" in cost.index_line(indexed, PRICES)


def test_a_thousand_pages_of_a_list_priced_line_by_line() -> None:
    pages = {"first": {"ms": 7.2, "rru": 1.0, "log_bytes": 300.0, "items": 20.0}}
    quantities = measured(list_pages=pages | {"next": pages["first"]}, access_log_bytes=400.0)

    lines = cost.list_page_cost(quantities, "first", PRICES)

    assert lines["API Gateway"] == pytest.approx(3.50 / 1000)
    # 8 billed ms at 512 MB, and the request.
    assert lines["Lambda: API"] == pytest.approx((0.20 + 0.004 * 13.3334) / 1000, rel=1e-4)
    assert lines["DynamoDB"] == pytest.approx(0.125 / 1000)
    assert lines["CloudWatch Logs"] == pytest.approx(700 / 1024**3 * 0.50 * 1000)
    section = "\n".join(cost.cost_section(quantities, PRICES))
    assert "| first | $0.0035 |" in section
    assert "| next | $0.0035 |" in section


def test_the_secrets_are_in_the_fixed_cost() -> None:
    line = "the secrets (the lists' cursors, the CPF's key)"
    assert cost.fixed_monthly(measured(secrets=2), PRICES)[line] == pytest.approx(0.80)
    assert cost.fixed_monthly(measured(), PRICES)[line] == 0


def test_at_200_a_second_the_plan_shows_the_indexes_writes_and_a_clients_partition() -> None:
    result = cost.plan(200, measured(index_writes=INDEX_WRITES), PRICES)
    text = "\n".join(cost.plan_lines(result))

    assert result.index_wru_per_second == 2000
    # One client alone at 200/s: its put and its update, 400 of a partition's 1,000.
    assert result.owner_partition_wru == 400
    assert result.shard_partition_wru == 100
    (limit,) = [limit for limit in result.limits if limit.name.startswith("DynamoDB index")]
    assert (limit.value, limit.needed) == (1000, 400)
    assert "2,000 WRU/s in all" in text


# --- A webhook instead of polls ------------------------------------------------------------------

NOTIFIER = {
    "notifier_memory_mb": 128,
    "notifier_batch_sizes": {"stream": 100.0, "queue": 10.0},
    "notifier_ms": {"stream": {"1": 20.0, "10": 110.0}, "queue": {"1": 30.0, "10": 120.0}},
    "notifier_log_bytes": {
        "stream": {"1": 200.0, "10": 2000.0},
        "queue": {"1": 500.0, "10": 3200.0},
    },
    "rru_webhook_get": 1.0,
    "wru_delivery": 1.0,
}


def test_a_stream_invocation_holds_a_polls_worth_of_changes_within_its_batch_size() -> None:
    # Four polls a second of one shard: 50 changes a second are 12.5 an invocation.
    assert cost.stream_records_per_invocation(50, 100) == 12.5
    assert cost.stream_records_per_invocation(1, 100) == 1.0
    assert cost.stream_records_per_invocation(1000, 100) == 100


def test_the_models_batch_sizes_and_windows_are_the_templates() -> None:
    from local.poller import sqs_function_config
    from local.stream import stream_source

    template = load_template()
    stream = stream_source(template, "NotifierFunction")
    queue = sqs_function_config(template, "NotifierFunction")
    events = template["Resources"]["NotifierFunction"]["Properties"]["Events"]

    assert stream is not None
    assert (stream.batch_size, queue.batch_size) == (100, 10)
    # The model takes an invocation to hold what one poll found: no window on either source.
    assert events["EnrollmentChanges"]["Properties"]["MaximumBatchingWindowInSeconds"] == 0
    assert queue.batching_window_seconds == 0


def test_a_webhook_instead_of_polls_at_the_admitted_rate_priced_line_by_line() -> None:
    quantities = measured(**NOTIFIER)
    use = cost.usage(quantities, Scenario(50, "admitted", webhook=True), PRICES)
    lines = cost.cost_per_million(use, PRICES)

    # The POST alone: no GET, its gateway request, function, read or lines.
    assert (use.polls, use.api_requests) == (0.0, 1.0)
    assert lines["API Gateway"] == pytest.approx(3.50)
    assert use.api_gb_seconds == pytest.approx(0.016 / 2)
    # A stream batch of 12.5 (135 ms) and a queue batch of 10 (120 ms), at 128 MB.
    assert use.notifier_invocations == pytest.approx(1 / 12.5 + 1 / 10)
    assert use.notifier_gb_seconds == pytest.approx(0.135 / 8 / 12.5 + 0.120 / 8 / 10)
    assert lines["Lambda: notifier"] == pytest.approx(
        0.18 * 0.20 + use.notifier_gb_seconds * 13.3334, rel=1e-4
    )
    # The scan and the processor's read; the stream's read of the enrollment and of the webhook
    # (eventually), the delivery's of both; the put, the update, and the attempt's write.
    assert use.rru == 0.5 + 1 + (1 + 0.5) + (1 + 1)
    assert use.wru == 1 + 1 + 1
    # The enrollment's send and its batch's share; the job's send and its batch's share.
    assert use.sqs_requests == pytest.approx(1 + 0.2 + 1 + 0.2)
    # The POST's, the record's and its invocation's share; the notifier's two invocations'.
    assert use.log_bytes == pytest.approx(800 + 300 + 30 + 2500 / 12.5 + 3200 / 10)


def test_polling_clients_still_cost_the_streams_read_of_each_change() -> None:
    without = cost.usage(measured(), Scenario(50, "admitted"), PRICES)
    polling = cost.usage(measured(**NOTIFIER), Scenario(50, "admitted"), PRICES)

    assert polling.notifier_invocations == pytest.approx(1 / 12.5)
    assert polling.rru - without.rru == 1 + 0.5
    assert (polling.wru, polling.sqs_requests) == (without.wru, without.sqs_requests)
    # At one a second, each change is an invocation of its own.
    slow = cost.usage(measured(**NOTIFIER), Scenario(1, "1/s", webhook=True), PRICES)
    assert slow.notifier_invocations == 2.0


def test_the_seed_is_set_beside_us_polling_every_second_and_once_after_retry_after() -> None:
    quantities = measured(**NOTIFIER)
    every = cost.usage(quantities, Scenario(50, "admitted", seed=True), PRICES)
    after = cost.usage(
        quantities, Scenario(50, "admitted", seed=True, follows_retry_after=True), PRICES
    )
    # The seed has no notifier, whatever its clients do.
    assert (every.polls, after.polls) == (5.0, 1.0)
    assert every.notifier_invocations == after.notifier_invocations == 0

    ratios = cost.seed_ratios(quantities, PRICES)

    def total(use: cost.Usage, seed: bool = False) -> float:
        return sum(cost.cost_per_million(use, PRICES, seed=seed).values())

    ours = total(cost.usage(quantities, Scenario(50, "admitted"), PRICES))
    assert ratios["polls following Retry-After"]["every second"] == pytest.approx(
        ours / total(every, seed=True)
    )
    assert ratios["polls following Retry-After"]["after Retry-After"] == pytest.approx(
        ours / total(after, seed=True)
    )
    hooked = ratios[cost.WEBHOOK]
    assert hooked["after Retry-After"] > hooked["every second"]
    assert hooked["after Retry-After"] < ratios["polls following Retry-After"]["after Retry-After"]


def test_the_section_has_the_webhook_column_and_both_seed_comparisons() -> None:
    lines = cost.cost_section(measured(**NOTIFIER), PRICES)
    table = [line for line in lines if line.startswith("| ")]

    assert "| 50/s, webhook instead of polls |" in table[0]
    assert "| seed 50/s, Retry-After |" in table[0]
    assert any(line.startswith("| Lambda: notifier |") for line in table)
    assert any(line.startswith("| webhook instead of polls | ") for line in table)
    # Without the notifier measured (an older bench/measured.json), no webhook column.
    older = [line for line in cost.cost_section(measured(), PRICES) if line.startswith("| ")]
    assert "webhook" not in older[0]
