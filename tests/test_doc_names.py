"""The documentation names only what exists, and names what an operator must know of.

Each name a page writes as code (in backticks or a code block) is checked against where the
thing is declared: an alarm or a table against `template.yaml`, a metric against `Metric`, a
setting against the settings classes, the Makefile, the pipeline or the code's constants, a make
target against the Makefile, a command of `enrollment-clients` or `enrollment-data` against its
parser. And the
reverse: every alarm and metric has its line in `docs/operating.md`, and every setting is named
somewhere in the README or `docs/`.
"""

import argparse
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from app.config import ApiSettings, NotifierSettings, ProcessorSettings
from app.observability.metrics import Metric
from deploy_hooks.config import HookSettings
from local.config import LocalSettings
from local.template import load_template, resources_of_type
from ops.clients import parser as clients_parser
from ops.config import SmokeSettings
from ops.personal_data import parser as data_parser

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
OPERATING = ROOT / "docs" / "operating.md"
# Variables that the AWS SDK, the CLI or the runtime read, which the docs name and no code of
# this project declares.
AWS_VARIABLES = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_MAX_ATTEMPTS",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
}
# API Gateway's gateway response types (its GatewayResponse API reference), which the access log
# names in `errorResponseType`.
GATEWAY_RESPONSE_TYPES = {
    "DEFAULT_4XX",
    "DEFAULT_5XX",
    "INVALID_API_KEY",
    "ACCESS_DENIED",
    "THROTTLED",
    "QUOTA_EXCEEDED",
    "INTEGRATION_FAILURE",
    "INTEGRATION_TIMEOUT",
    "REQUEST_TOO_LARGE",
    "MISSING_AUTHENTICATION_TOKEN",
}

# DynamoDB Streams' shard iterator types, which the runbook names for reading a stream's records.
STREAM_ITERATOR_TYPES = {"AT_SEQUENCE_NUMBER"}

# Files GitHub Actions names to a step, which the pipeline's pages name and no code declares.
GITHUB_VARIABLES = {"GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT"}

_CODE = re.compile(r"```.*?```|`[^`\n]+`", re.S)
_UPPER_SNAKE = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")


def code_of(page: Path) -> str:
    """What a page writes as code: its backticked spans and fenced blocks, one after another."""
    return "\n".join(_CODE.findall(page.read_text()))


def code_by_page() -> dict[str, str]:
    return {str(page.relative_to(ROOT)): code_of(page) for page in PAGES}


def named(pattern: str) -> dict[str, set[str]]:
    """Each page's code spans' matches of `pattern` (its first group, if it has one)."""
    compiled = re.compile(pattern)
    found = {}
    for page, code in code_by_page().items():
        matches = {m.group(1) if m.groups() else m.group(0) for m in compiled.finditer(code)}
        if matches:
            found[page] = matches
    return found


def unknown(pattern: str, known: set[str]) -> dict[str, set[str]]:
    """Each page's names matching `pattern` that are not among `known`."""
    return {page: names - known for page, names in named(pattern).items() if names - known}


