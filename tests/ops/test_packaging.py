"""The operator tools ship in the wheel and run from it, with the base dependencies and the `ops`
extra alone: no emulator, no development stack, no benchmark, no test."""

import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
WHEEL_PACKAGES: list[str] = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
CONSOLE_SCRIPTS: dict[str, str] = PROJECT["scripts"]
TOOL_MODULES = ["ops.clients", "ops.smoke"]
# The import contract of the tools (lint-imports checks it statically): what they must not import
# even where it is installed, as the dev stack is in a checkout.
(OPS_CONTRACT,) = [
    contract
    for contract in PYPROJECT["tool"]["importlinter"]["contracts"]
    if contract.get("source_modules") == ["ops"]
]

# Run in a fresh interpreter: every module named in BLOCKED is refused, as if not installed, then
# each module of MODULES is imported and the clients' command line built. A module BLOCKED that is
# loaded already is reported first, and the refusal itself is proven on the emulator.
IMPORT_WITHOUT = """
import importlib, importlib.abc, sys

BLOCKED = frozenset({blocked!r})
MODULES = {modules!r}

preloaded = sorted(name for name in sys.modules if name.partition(".")[0] in BLOCKED)
assert not preloaded, f"loaded before the test could refuse them: {{preloaded}}"


class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (not installed)", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
for module in MODULES:
    importlib.import_module(module)
import ops.clients
print(ops.clients.parser().format_usage(), end="")
try:
    import moto
except ModuleNotFoundError as refused:
    print(refused)
"""


def project_requirements(extra: str) -> list[Requirement]:
    """What installing the project with `extra` requires of other distributions, its own extras
    (`enrollment-service[api]`) unfolded."""
    found = [Requirement(text) for text in PROJECT["dependencies"]]
    for text in PROJECT["optional-dependencies"][extra]:
        requirement = Requirement(text)
        if canonicalize_name(requirement.name) == canonicalize_name(PROJECT["name"]):
            for included in sorted(requirement.extras):
                found += project_requirements(included)
        else:
            found.append(requirement)
    return found


def installed_closure(requirements: list[Requirement]) -> set[str]:
    """The distributions these requirements install, with theirs in turn, as installed here."""
    seen: set[tuple[str, tuple[str, ...]]] = set()
    pending = [(requirement, "") for requirement in requirements]
    while pending:
        requirement, extra = pending.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        extras = tuple(sorted(requirement.extras))
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        for text in importlib.metadata.distribution(name).requires or []:
            pending += [(Requirement(text), wanted) for wanted in ("", *extras)]
    return {name for name, _ in seen}


def forbidden_to_the_tools() -> set[str]:
    """Top-level modules the tools may not import: those of every distribution installed here
    that the wheel and its `ops` extra would not bring, the project's packages the wheel leaves
    out, and what the tools' import contract forbids."""
    allowed = installed_closure(project_requirements("ops"))
    not_installed = {
        module
        for module, distributions in importlib.metadata.packages_distributions().items()
        if not {canonicalize_name(name) for name in distributions} & allowed
    }
    checkout = {path.parent.name for path in ROOT.glob("*/__init__.py")}
    forbidden = {module.partition(".")[0] for module in OPS_CONTRACT["forbidden_modules"]}
    return not_installed | (checkout - set(WHEEL_PACKAGES)) | forbidden


def test_the_wheel_ships_the_module_of_every_console_script() -> None:
    assert CONSOLE_SCRIPTS == {
        "enrollment-clients": "ops.clients:main",
        "enrollment-data": "ops.personal_data:main",
    }
    for target in CONSOLE_SCRIPTS.values():
        module = target.partition(":")[0]
        assert module.partition(".")[0] in WHEEL_PACKAGES, target
        assert (ROOT / f"{module.replace('.', '/')}.py").is_file(), target
    assert "ops" in WHEEL_PACKAGES


def test_what_the_tools_may_not_import_is_known() -> None:
    # The check below refuses these: a wrong computation (nothing refused, or the tools' own
    # needs refused) would prove nothing or fail for a wrong reason.
    blocked = forbidden_to_the_tools()

    assert {"moto", "local", "bench", "tests", "uvicorn", "yaml", "fastapi", "rich"} <= blocked
    assert not {"boto3", "botocore", "httpx", "pydantic", "pydantic_settings", "app"} & blocked


@pytest.mark.process
def test_the_tools_import_with_only_the_wheel_and_the_ops_extra() -> None:
    code = IMPORT_WITHOUT.format(blocked=sorted(forbidden_to_the_tools()), modules=TOOL_MODULES)

    result = subprocess.run(  # noqa: S603 (this interpreter, a fixed program)
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
    usage, refused = result.stdout.split("\n", 1)[0], result.stdout.splitlines()[-1]
    assert usage.startswith("usage: enrollment-clients")
    assert refused == "No module named 'moto' (not installed)"
