"""The Lambda artifacts that `make build` (sam build, no Docker) makes, and what is in them.

The shipped artifacts hold arm64 CPython 3.13 wheels, which this machine cannot import; a second
build of the same code path, with this machine's platform and Python, shows that the handlers
import and answer from nothing but their artifact.
"""

import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import ROOT

FUNCTIONS = ("ApiFunction", "ProcessorFunction")
REPOSITORY_PACKAGES = {"ApiFunction": {"app"}, "ProcessorFunction": {"app", "processor"}}
NOT_FOR_LAMBDA = {
    "tests", "local", "pytest", "_pytest", "moto", "ruff", "mypy", "httpx", "uvicorn", "yaml",
    "samtranslator", "cfnlint", "schemathesis", "bandit", "hypothesis", "bin",
}  # fmt: skip
ELF_MACHINE_AARCH64 = 183
EVENT = ROOT / "tests" / "events" / "apigw_rest_proxy.json"

# Runs in a Python with no site-packages (-I -S) and an empty environment: only the artifact and
# the standard library can be imported.
IMPORT_AND_INVOKE = """
import json, sys
artifact, module_names = sys.argv[1], sys.argv[2:]
sys.path.insert(0, artifact)
import importlib
modules = {name: importlib.import_module(name) for name in module_names}
result = {"files": {name: module.__file__ for name, module in modules.items()}}
if "app.main" in modules:
    result["response"] = modules["app.main"].handler(json.load(sys.stdin), None)
print(json.dumps(result))
"""


def sam_build(build_dir: Path, platform_env: dict[str, str]) -> Path:
    """`make build` into `build_dir`; `platform_env` may set LAMBDA_PLATFORM and LAMBDA_PYTHON."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "MAKE", "MFLAGS", "LAMBDA_"))
    }
    result = subprocess.run(  # noqa: S603 (the arguments are this test's own)
        ["make", "--no-print-directory", "build", f"SAM_BUILD_DIR={build_dir}"],  # noqa: S607
        cwd=ROOT,
        env=env | platform_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Build Succeeded" in result.stdout
    return build_dir


def local_platform() -> str:
    """This machine's platform, in the form uv's --python-platform takes."""
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    if sys.platform == "linux":
        return f"{machine}-manylinux2014"
    if sys.platform == "darwin":
        return f"{machine}-apple-darwin"
    pytest.skip(f"no wheel platform known for {sys.platform}")


@pytest.fixture(scope="session")
def lambda_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The artifacts as shipped: arm64, CPython 3.13."""
    return sam_build(tmp_path_factory.mktemp("lambda") / "build", {})


@pytest.fixture(scope="session")
def local_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same build for this machine's platform and Python, to import from."""
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    env = {"LAMBDA_PLATFORM": local_platform(), "LAMBDA_PYTHON": python}
    return sam_build(tmp_path_factory.mktemp("local") / "build", env)


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_distributions() -> set[str]:
    """The distributions that uv.lock pins for the project's runtime: no extras, no dev tools."""
    options = ["--frozen", "--no-dev", "--no-emit-project", "--no-header", "--no-hashes"]
    exported = subprocess.run(  # noqa: S603 (fixed arguments)
        [ROOT / ".uv" / "bin" / "uv", "export", *options, "--format", "requirements-txt"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {normalize(line.split("==")[0]) for line in exported.splitlines() if "==" in line}


def elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", path
    return int.from_bytes(header[18:20], "little")


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_the_artifact_holds_only_the_runtime_and_the_handlers_code(
    lambda_build: Path, function_id: str
) -> None:
    artifact = lambda_build / function_id
    entries = {entry.name for entry in artifact.iterdir()}
    distributions = {
        normalize(name.removesuffix(".dist-info").rsplit("-", 1)[0])
        for name in entries
        if name.endswith(".dist-info")
    }
    assert distributions == runtime_distributions()
    assert {"botocore", "fastapi", "mangum", "pydantic", "aws-lambda-powertools"} <= distributions
    repository = {entry for entry in entries if (ROOT / entry / "__init__.py").is_file()}
    assert repository == REPOSITORY_PACKAGES[function_id]
    assert not entries & NOT_FOR_LAMBDA
    assert not {path.name for path in artifact.rglob("*")} & {
        "__pycache__",
        "README.md",
        "pyproject.toml",
        "uv.lock",
        "template.yaml",
        "Makefile",
    }


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_the_shipped_artifact_has_arm64_cpython_3_13_binaries(
    lambda_build: Path, function_id: str
) -> None:
    artifact = lambda_build / function_id
    (pydantic_core,) = (artifact / "pydantic_core").glob("_pydantic_core.*.so")
    assert pydantic_core.name == "_pydantic_core.cpython-313-aarch64-linux-gnu.so"
    extensions = list(artifact.rglob("*.so"))
    assert extensions
    for extension in extensions:
        assert elf_machine(extension) == ELF_MACHINE_AARCH64, extension


def test_the_built_template_points_each_function_at_its_artifact(lambda_build: Path) -> None:
    built = (lambda_build / "template.yaml").read_text()
    for function_id in FUNCTIONS:
        assert f"CodeUri: {function_id}" in built


def run_from_artifact(artifact: Path, modules: list[str], event: Any = None) -> dict[str, Any]:
    result = subprocess.run(  # noqa: S603 (the arguments are this test's own)
        [sys.executable, "-I", "-S", "-c", IMPORT_AND_INVOKE, str(artifact), *modules],
        input=json.dumps(event),
        env={},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    output: dict[str, Any] = json.loads(result.stdout)
    for name, file in output["files"].items():
        assert Path(file).is_relative_to(artifact), (name, file)
    return output


def test_the_api_handler_imports_and_answers_from_its_artifact_alone(local_build: Path) -> None:
    event = json.loads(EVENT.read_text())
    event["path"] = event["requestContext"]["path"] = "/no-such-route"
    output = run_from_artifact(
        local_build / "ApiFunction", ["app.main", "pydantic_core", "mangum", "botocore"], event
    )
    response = output["response"]
    assert response["statusCode"] == 404
    assert json.loads(response["body"]) == {"detail": "Not Found"}


def test_the_processor_handler_imports_from_its_artifact_alone(local_build: Path) -> None:
    run_from_artifact(
        local_build / "ProcessorFunction",
        ["processor.handler", "aws_lambda_powertools", "pydantic_core", "botocore"],
    )
