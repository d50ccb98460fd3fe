"""The Lambda artifacts that `make build` (sam build, no Docker) makes, and what is in them.

The shipped artifacts hold arm64 CPython 3.13 wheels, which this machine cannot import; a second
build of the same code path, with this machine's platform and Python, shows that the handlers
import and answer from nothing but their artifact.
"""

import ast
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.observability.metrics import Metric
from bench.runtime import local_platform as bench_local_platform
from local.emulator import Emulator
from local.template import load_template, provision
from scripts.module_files import module_files
from tests.conftest import function_environment
from tests.emf import emf_documents, service_metrics
from tests.infra.conftest import ROOT

# sam build, and the handlers run from their artifacts in processes of their own.
pytestmark = pytest.mark.process

FUNCTIONS = ("ApiFunction", "ProcessorFunction", "PreTrafficHook")
HANDLERS = {
    "ApiFunction": "app.main",
    "ProcessorFunction": "processor.handler",
    "PreTrafficHook": "deploy_hooks.pre_traffic",
}
REPOSITORY_PACKAGES = {
    "ApiFunction": {"app"},
    "ProcessorFunction": {"app", "processor"},
    "PreTrafficHook": {"app", "deploy_hooks"},
}
# The pyproject extra each function adds to the common dependencies (the hook needs none).
EXTRAS = {"ApiFunction": "api", "ProcessorFunction": "processor", "PreTrafficHook": None}
# What each function's own code calls: botocore keeps only these services' models.
AWS_SERVICES = {
    "ApiFunction": {"dynamodb", "sqs", "secretsmanager"},
    "ProcessorFunction": {"dynamodb"},
    "PreTrafficHook": {"lambda", "codedeploy"},
}
WEB_FRAMEWORK = {"fastapi", "starlette", "mangum"}
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
events = json.load(sys.stdin) or []
handler = modules[module_names[0]].handler
result["responses"] = [handler(event, None) for event in events]
print(json.dumps(result))
"""

# Creates the hook's clients from its artifact alone, printing the service each one calls.
CREATE_HOOK_CLIENTS = """
import sys
sys.path.insert(0, sys.argv[1])
from deploy_hooks import clients
for client in (clients.get_lambda_client(), clients.get_codedeploy_client()):
    assert clients.__file__.startswith(sys.argv[1]), clients.__file__
    print(client.meta.service_model.service_name)
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
    target = bench_local_platform()
    if target is None:
        pytest.skip(f"no wheel platform known for {sys.platform}")
    return target


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


@pytest.fixture
def aws_server() -> Iterator[dict[str, str]]:
    """A moto server with the template's stack; the environment both functions would get."""
    import boto3

    emulator = Emulator()
    credentials = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    env = credentials | {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": emulator.endpoint_url,
    }
    emulator.start(dict(os.environ) | env)
    try:
        template = load_template()
        session = boto3.session.Session(
            aws_access_key_id="test",
            aws_secret_access_key="test",
            region_name="us-east-1",
        )
        stack = provision(
            template,
            session.client("dynamodb", endpoint_url=emulator.endpoint_url),
            session.client("sqs", endpoint_url=emulator.endpoint_url),
            secretsmanager=session.client("secretsmanager", endpoint_url=emulator.endpoint_url),
        )
        for function_id in ("ApiFunction", "ProcessorFunction"):
            env |= stack.environment(template, function_id)
        env["PROCESSING_DELAY_SECONDS"] = "0"
        yield env
    finally:
        emulator.stop()


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_distributions(function_id: str) -> set[str]:
    """What uv.lock pins for a function: the common runtime and its extra, no dev tools."""
    options = ["--frozen", "--no-dev", "--no-emit-project", "--no-header", "--no-hashes"]
    if extra := EXTRAS[function_id]:
        options += ["--extra", extra]
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
    assert distributions == runtime_distributions(function_id)
    assert {"botocore", "pydantic", "pydantic-settings"} <= distributions
    handler_only = {
        "ApiFunction": {"fastapi", "mangum"},
        "ProcessorFunction": {"aws-lambda-powertools"},
        "PreTrafficHook": set(),
    }[function_id]
    other_only = {"fastapi", "mangum", "aws-lambda-powertools"} - handler_only
    assert handler_only <= distributions
    assert not other_only & distributions
    repository = {entry for entry in entries if (ROOT / entry / "__init__.py").is_file()}
    assert repository == REPOSITORY_PACKAGES[function_id]
    assert not entries & NOT_FOR_LAMBDA
    assert not {path.name for path in artifact.rglob("*")} & {
        "README.md",
        "pyproject.toml",
        "uv.lock",
        "template.yaml",
        "Makefile",
    }


