"""The offline checkers agree with template.yaml: cfn-lint, `sam validate --lint` and checkov."""

import json
import os
import subprocess
from typing import Any

import pytest
from cfnlint.api import lint  # type: ignore[import-untyped]

from tests.infra.conftest import ROOT, TEMPLATE

# cfn-lint (seconds), sam validate and checkov (processes).
pytestmark = pytest.mark.process

# Regions where everything in the template, SnapStart included, is available.
REGIONS = ["us-east-1", "eu-west-1", "sa-east-1"]
# The SAM transform itself writes DependsOn next to a Ref (usage plan -> API, usage plan key ->
# API key): redundant, harmless, and not in template.yaml.
GENERATED_WARNINGS = {"W3005"}


def findings(template: str) -> list[tuple[str, str]]:
    return [(match.rule.id, match.message) for match in lint(template, regions=REGIONS)]


def test_cfn_lint_finds_nothing_in_the_template() -> None:
    assert findings(TEMPLATE.read_text()) == []


def test_cfn_lint_finds_no_error_in_the_transformed_template(cfn: dict[str, Any]) -> None:
    found = findings(json.dumps(cfn))
    assert {rule for rule, _ in found} <= GENERATED_WARNINGS, found


def test_sam_validate_and_checkov_pass_without_credentials() -> None:
    """`make check-template`: the SAM CLI's lint and checkov, pinned, with no AWS account."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "MAKE", "MFLAGS"))
    }
    env |= {
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    result = subprocess.run(
        ["make", "--no-print-directory", "check-template"],  # noqa: S607 (make from PATH)
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout
    assert "Failed checks: 0" in result.stdout
