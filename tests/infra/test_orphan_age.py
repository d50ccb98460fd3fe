"""The processor's idea of an orphan message follows from the template's timeouts."""

from typing import Any

from app.domain.processing import ORPHAN_MARGIN_SECONDS


def props(cfn: dict[str, Any], logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = cfn["Resources"][logical_id]["Properties"]
    return properties


TIMEOUT = {"Ref": "ApiTimeoutSeconds"}
# API Gateway's integration timeout for a REST API (its quotas page): the client's 504.
GATEWAY_TIMEOUT_SECONDS = 29


def test_the_processor_knows_the_api_functions_timeout_from_one_parameter(
    cfn: dict[str, Any],
) -> None:
    variables = props(cfn, "ProcessorFunction")["Environment"]["Variables"]

    assert props(cfn, "ApiFunction")["Timeout"] == TIMEOUT
    assert variables["API_TIMEOUT_SECONDS"] == TIMEOUT


def test_the_api_function_stops_before_api_gateway_gives_up(cfn: dict[str, Any]) -> None:
    parameter = cfn["Parameters"]["ApiTimeoutSeconds"]

    assert parameter["MaxValue"] < GATEWAY_TIMEOUT_SECONDS
    # A margin for API Gateway's own overhead and a SnapStart restore.
    assert parameter["Default"] <= GATEWAY_TIMEOUT_SECONDS - 4


def test_an_orphan_is_recognized_before_it_would_be_dead_lettered(cfn: dict[str, Any]) -> None:
    queue = props(cfn, "EnrollmentQueue")
    orphan_age = cfn["Parameters"]["ApiTimeoutSeconds"]["MaxValue"] + ORPHAN_MARGIN_SECONDS
    # Receive n comes at least (n - 1) visibility timeouts after the send: the last receive
    # before the dead-letter queue finds the message old enough to be deleted as an orphan.
    last_receive = (queue["RedrivePolicy"]["maxReceiveCount"] - 1) * queue["VisibilityTimeout"]

    assert orphan_age < last_receive