def imported_modules(source: Path) -> set[str]:
    """The top-level names of the modules a Python file imports, wherever in the file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_the_artifact_holds_only_the_repository_files_its_handler_imports(
    lambda_build: Path, function_id: str
) -> None:
    handler = HANDLERS[function_id]
    artifact = lambda_build / function_id
    shipped = {
        path.relative_to(artifact).as_posix()
        for package in REPOSITORY_PACKAGES[function_id]
        for path in (artifact / package).rglob("*.py")
    }
    assert shipped == set(module_files([handler]))


@pytest.mark.parametrize("function_id", ["ProcessorFunction", "PreTrafficHook"])
def test_no_file_of_the_other_artifacts_imports_the_web_framework(
    lambda_build: Path, function_id: str
) -> None:
    artifact = lambda_build / function_id
    sources = [
        path
        for package in REPOSITORY_PACKAGES[function_id]
        for path in (artifact / package).rglob("*.py")
    ]
    assert sources
    for source in sources:
        assert not imported_modules(source) & WEB_FRAMEWORK, source


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_each_artifact_keeps_only_the_models_of_the_services_its_function_calls(
    lambda_build: Path, function_id: str
) -> None:
    data = lambda_build / function_id / "botocore" / "data"
    models = {path.name for path in data.iterdir() if path.is_dir()}
    assert models == AWS_SERVICES[function_id]


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
    # Bytecode, where the build machine has a Python 3.13 to compile it, is for 3.13 only.
    for cached in artifact.rglob("__pycache__/*"):
        assert cached.name.endswith(".cpython-313.pyc"), cached


def test_the_built_template_points_each_function_at_its_artifact(lambda_build: Path) -> None:
    built = (lambda_build / "template.yaml").read_text()
    for function_id in FUNCTIONS:
        assert f"CodeUri: {function_id}" in built


def run_from_artifact(
    artifact: Path,
    modules: list[str],
    events: list[Any] | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Import `modules` from the artifact alone; invoke the first one's handler with `events`."""
    result = subprocess.run(  # noqa: S603 (the arguments are this test's own)
        [sys.executable, "-I", "-S", "-c", IMPORT_AND_INVOKE, str(artifact), *modules],
        input=json.dumps(events),
        env=env or {},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # The result is the last line; the handlers print their metrics (EMF) before it.
    *printed, last = result.stdout.splitlines()
    output: dict[str, Any] = json.loads(last)
    output["metrics"] = service_metrics(emf_documents("\n".join(printed)))
    for name, file in output["files"].items():
        assert Path(file).is_relative_to(artifact), (name, file)
    return output


def test_the_api_handler_imports_and_answers_from_its_artifact_alone(local_build: Path) -> None:
    event = json.loads(EVENT.read_text())
    event["path"] = event["requestContext"]["path"] = "/no-such-route"
    output = run_from_artifact(
        local_build / "ApiFunction",
        ["app.main", "pydantic_core", "mangum", "botocore"],
        [event],
        # The app is built at import, from its settings: the template's.
        function_environment("ApiFunction"),
    )
    [response] = output["responses"]
    assert response["statusCode"] == 404
    assert json.loads(response["body"]) == {"detail": "Not Found"}


def test_the_processor_handler_imports_from_its_artifact_alone(local_build: Path) -> None:
    run_from_artifact(
        local_build / "ProcessorFunction",
        ["processor.handler", "aws_lambda_powertools", "pydantic_core", "botocore"],
    )


def test_the_pre_traffic_hook_imports_from_its_artifact_alone(local_build: Path) -> None:
    artifact = local_build / "PreTrafficHook"
    run_from_artifact(
        artifact, ["deploy_hooks.pre_traffic", "pydantic_core", "pydantic_settings", "botocore"]
    )
    # Its clients load the two models the artifact kept (it calls nothing here).
    created = subprocess.run(  # noqa: S603 (the arguments are this test's own)
        [sys.executable, "-I", "-S", "-c", CREATE_HOOK_CLIENTS, str(artifact)],
        env={"AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.split() == ["lambda", "codedeploy"]


def test_both_handlers_call_aws_from_their_artifacts(
    local_build: Path, aws_server: dict[str, str]
) -> None:
    # botocore in the artifacts keeps only the models of the services each function calls.
    def request(method: str, path: str, body: Any = None) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(EVENT.read_text())
        event["httpMethod"] = method
        event["path"] = path
        event["body"] = json.dumps(body) if body is not None else None
        event["headers"]["Content-Type"] = "application/json"
        return event

    enrollment = {"name": "Ana", "age": 30, "cpf": "52998224725"}
    api = run_from_artifact(
        local_build / "ApiFunction",
        ["app.main"],
        [
            request("POST", "/age-groups", {"min_age": 18, "max_age": 65}),
            request("POST", "/enrollments", enrollment),
        ],
        aws_server,
    )
    statuses = [response["statusCode"] for response in api["responses"]]
    assert statuses == [201, 202]
    assert api["metrics"] == {Metric.ENROLLMENT_REQUESTED: [1]}
    enrollment_id = json.loads(api["responses"][1]["body"])["enrollment_id"]
    record = json.loads((ROOT / "tests" / "events" / "sqs_event.json").read_text())
    record["Records"][0]["body"] = json.dumps({"enrollment_id": enrollment_id})

    processor = run_from_artifact(
        local_build / "ProcessorFunction", ["processor.handler"], [record], aws_server
    )

    assert processor["responses"] == [{"batchItemFailures": []}]
    assert processor["metrics"][Metric.ENROLLMENT_PROCESSED] == [1]
    check = run_from_artifact(
        local_build / "ApiFunction",
        ["app.main"],
        [request("GET", f"/enrollments/{enrollment_id}")],
        aws_server,
    )
    assert json.loads(check["responses"][0]["body"])["status"] == "PROCESSED"
    for function_id in ("ApiFunction", "ProcessorFunction"):
        services = AWS_SERVICES[function_id]
        models = {path.name for path in (local_build / function_id / "botocore" / "data").iterdir()}
        assert {name for name in models if not name.endswith((".json", ".json.gz"))} == services
