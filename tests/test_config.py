"""Settings: on Lambda a function without a setting it needs fails its init, naming each one."""

import os
import subprocess
import sys

import pytest

from tests.conftest import function_environment
from tests.infra.conftest import ROOT

# Each init runs in a Python process of its own, as Lambda's would.
pytestmark = pytest.mark.process

# Each function's variables, as the template gives them.
API_VARIABLES = tuple(function_environment("ApiFunction"))
PROCESSOR_VARIABLES = tuple(function_environment("ProcessorFunction"))


def init(module: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Import a handler's module in a fresh interpreter, as Lambda's init does."""
    base = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    base = {
        name: value
        for name, value in base.items()
        if name not in (*API_VARIABLES, *PROCESSOR_VARIABLES)
    }
    return subprocess.run(  # noqa: S603 (this interpreter, this test's own code)
        [sys.executable, "-c", f"import {module}"],
        cwd=ROOT,
        env=base | {"AWS_DEFAULT_REGION": "us-east-1"} | env,
        capture_output=True,
        text=True,
        check=False,
    )


# What has a default in the code: a margin of the API's own, and the flags the template states.
OPTIONAL = {"RETRY_AFTER_MARGIN_SECONDS", "API_KEY", "DOCS_ENABLED", "RETENTION_DAYS"}


@pytest.mark.parametrize(
    ("module", "variables"),
    [("app.main", API_VARIABLES), ("processor.handler", PROCESSOR_VARIABLES)],
)
def test_on_lambda_a_missing_setting_stops_the_init_naming_each(
    module: str, variables: tuple[str, ...]
) -> None:
    result = init(module, AWS_LAMBDA_FUNCTION_NAME="enrollment-fn")

    assert result.returncode != 0
    [last] = result.stderr.strip().splitlines()[-1:]
    prefix = "app.config.MissingSettingsError: enrollment-fn cannot start: set "
    assert last.startswith(prefix)
    assert set(last.removeprefix(prefix).split(", ")) == set(variables) - OPTIONAL


def test_on_lambda_an_empty_setting_is_missing_too() -> None:
    result = init(
        "processor.handler",
        AWS_LAMBDA_FUNCTION_NAME="enrollment-fn",
        **function_environment("ProcessorFunction") | {"ENROLLMENTS_TABLE": ""},
    )
    assert result.returncode != 0
    assert result.stderr.strip().endswith("set ENROLLMENTS_TABLE")


def test_on_lambda_with_every_setting_the_init_succeeds() -> None:
    environment = function_environment("ApiFunction")
    assert init("app.main", AWS_LAMBDA_FUNCTION_NAME="enrollment-fn", **environment).returncode == 0


def test_off_lambda_no_table_has_a_name_by_default_either() -> None:
    # The app is built at import: without its settings it stops, naming them, as on Lambda.
    result = init("app.main")
    assert result.returncode != 0
    assert "MissingSettingsError: ApiSettings cannot start: set " in result.stderr
    # The processor reads its settings at its first message.
    assert init("processor.handler").returncode == 0
