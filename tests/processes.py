"""Tests that start processes or servers say so: `@pytest.mark.process` (pyproject.toml).

`make test-fast` runs the tests without the mark, in seconds; a test that starts a process or a
server without it would slow it down unnoticed. So the mark is checked where it matters: a
process started during an unmarked test (its fixtures included) is refused by an audit hook, and
the servers of `tests/conftest.py` call `declare_server()`. Either fails the test, naming the mark.
"""

import sys
from collections.abc import Generator

import pytest

MARK = "process"
# The audit events of every way Python starts a process (the `sys.audit` events table).
PROCESS_EVENTS = frozenset(
    {
        "subprocess.Popen",
        "os.fork",
        "os.forkpty",
        "os.posix_spawn",
        "os.spawn",
        "os.system",
        "os.exec",
    }
)

# The test whose setup, call or teardown runs now; None between tests (collection, the session).
_current: list[pytest.Item] = []


class UndeclaredProcessError(Exception):
    """A test started a process or a server without `@pytest.mark.process`."""


def _check(what: str) -> None:
    if _current and _current[-1].get_closest_marker(MARK) is None:
        raise UndeclaredProcessError(
            f"{_current[-1].nodeid} starts {what}: mark it @pytest.mark.{MARK}, so that "
            "make test-fast leaves it to make test"
        )


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event in PROCESS_EVENTS:
        # os.fork's event has no argument; the others name the program first.
        _check(f"a process ({event} {args[0] if args else ''})")


def declare_server(what: str) -> None:
    """Called by a helper that starts a server in this process: the test must be marked."""
    _check(what)


def pytest_configure(config: pytest.Config) -> None:
    """Watch for processes from now on; an audit hook stays for the life of the interpreter."""
    sys.addaudithook(_audit)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """Know which test runs, through its fixtures' setup and teardown."""
    _current.append(item)
    try:
        return (yield)
    finally:
        _current.pop()
