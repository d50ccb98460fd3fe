"""The supervisor: its children's environment, and how it keeps the API and the poller running."""

import logging
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest

from app.config import ApiSettings, get_api_settings
from local.config import DEFAULT_API_KEY, DEFAULT_CLIENT_API_KEY, LocalSettings
from local.emulator import free_port
from local.supervisor import Child, LocalService, RestartPolicy
from local.template import Stack, load_template
from tests.conftest import VALID_CPF, function_environment, local_service
from tests.e2e.test_local_stack import PROCESSED_WITHIN, STARTUP_TIMEOUT, eventually

# A tenth of a second before a restart: the tests wait on the children's start-up, not on it.
FAST_RESTARTS = RestartPolicy(first_delay=0.1, max_delay=0.4, stable_after=60)


def resolved_stack() -> Stack:
    """Names for every resource of the template, as `provision` would return them."""
    stack = Stack.of(load_template())
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


def test_the_variables_given_for_the_functions_override_the_inherited_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEBHOOK_RETRY_DELAYS", "1,1,1")
    service = LocalService(LocalSettings(), function_environment={"WEBHOOK_RETRY_DELAYS": "2,5"})
    service.stack = resolved_stack()

    notifier = service.function_environment("NotifierFunction")
    inherited = LocalService(LocalSettings())
    inherited.stack = service.stack

    assert notifier["WEBHOOK_RETRY_DELAYS"] == "2,5"
    assert inherited.function_environment("NotifierFunction")["WEBHOOK_RETRY_DELAYS"] == "1,1,1"


# What the API served alone needs: the settings the template gives it that have no default, and a
# key.
REQUIRED_ALONE = [
    *(
        name
        for name in function_environment("ApiFunction")
        if name.lower() in ApiSettings.model_fields
        and ApiSettings.model_fields[name.lower()].is_required()
    ),
    "API_KEY",
]


@pytest.mark.parametrize("missing", sorted(REQUIRED_ALONE))
def test_without_the_local_stack_the_aws_resources_and_a_key_must_be_given(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    for name, value in function_environment("ApiFunction").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("API_KEY", "given")
    monkeypatch.delenv(missing)
    get_api_settings.cache_clear()
    service = LocalService(LocalSettings(local_stack=False))

    with pytest.raises(RuntimeError, match=f"set {missing}$"):
        service.start()
    assert service.emulator is None
    assert service.exited() == []


def test_the_wait_before_a_restart_doubles_to_a_cap_and_starts_over_after_a_stable_run() -> None:
    policy = RestartPolicy(first_delay=1, max_delay=30, stable_after=60)
    waits: list[float] = []
    previous = None
    for _ in range(7):
        previous = policy.delay(previous, ran_for=0.5)
        waits.append(previous)

    assert waits == [1, 2, 4, 8, 16, 30, 30]
    assert policy.delay(30, ran_for=59.9) == 30
    assert policy.delay(30, ran_for=60) == 1


class Clock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.process
def test_a_child_that_exits_is_logged_then_started_again_once_its_wait_is_over(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="local.supervisor")
    clock = Clock()
    started: list[subprocess.Popen[str]] = []

    def start() -> "subprocess.Popen[str]":
        started.append(subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"], text=True))
        return started[-1]

    child = Child(
        "poller", start, RestartPolicy(first_delay=1, max_delay=30, stable_after=60), clock
    )

    def exits_after(seconds: float) -> str:
        child.process.wait()
        clock.now += seconds
        caplog.clear()
        child.tend()
        (record,) = caplog.records
        return record.getMessage()

    assert exits_after(5) == (
        "The poller exited on its own (exit code 3) after 5.0 s; starting it again in 1.0 s"
    )
    clock.now += 0.9
    child.tend()
    assert len(started) == 1
    clock.now += 0.1
    child.tend()
    assert child.process is started[1]
    assert exits_after(0.5).endswith("after 0.5 s; starting it again in 2.0 s")
    clock.now += 2
    child.tend()
    assert child.process is started[2]
    assert exits_after(60).endswith("after 60.0 s; starting it again in 1.0 s")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[LocalService]:
    """The emulator, the API and the poller, as `python -m local` runs them, restarting fast."""
    with (
        (tmp_path / "local.log").open("w") as log,
        local_service(
            log,
            DEFAULT_API_KEY,
            FAST_RESTARTS,
            local_visibility_timeout=1,
            processing_delay_seconds=0,
        ) as local,
    ):
        yield local


def runs_again(service: LocalService, name: str, pid: int) -> bool:
    """Whether the child `name` runs, in a process other than `pid`."""
    process = service.processes()[name]
    return process.pid != pid and process.poll() is None


@pytest.mark.process
def test_a_killed_poller_and_api_are_started_again_and_the_emulator_keeps_the_data(
    service: LocalService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="local.supervisor")
    emulator = service.processes()["emulator"]
    with httpx.Client(
        base_url=service.api_url, headers={"x-api-key": DEFAULT_API_KEY}, timeout=10
    ) as api:
        group = api.post("/age-groups", json={"min_age": 18, "max_age": 30}).json()

        for name in ("poller", "api"):
            killed = service.processes()[name]
            killed.kill()
            assert eventually(partial(runs_again, service, name, killed.pid), within=10), (
                caplog.text
            )

        def answers() -> bool:
            try:
                return api.get("/age-groups").status_code == 200
            except httpx.TransportError:
                return False

        assert eventually(answers, STARTUP_TIMEOUT), caplog.text
        assert group in api.get("/age-groups").json()
        # The API came back behind the same gateway: the same key check, the same key aliases.
        assert httpx.get(f"{service.api_url}/age-groups").status_code == 403
        with httpx.Client(
            base_url=service.api_url, headers={"x-api-key": DEFAULT_CLIENT_API_KEY}
        ) as client:
            assert client.get("/age-groups").status_code == 200
        # The poller came back on the same queue.
        enrollment = api.post("/enrollments", json={"name": "Ana", "age": 20, "cpf": VALID_CPF})
        assert enrollment.status_code == 202, enrollment.text
        location = enrollment.headers["location"]
        assert eventually(
            lambda: api.get(location).json()["status"] == "PROCESSED", PROCESSED_WITHIN
        ), caplog.text

    assert service.processes()["emulator"] is emulator
    assert emulator.poll() is None
    assert service.exited() == []
    restarts = [r.getMessage() for r in caplog.records if "exited on its own" in r.getMessage()]
    assert [line.split(" after ")[0] for line in restarts] == [
        "The poller exited on its own (exit code -9, SIGKILL)",
        "The API exited on its own (exit code -9, SIGKILL)",
    ]
    assert all(line.endswith("; starting it again in 0.1 s") for line in restarts)


@pytest.mark.process
def test_an_emulator_that_exits_is_not_started_again() -> None:
    service = LocalService(LocalSettings(local_emulator_port=free_port()))
    assert service.emulator is not None
    service.emulator.start(service.aws_environment())
    try:
        emulator = service.processes()["emulator"]
        emulator.kill()
        emulator.wait()

        assert service.exited() == ["emulator (exit code -9, SIGKILL)"]
    finally:
        service.stop()
