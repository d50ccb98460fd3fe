"""The API's init pauses the garbage collector, freezes what it built, and resumes it."""

import gc
import subprocess
import sys
from collections.abc import Iterator

import pytest

from app.entrypoints.init import function_init
from tests.infra.conftest import ROOT

AFTER_INIT = "import gc, app.main; print(gc.isenabled(), gc.get_freeze_count() > 50_000)"


@pytest.fixture(autouse=True)
def collector() -> Iterator[None]:
    """The collector as this process had it, whatever a test does to it."""
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.process
def test_after_the_api_init_the_collector_runs_and_what_init_built_is_frozen() -> None:
    result = subprocess.run(  # noqa: S603 (this interpreter, this test's own code)
        [sys.executable, "-c", AFTER_INIT], cwd=ROOT, capture_output=True, text=True, check=True
    )

    assert result.stdout.split() == ["True", "True"]


def failing_init() -> None:
    with function_init():
        assert not gc.isenabled()
        raise RuntimeError("a failing init")


def test_the_collector_is_paused_during_init_and_resumes_when_it_fails() -> None:
    gc.enable()
    with pytest.raises(RuntimeError, match="a failing init"):
        failing_init()

    assert gc.isenabled()
    assert gc.get_freeze_count() > 0


def test_a_collector_paused_before_init_stays_paused() -> None:
    gc.disable()
    with function_init():
        pass

    assert not gc.isenabled()