TEMPLATE = load_template()
ALARMS = set(resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm"))
TABLES = set(resources_of_type(TEMPLATE, "AWS::DynamoDB::Table"))
METRICS = {str(metric) for metric in Metric}
SETTINGS = {
    name.upper()
    for settings in (ApiSettings, ProcessorSettings, NotifierSettings)
    for name in settings.model_fields
}
HOOK_SETTINGS = {name.upper() for name in HookSettings.model_fields}
LOCAL_SETTINGS = {
    name.upper() for settings in (LocalSettings, SmokeSettings) for name in settings.model_fields
}
MAKEFILE = (ROOT / "Makefile").read_text()
MAKE_TARGETS = set(re.findall(r"^([a-z][a-z0-9-]*):", MAKEFILE, re.M))


def declared_constants() -> set[str]:
    """The upper-case names the project's code, Makefile, template and pipeline declare or read."""
    sources = [
        *(ROOT / "app").rglob("*.py"),
        *(ROOT / "processor").rglob("*.py"),
        *(ROOT / "ops").rglob("*.py"),
        *(ROOT / "local").rglob("*.py"),
        *(ROOT / "bench").rglob("*.py"),
        *(ROOT / ".github").rglob("*.yml"),
    ]
    # The template's own names (a checkov check's id, a parameter).
    names = set(_UPPER_SNAKE.findall((ROOT / "template.yaml").read_text()))
    for source in sources:
        names |= set(re.findall(r"^\s*([A-Z][A-Z0-9_]+)\s*[:=]", source.read_text(), re.M))
        names |= set(re.findall(r"\b(?:vars|secrets|env)\.([A-Z][A-Z0-9_]+)", source.read_text()))
    # Make variables: assigned, or read from the command line as $(NAME).
    names |= set(re.findall(r"^([A-Z][A-Z0-9_]+)\s*[?:]?=", MAKEFILE, re.M))
    names |= set(re.findall(r"\$\(([A-Z][A-Z0-9_]+)\)", MAKEFILE))
    # Shell variables the pages' own examples set (`API_URL=...`).
    for page in PAGES:
        names |= set(re.findall(r"^([A-Z][A-Z0-9_]+)=", code_of(page), re.M))
    return names


# A name after a colon is an IAM action's (`cloudwatch:PutMetricAlarm`), AWS's name, not ours.
ALARM_NAME = r"(?<![:\w])[A-Z][A-Za-z0-9]*Alarm\b"
TABLE_NAME = r"(?<![:\w])[A-Z][A-Za-z0-9]*Table\b"


def test_every_alarm_a_page_names_is_in_the_template() -> None:
    assert unknown(ALARM_NAME, ALARMS) == {}


def test_every_table_a_page_names_is_in_the_template() -> None:
    assert unknown(TABLE_NAME, TABLES) == {}


def test_every_setting_a_page_names_exists() -> None:
    known = (
        SETTINGS
        | HOOK_SETTINGS
        | LOCAL_SETTINGS
        | AWS_VARIABLES
        | GITHUB_VARIABLES
        | GATEWAY_RESPONSE_TYPES
        | STREAM_ITERATOR_TYPES
        | declared_constants()
    )

    assert unknown(_UPPER_SNAKE.pattern, known) == {}


def test_every_make_target_a_page_names_exists() -> None:
    assert unknown(r"(?:^|`|\$ )make ([a-z][a-z0-9-]*)", MAKE_TARGETS) == {}


def command_pattern(tool: str) -> str:
    """A page's `tool [options] command`: the command."""
    return rf"{tool}(?: --local| --stack \S+| --region \S+)* ([a-z][a-z-]*)"


@pytest.mark.parametrize(
    ("tool", "parser"),
    [("enrollment-clients", clients_parser), ("enrollment-data", data_parser)],
)
def test_every_command_of_the_operators_tools_a_page_names_exists(
    tool: str, parser: Callable[[], argparse.ArgumentParser]
) -> None:
    # The usage line lists the subcommands: {add,list,revoke,...}.
    usage = parser().format_usage()
    commands = set(re.search(r"\{([a-z,-]+)\}", usage)[1].split(","))  # type: ignore[index]

    assert named(command_pattern(tool))
    assert unknown(command_pattern(tool), commands) == {}


def operating_metrics_table() -> set[str]:
    """The first column of the metrics table in docs/operating.md."""
    text = OPERATING.read_text()
    table = text[text.index("| metric |") :].split("\n\n")[0]
    return set(re.findall(r"^\| `([A-Za-z]+)` \|", table, re.M))


def test_the_metrics_table_lists_exactly_the_metrics_the_code_emits() -> None:
    assert operating_metrics_table() == METRICS


@pytest.mark.parametrize("alarm", sorted(ALARMS))
def test_every_alarm_has_a_runbook_entry(alarm: str) -> None:
    assert re.search(rf"^\| `{alarm}` \|", OPERATING.read_text(), re.M), alarm


@pytest.mark.parametrize(
    "setting", sorted((SETTINGS | HOOK_SETTINGS | LOCAL_SETTINGS) - AWS_VARIABLES)
)
def test_every_setting_is_documented(setting: str) -> None:
    assert any(setting in code for code in code_by_page().values()), setting


def test_the_checks_see_what_they_check() -> None:
    # A pattern that matched nothing would pass every page: each must find names.
    assert named(ALARM_NAME)
    assert named(_UPPER_SNAKE.pattern)
    assert named(r"(?:^|`|\$ )make ([a-z][a-z0-9-]*)")
    assert named(command_pattern("enrollment-clients"))
    assert unknown(ALARM_NAME, set()) != {}
