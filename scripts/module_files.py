"""Print the repository's files that the given modules import, directly or not, one per line.

    python scripts/module_files.py processor.handler

A Lambda artifact holds only these (scripts/build-lambda.sh): a module its handler never imports
is not shipped, so it cannot break the function, nor need a dependency the function lacks. The
imports are read from the code, not run; third-party and standard modules are not looked for.
"""

import sys
from modulefinder import ModuleFinder
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_files(modules: list[str]) -> list[str]:
    """The files, relative to the repository, of `modules` and what they import from it."""
    finder = ModuleFinder(path=[str(ROOT)])
    for module in modules:
        finder.import_hook(module)
    paths = (getattr(found, "__file__", None) for found in finder.modules.values())
    files = {Path(path).resolve().relative_to(ROOT).as_posix() for path in paths if path}
    return sorted(files)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: module_files.py MODULE...")
    print("\n".join(module_files(sys.argv[1:])))
