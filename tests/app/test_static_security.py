"""bandit finds no medium or high severity issue in the code that ships."""

import subprocess
import sys
from pathlib import Path

import pytest

# bandit, in a process of its own.
pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[2]


def test_bandit_finds_nothing_of_medium_or_high_severity() -> None:
    bandit = Path(sys.executable).parent / "bandit"
    result = subprocess.run(  # noqa: S603 (fixed arguments)
        [
            str(bandit),
            "--quiet",
            "--severity-level",
            "medium",
            "-r",
            "app",
            "processor",
            "deploy_hooks",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
