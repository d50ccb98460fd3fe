"""The processor's idea of an orphan message follows from the template's timeouts."""

from typing import Any

from processor.handler import ORPHAN_MARGIN_SECONDS


def props(cfn: dict[str, Any], logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = cfn["Resources"][logical_id]["Properties"]
    return properties


def test_the_processor_knows_the_api_functions_timeout(cfn: dict[str, Any]) -> None:
    variables = props(cfn, "ProcessorFunction")["Environment"]["Variables"]

    assert int(variables["API_TIMEOUT_SECONDS"]) == props(cfn, "ApiFunction")["Timeout"]


def test_an_orphan_is_recognized_before_it_would_be_dead_lettered(cfn: dict[str, Any]) -> None:
    queue = props(cfn, "EnrollmentQueue")
    orphan_age = props(cfn, "ApiFunction")["Timeout"] + ORPHAN_MARGIN_SECONDS
    # Receive n comes at least (n - 1) visibility timeouts after the send: the last receive
    # before the dead-letter queue finds the message old enough to be deleted as an orphan.
    last_receive = (queue["RedrivePolicy"]["maxReceiveCount"] - 1) * queue["VisibilityTimeout"]

    assert orphan_age < last_receive
