"""Settings: on Lambda a function without a setting it needs fails its init, naming each one."""

import os
import subprocess
import sys

import pytest

from tests.infra.conftest import ROOT

API_VARIABLES = (
    "AGE_GROUPS_TABLE",
    "ENROLLMENTS_TABLE",
    "IDEMPOTENCY_TABLE",
    "ENROLLMENT_QUEUE_URL",
    "CLIENTS_TABLE",
    "STACK_API_KEY_ID",
)


def init(module: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Import a handler's module in a fresh interpreter, as Lambda's init does."""
    base = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    base = {
        name: value
        for name, value in base.items()
        if name not in (*API_VARIABLES, "API_TIMEOUT_SECONDS")
    }
    return subprocess.run(  # noqa: S603 (this interpreter, this test's own code)
        [sys.executable, "-c", f"import {module}"],
        cwd=ROOT,
        env=base | {"AWS_DEFAULT_REGION": "us-east-1"} | env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("module", "missing"),
    [
        ("app.main", API_VARIABLES),
        ("processor.handler", ("ENROLLMENTS_TABLE", "API_TIMEOUT_SECONDS")),
    ],
)
def test_on_lambda_a_missing_setting_stops_the_init_naming_each(
    module: str, missing: tuple[str, ...]
) -> None:
    result = init(module, AWS_LAMBDA_FUNCTION_NAME="enrollment-fn")

    assert result.returncode != 0
    [last] = result.stderr.strip().splitlines()[-1:]
    assert last.startswith("app.config.MissingSettingsError: enrollment-fn cannot start: set ")
    assert last.endswith(", ".join(missing))


def test_on_lambda_an_empty_setting_is_missing_too() -> None:
    result = init(
        "processor.handler",
        AWS_LAMBDA_FUNCTION_NAME="enrollment-fn",
        ENROLLMENTS_TABLE="",
        API_TIMEOUT_SECONDS="25",
    )
    assert result.returncode != 0
    assert result.stderr.strip().endswith("set ENROLLMENTS_TABLE")


def test_on_lambda_with_every_setting_the_init_succeeds() -> None:
    tables = dict.fromkeys(API_VARIABLES, "x")
    assert init("app.main", AWS_LAMBDA_FUNCTION_NAME="enrollment-fn", **tables).returncode == 0


def test_off_lambda_the_local_defaults_stand() -> None:
    assert init("app.main").returncode == 0
    assert init("processor.handler").returncode == 0
