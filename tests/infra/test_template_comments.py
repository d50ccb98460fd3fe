"""The reasoning written beside the template's values states those values, not older ones."""

import re
from typing import Any

from local.template import load_template
from tests.infra.conftest import TEMPLATE

TEMPLATE_DATA: dict[str, Any] = load_template(TEMPLATE)


def comment_before(text: str, anchor: str) -> str:
    """The comment lines right above the first line of `text` that contains `anchor`."""
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if anchor in line)
    comment: list[str] = []
    for line in reversed(lines[:index]):
        if not line.strip().startswith("#"):
            break
        comment.insert(0, line.strip().lstrip("# "))
    return " ".join(comment)


def numbers(comment: str) -> set[str]:
    return set(re.findall(r"\d+(?:\.\d+)?", comment))


def test_the_queue_age_threshold_names_the_event_sources_concurrency() -> None:
    event = TEMPLATE_DATA["Resources"]["ProcessorFunction"]["Properties"]["Events"]
    [source] = event.values()
    concurrency = source["Properties"]["ScalingConfig"]["MaximumConcurrency"]
    delay = TEMPLATE_DATA["Resources"]["ProcessorFunction"]["Properties"]["Environment"][
        "Variables"
    ]["PROCESSING_DELAY_SECONDS"]
    alarm = TEMPLATE_DATA["Resources"]["EnrollmentQueueAgeAlarm"]["Properties"]
    comment = comment_before(TEMPLATE.read_text(), "Threshold: 60\n".strip())

    assert f"{concurrency} concurrent batches" in comment
    assert f"({delay} s)" in comment
    assert str(alarm["Threshold"] // int(delay)) in numbers(comment) or "fifteen" in comment
    visibility = TEMPLATE_DATA["Resources"]["EnrollmentQueue"]["Properties"]["VisibilityTimeout"]
    assert f"({2 * visibility} s)" in comment


def test_the_capacity_comment_states_the_values_it_reasons_from() -> None:
    [source] = TEMPLATE_DATA["Resources"]["ProcessorFunction"]["Properties"]["Events"].values()
    settings = source["Properties"]
    comment = comment_before(TEMPLATE.read_text(), "ScalingConfig:")
    concurrency = settings["ScalingConfig"]["MaximumConcurrency"]
    batch = settings["BatchSize"]
    delay = float(
        TEMPLATE_DATA["Resources"]["ProcessorFunction"]["Properties"]["Environment"]["Variables"][
            "PROCESSING_DELAY_SECONDS"
        ]
    )
    plan = TEMPLATE_DATA["Resources"]["UsagePlan"]["Properties"]
    rate = plan["Throttle"]["RateLimit"]

    assert f"{concurrency} batches of {batch}" in comment
    assert f"{concurrency * batch / delay:g}" in comment
    assert f"RateLimit of {rate}" in comment


def test_the_processor_timeout_comment_counts_the_delays_it_allows() -> None:
    props = TEMPLATE_DATA["Resources"]["ProcessorFunction"]["Properties"]
    delay = int(props["Environment"]["Variables"]["PROCESSING_DELAY_SECONDS"])
    comment = comment_before(TEMPLATE.read_text(), f"Timeout: {props['Timeout']}")
    words = {1: "One", 2: "Two", 3: "Three", 4: "Four", 5: "Five", 6: "Six"}
    assert f"({delay} s)" in comment
    assert f"{words[props['Timeout'] // delay]} times that" in comment
