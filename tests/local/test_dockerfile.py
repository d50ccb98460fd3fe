"""The Dockerfile, checked without a Docker engine: lint, inputs, and what it runs."""

import fnmatch
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    parsed = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            parsed.append((keyword.upper(), arguments.strip()))
    return parsed


def copied_from_context() -> set[str]:
    """The names of what the image copies from the build context."""
    return {
        Path(arguments.split()[-1]).name
        for keyword, arguments in instructions()
        if keyword == "COPY" and not arguments.startswith("--from")
    }


def build_args() -> dict[str, str]:
    return dict(
        arguments.split("=", 1) for keyword, arguments in instructions() if keyword == "ARG"
    )


def ignored(path: str) -> bool:
    """Whether .dockerignore leaves `path` out of the build context (last match wins)."""
    result = False
    for pattern in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = pattern.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(f"{pattern}/"):
            result = not negated
    return result


@pytest.mark.process
def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(  # noqa: S603
        [str(HADOLINT), str(DOCKERFILE)], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_every_path_it_copies_from_the_context_exists_and_is_not_ignored() -> None:
    sources = [
        source
        for keyword, arguments in instructions()
        if keyword == "COPY" and not arguments.startswith("--from")
        for source in arguments.split()[:-1]
    ]

    assert sources, "no COPY from the build context"
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not ignored(source), f"{source} is excluded by .dockerignore"


def test_the_images_are_pinned() -> None:
    args = build_args()
    python_image = args["PYTHON_IMAGE"]

    assert re.fullmatch(r"python:3\.13\.\d+-slim(-\w+)?", python_image)
    makefile = (ROOT / "Makefile").read_text()
    assert f"UV_VERSION := {args['UV_VERSION']}" in makefile


def test_it_runs_as_a_non_root_user() -> None:
    keywords = [keyword for keyword, _ in instructions()]
    users = [arguments for keyword, arguments in instructions() if keyword == "USER"]

    assert users
    assert users[-1].split(":")[0] not in ("root", "0")
    assert keywords.index("USER") < keywords.index("CMD")


def test_the_command_runs_a_module_the_image_contains() -> None:
    (arguments,) = [arguments for keyword, arguments in instructions() if keyword == "CMD"]
    command = json.loads(arguments)
    copied = copied_from_context()

    assert command[:2] == ["python", "-m"]
    module = command[2]
    assert importlib.util.find_spec(f"{module}.__main__") is not None
    assert module.split(".")[0] in copied


def test_the_image_holds_every_package_of_the_project_its_command_imports() -> None:
    (arguments,) = [arguments for keyword, arguments in instructions() if keyword == "CMD"]
    module = json.loads(arguments)[2]
    project = sorted(path.parent.name for path in ROOT.glob("*/__init__.py"))
    graph = grimp.build_graph(*project, cache_dir=None)

    imported = {name.partition(".")[0] for name in graph.find_upstream_modules(module, True)}

    # The graph found imports at all (a wrong module name would find none)...
    assert imported
    # ...and each package among them is in the image.
    assert imported - copied_from_context() == set()


def test_the_lock_installs_what_the_command_needs() -> None:
    """The image installs the runtime dependencies and the `local` extra from uv.lock."""
    (run,) = [arguments for keyword, arguments in instructions() if "uv sync" in arguments]

    assert "--frozen" in run
    assert "--extra local" in run
