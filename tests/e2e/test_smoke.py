"""`make smoke` against the service as `make run` starts it: it passes, and fails where it must."""

import io
import json
import os
import re
import subprocess
from collections.abc import Iterator

import boto3
import httpx
import pytest
from moto import mock_aws

from local.emulator import free_port
from local.supervisor import LocalService
from ops.config import SmokeSettings
from ops.smoke import SMOKE_AGE, smoke
from tests.conftest import local_service
from tests.e2e.test_local_stack import ROOT

# Each test runs against the local stack's processes (and one through make).
pytestmark = pytest.mark.process

# API Gateway's keys are 20 characters at least (moto's stand-in for the stack path checks).
API_KEY = "smoke-test-local-api-key"
PROCESSING_DELAY = 0.5
VISIBILITY_TIMEOUT = 1
# Beyond the 202's Retry-After: the local poller's long poll, on a busy machine.
MARGIN = 10.0
# With the poller stopped nothing is processed: the step fails once this margin is over.
SHORT_MARGIN = 1.0


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    """The emulator, the API and the poller, as `python -m local` runs them."""
    with (
        (tmp_path_factory.mktemp("smoke") / "local.log").open("w") as log,
        local_service(
            log,
            API_KEY,
            local_visibility_timeout=VISIBILITY_TIMEOUT,
            processing_delay_seconds=PROCESSING_DELAY,
        ) as local,
    ):
        yield local


def settings_for(service: LocalService, **changes: object) -> SmokeSettings:
    values: dict[str, object] = {
        "api_url": service.api_url,
        "api_key": API_KEY,
        "smoke_margin": MARGIN,
        **changes,
    }
    return SmokeSettings.model_validate(values)


def run(settings: SmokeSettings) -> tuple[int, str]:
    out = io.StringIO()
    code = smoke(settings, out)
    return code, out.getvalue()


def smoke_groups(service: LocalService) -> list[dict[str, object]]:
    """The age groups the smoke creates, left on the service."""
    response = httpx.get(
        f"{service.api_url}/age-groups", headers={"x-api-key": API_KEY}, timeout=10
    )
    assert response.status_code == 200, response.text
    return [group for group in response.json() if group["min_age"] == SMOKE_AGE]


def step_lines(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if re.match(r"  (ok|FAIL) ", line)]


def test_the_smoke_passes_every_step_and_leaves_no_age_group(service: LocalService) -> None:
    code, output = run(settings_for(service))

    assert code == 0, output
    lines = step_lines(output)
    assert [line.split()[:2] for line in lines] == [
        ["ok", "403"],
        ["ok", "200"],
        ["ok", "404"],
        ["ok", "201"],
        ["ok", "202"],
        ["ok", "202"],
        ["ok", "200"],
        ["ok", "200"],
        ["ok", "200"],
    ], output
    assert all(" s  " in line for line in lines), output
    assert "GET /enrollments lists it (200)" in lines[7]
    assert "Passed: 9 steps in" in output
    assert smoke_groups(service) == []


def test_read_only_keeps_to_the_key_check_and_reads(service: LocalService) -> None:
    code, output = run(settings_for(service, smoke_read_only=True))

    assert code == 0, output
    assert len(step_lines(output)) == 3
    assert "(reads only)" in output
    assert "Idempotency-Key" not in output


def test_a_wrong_key_fails_the_first_keyed_step_and_says_so(service: LocalService) -> None:
    code, output = run(settings_for(service, api_key="not-the-key"))

    assert code == 1
    assert "FAILED: Step 'GET /age-groups answers 200 with the key' failed" in output
    assert "The API key was refused (403)" in output
    assert '{"message":"Forbidden"}' in output
    assert smoke_groups(service) == []


def test_an_unreachable_url_is_a_clear_error(service: LocalService) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    code, output = run(settings_for(service, api_url=url))

    assert code == 1
    assert f"Cannot reach {url}: ConnectError" in output


def test_with_the_poller_stopped_the_polling_step_fails_and_the_group_is_deleted(
    service: LocalService,
) -> None:
    service.stop_poller()
    try:
        code, output = run(settings_for(service, smoke_margin=SHORT_MARGIN))
    finally:
        service.start_poller()

    assert code == 1, output
    # The wait is the 202's Retry-After, which covers the processing delay, and the margin.
    waited = re.search(r"PROCESSED within (\S+) s \(its Retry-After, (\S+) s, \+ (\S+) s\)", output)
    assert waited, output
    within, expected, margin = map(float, waited.groups())
    assert (within, margin) == (expected + SHORT_MARGIN, SHORT_MARGIN)
    assert expected >= PROCESSING_DELAY
    assert f"FAILED: Step 'the enrollment is PROCESSED within {within:g} s" in output
    assert "Still PENDING" in output
    assert '"status":"PENDING"' in output
    # The clean-up still ran, and passed.
    assert step_lines(output)[-1].startswith("ok    200")
    assert "delete the smoke's age group" in step_lines(output)[-1]
    assert smoke_groups(service) == []


