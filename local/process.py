"""The processes of the local stack: how they are started, logged, and stopped."""

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import IO

from app.observability.logs import CONTEXT_FIELDS

logger = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(component)-9s %(name)s: %(message)s"
LOG_DATE_FORMAT = "%H:%M:%S"


class ContextFormatter(logging.Formatter):
    """Plain lines, ending with the ids a record carries (`request_id=...`), as Lambda's JSON
    lines carry them as fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS if name in vars(record)]
        if not ids:
            return line
        # After the message's first line: a traceback keeps its lines below.
        first, newline, rest = line.partition("\n")
        return f"{first} [{' '.join(ids)}]{newline}{rest}"


def configure_logging(component: str, level: int = logging.INFO) -> None:
    """Log plain lines to stderr, each naming the component (`api`, `poller`...) it comes from."""
    handler = logging.StreamHandler()
    handler.setFormatter(ContextFormatter(LOG_FORMAT, LOG_DATE_FORMAT))

    def add_component(record: logging.LogRecord) -> bool:
        record.component = component
        return True

    handler.addFilter(add_component)
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # botocore says at INFO where it found credentials and endpoints, once per client.
    logging.getLogger("botocore").setLevel(logging.WARNING)
    # httpx logs every request at INFO: the soak test's clients send thousands.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def exit_with_parent(interval: float = 0.5) -> None:
    """Send this process SIGTERM if its parent dies, so a killed supervisor leaves no orphan."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        logger.warning("The supervisor is gone: stopping")
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def spawn(
    module: str,
    args: Sequence[str],
    env: Mapping[str, str],
    output: IO[str] | None = None,
    pipe_stdout: bool = False,
) -> "subprocess.Popen[str]":
    """Run `python -m module args` in its own process group, so a Ctrl-C reaches only the
    supervisor, which then stops its children in order.

    Its log (stderr) goes to `output`, or this process's stderr. With `pipe_stdout`, its stdout is
    for the caller to read, line by line as it is printed.
    """
    if pipe_stdout:
        stdout: IO[str] | int | None = subprocess.PIPE
        stderr: IO[str] | int | None = output
        env = {**env, "PYTHONUNBUFFERED": "1"}
    else:
        stdout = output
        stderr = subprocess.STDOUT if output is not None else None
    return subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", module, *args],
        env=dict(env),
        stdout=stdout,
        stderr=stderr,
        text=True,
        process_group=0,
    )


def stop(process: "subprocess.Popen[str]", timeout: float) -> int:
    """SIGTERM, then SIGKILL after `timeout` seconds; return the exit code once it is reaped."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.warning("pid %d did not stop in %.0f s: killing it", process.pid, timeout)
            process.kill()
    return process.wait()
