"""What Lambda runs: the API artifact, built for this machine, under Lambda's Python version.

`make build` ships arm64 wheels this machine may not import; the same build script with this
machine's platform gives the same files for it. The interpreter runs isolated (`-I -S`): no
site-packages, no user site, so only the artifact and the standard library can be imported.
Where no Python of Lambda's version is found, the measures fall back to this interpreter and the
repository's `.venv`, and say so.
"""

import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bench.common import ROOT

LAMBDA_PYTHON = "3.13"
ARTIFACT = ROOT / ".aws-sam" / "bench" / "ApiFunction"

# Runs first in the isolated interpreter: the artifact alone on sys.path, ahead of the stdlib.
ARTIFACT_PREAMBLE = "import sys; sys.path.insert(0, sys.argv.pop(1))\n"


@dataclass(frozen=True)
class Runtime:
    """An interpreter, and the artifact it imports the API from (None: the repository)."""

    python: str
    version: str
    artifact: Path | None

    def command(self, code: str, *args: str, options: tuple[str, ...] = ()) -> list[str]:
        """The argv that runs `code` with `args`, importing the API as Lambda would."""
        if self.artifact is None:
            return [self.python, *options, "-c", code, *args]
        isolated = [self.python, "-I", "-S", *options]
        return [*isolated, "-c", ARTIFACT_PREAMBLE + code, str(self.artifact), *args]

    def describe(self) -> str:
        if self.artifact is None:
            return (
                f"Python {self.version} with the repository's .venv (no Python {LAMBDA_PYTHON} "
                "found: not what Lambda runs)"
            )
        return (
            f"Python {self.version} ({self.python}) importing only the ApiFunction artifact, "
            f"built for {local_platform()} into {self.artifact.relative_to(ROOT)}"
        )


def local_platform() -> str | None:
    """This machine's platform, in the form uv's --python-platform takes."""
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    if sys.platform == "linux":
        return f"{machine}-manylinux2014"
    if sys.platform == "darwin":
        return f"{machine}-apple-darwin"
    return None


def _lambda_python() -> str | None:
    """A Python of Lambda's version: on PATH, or one of pyenv's."""
    candidates = [shutil.which(f"python{LAMBDA_PYTHON}")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(str(p) for p in pyenv_root.glob(f"versions/{LAMBDA_PYTHON}.*/bin/python3"))
    for candidate in candidates:
        if candidate and _version(candidate) == LAMBDA_PYTHON:
            return candidate
    return None


def _version(python: str, full: bool = False) -> str | None:
    fields = 3 if full else 2
    result = subprocess.run(  # noqa: S603 (an interpreter found above)
        [python, "-c", f"import sys; print('.'.join(map(str, sys.version_info[:{fields}])))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def _build(python_version: str, target: str) -> Path:
    shutil.rmtree(ARTIFACT, ignore_errors=True)
    subprocess.run(  # noqa: S603 (fixed arguments)
        ["make", "--no-print-directory", "build-ApiFunction", f"ARTIFACTS_DIR={ARTIFACT}"],  # noqa: S607
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "LAMBDA_"))}
        | {"LAMBDA_PLATFORM": target, "LAMBDA_PYTHON": python_version},
        capture_output=True,
        check=True,
    )
    return ARTIFACT


@cache
def lambda_runtime() -> Runtime:
    """The API as Lambda runs it on this machine, or this interpreter when that is not possible."""
    python, target = _lambda_python(), local_platform()
    if python is None or target is None:
        version = ".".join(map(str, sys.version_info[:3]))
        return Runtime(sys.executable, version, None)
    return Runtime(
        python, _version(python, full=True) or LAMBDA_PYTHON, _build(LAMBDA_PYTHON, target)
    )