def test_the_stack_path_finds_the_url_and_key_from_the_outputs(service: LocalService) -> None:
    # A stand-in for the deployed stack: its outputs name the local API, its key is the local one.
    with mock_aws():
        key = boto3.client("apigateway").create_api_key(
            name="enrollment-key", enabled=True, value=API_KEY
        )
        template = {
            "Resources": {"Handle": {"Type": "AWS::SQS::Queue"}},
            "Outputs": {"ApiUrl": {"Value": service.api_url}, "ApiKeyId": {"Value": key["id"]}},
        }
        boto3.client("cloudformation").create_stack(
            StackName="enrollment-staging", TemplateBody=json.dumps(template)
        )

        code, output = run(SmokeSettings(stack="enrollment-staging", smoke_margin=MARGIN))

    assert code == 0, output
    assert f"Smoke test of {service.api_url} (reads and writes)" in output


def test_make_smoke_passes_its_variables_and_exits_with_the_result(
    service: LocalService,
) -> None:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("MAKE", "MFLAGS", "API_", "STACK", "SMOKE_"))
    }
    command = [
        "make",
        "--no-print-directory",
        "smoke",
        f"API_URL={service.api_url}",
        "SMOKE_READ_ONLY=1",
    ]

    passed = subprocess.run(  # noqa: S603 (make from PATH, fixed arguments)
        [*command, f"API_KEY={API_KEY}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    failed = subprocess.run(  # noqa: S603
        [*command, "API_KEY=wrong"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed: 3 steps" in passed.stdout
    assert failed.returncode != 0
    assert "The API key was refused" in failed.stdout


def webhook_of(service: LocalService) -> httpx.Response:
    return httpx.get(f"{service.api_url}/webhook", headers={"x-api-key": API_KEY})


def test_given_a_receiver_its_verified_webhook_arrives_and_no_endpoint_is_left(
    service: LocalService,
) -> None:
    code, output = run(settings_for(service, smoke_receiver=f"127.0.0.1:{free_port()}"))

    assert code == 0, output
    lines = step_lines(output)
    assert [line.split()[:2] for line in lines][4:6] == [["ok", "404"], ["ok", "200"]], output
    assert "webhook arrives within 10 s and verifies" in lines[10], output
    assert lines[10].split()[:2] == ["ok", "204"], output
    assert "Passed: 13 steps in" in output
    # The stack's key had no endpoint before: it has none after.
    assert webhook_of(service).status_code == 404


def test_an_endpoint_set_before_is_put_back_with_its_secret(service: LocalService) -> None:
    own = httpx.put(
        f"{service.api_url}/webhook",
        json={"url": "http://127.0.0.1:9/own-hooks"},
        headers={"x-api-key": API_KEY},
    ).json()
    try:
        code, output = run(settings_for(service, smoke_receiver=f"127.0.0.1:{free_port()}"))

        assert code == 0, output
        assert webhook_of(service).json()["url"] == own["url"]
        # The same secret: the smoke's PUT and the restoring one keep it.
        assert (
            httpx.put(
                f"{service.api_url}/webhook",
                json={"url": own["url"]},
                headers={"x-api-key": API_KEY},
            ).json()["secret"]
            == own["secret"]
        )
    finally:
        httpx.delete(f"{service.api_url}/webhook", headers={"x-api-key": API_KEY})


def test_with_the_notifier_stopped_the_webhook_step_fails_and_the_endpoint_is_put_back(
    service: LocalService,
) -> None:
    service.stop_notifier()
    try:
        code, output = run(
            settings_for(service, smoke_receiver=f"127.0.0.1:{free_port()}", smoke_margin=3.0)
        )
    finally:
        service.start_notifier()

    assert code == 1, output
    assert "is the notifier running?" in output
    restored = [line for line in step_lines(output) if "webhook endpoint back" in line]
    assert [line.split()[:2] for line in restored] == [["ok", "204"]], output
    assert webhook_of(service).status_code == 404
    assert smoke_groups(service) == []
