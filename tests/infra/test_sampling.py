"""The API's X-Ray sampling rule: 5% of its requests, without the default one-a-second reservoir."""

from typing import Any

import pytest

from bench.cost import Scenario, load_prices, usage
from bench.usage import load_measured
from local.template import resources_of_type


def test_the_api_stage_is_sampled_at_five_percent_without_a_reservoir(
    cfn: dict[str, Any],
) -> None:
    rules = resources_of_type(cfn, "AWS::XRay::SamplingRule")
    assert len(rules) == 1
    (rule,) = (props["SamplingRule"] for props in rules.values())

    assert rule["ServiceType"] == "AWS::ApiGateway::Stage"
    assert rule["ServiceName"] == {"Fn::Sub": "${AWS::StackName}/${StageName}"}
    assert (rule["ReservoirSize"], rule["FixedRate"]) == (0, 0.05)
    assert all(rule[name] == "*" for name in ("ResourceARN", "Host", "HTTPMethod", "URLPath"))


def test_the_recorded_costs_were_measured_with_the_rule() -> None:
    measured = load_measured()
    prices = load_prices()

    assert measured.api_sampling == {"reservoir": 0.0, "rate": 0.05}
    # At 1/s: 5% of the API's requests (the POST and its polls); of the processor's and the
    # notifier's invocations, the default rule's reservoir of one a second, then 5%.
    slow = usage(measured, Scenario(1.0, "1/s"), prices)
    assert slow.processor_invocations == pytest.approx(measured.records_per_batch["1/s"] ** -1)
    functions = slow.processor_invocations + slow.notifier_invocations
    assert slow.traces == pytest.approx(
        0.05 * slow.api_requests + min(functions, 1) + 0.05 * max(0.0, functions - 1)
    )
