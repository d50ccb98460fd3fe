"""How the supervisor sets up its children's environment, without starting them."""

import pytest

from local.config import LocalSettings
from local.supervisor import REAL_AWS_VARIABLES, LocalService
from local.template import Stack, load_template


def resolved_stack() -> Stack:
    """Names for every resource of the template, as `provision` would return them."""
    stack = Stack()
    for logical_id in load_template()["Resources"]:
        stack.refs[logical_id] = f"ref-{logical_id}"
        for attribute in ("Arn", "QueueName"):
            stack.attributes[(logical_id, attribute)] = f"{attribute}-{logical_id}"
    return stack


def test_the_embedded_emulator_gets_fake_credentials_never_a_real_profile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREAL")
    service = LocalService(LocalSettings(local_emulator_port=4599, aws_region="eu-west-1"))

    env = service.aws_environment()

    assert "AWS_PROFILE" not in env
    assert env["AWS_ACCESS_KEY_ID"] == "local"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4599"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"


def test_an_external_endpoint_keeps_the_credentials_it_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "localstack-key")
    service = LocalService(LocalSettings(aws_endpoint_url="http://127.0.0.1:4566"))

    env = service.aws_environment()

    assert env["AWS_ACCESS_KEY_ID"] == "localstack-key"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert service.emulator is not None
    assert service.emulator.external


def test_functions_get_the_template_environment_resolved_with_local_changes() -> None:
    service = LocalService(LocalSettings(processing_delay_seconds=0.5))
    service.stack = resolved_stack()

    api = service.function_environment("ApiFunction")
    processor = service.function_environment("ProcessorFunction")

    assert api["ENROLLMENT_QUEUE_URL"] == "ref-EnrollmentQueue"
    assert api["AGE_GROUPS_TABLE"] == "ref-AgeGroupsTable"
    assert api["DOCS_ENABLED"] == "true"
    assert processor["ENROLLMENTS_TABLE"] == "ref-EnrollmentsTable"
    assert processor["PROCESSING_DELAY_SECONDS"] == "0.5"


def test_without_a_delay_setting_the_processor_keeps_the_template_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PROCESSING_DELAY_SECONDS")
    service = LocalService(LocalSettings())
    service.stack = resolved_stack()
    template = load_template()["Resources"]["ProcessorFunction"]["Properties"]

    processor = service.function_environment("ProcessorFunction")

    assert (
        processor["PROCESSING_DELAY_SECONDS"]
        == template["Environment"]["Variables"]["PROCESSING_DELAY_SECONDS"]
    )


@pytest.mark.parametrize("missing", REAL_AWS_VARIABLES)
def test_without_the_local_stack_the_aws_resources_and_a_key_must_be_given(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    for name in REAL_AWS_VARIABLES:
        monkeypatch.setenv(name, "given")
    monkeypatch.delenv(missing)
    service = LocalService(LocalSettings(local_stack=False))

    with pytest.raises(RuntimeError, match=f"set {missing}$"):
        service.start()
    assert service.emulator is None
    assert service.exited() == []
