"""The AWS emulator of the local stack: moto in server mode, or an endpoint given to use instead.

`python -m local.emulator --port N` runs moto's server on 127.0.0.1, quieter than its own command
line (no line per request: the poller's long polls would flood the terminal).
"""

import argparse
import functools
import logging
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any, TypeVar

from local.process import configure_logging, exit_with_parent, spawn, stop

# Named, not __name__: run as `python -m local.emulator`, this module is `__main__`.
logger = logging.getLogger("local.emulator")

Method = TypeVar("Method", bound=Callable[..., Any])


def serialized(method: Method) -> Method:
    """`method`, run by one thread at a time.

    DynamoDB applies each request to a table atomically: a conditional write or a transaction
    never interleaves with another. moto's server answers each request on a thread of its own,
    and its conditional writes and transactions can then interleave (or fail, copying a table
    that another thread changes), so its DynamoDB requests are made to take turns.
    """
    lock = threading.Lock()

    @functools.wraps(method)
    def one_at_a_time(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    return one_at_a_time  # type: ignore[return-value]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_serving(url: str, timeout: float, process: "subprocess.Popen[str] | None") -> None:
    """Return once `url` answers HTTP (any status); fail if `process` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 (a local http URL)
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            pass
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with code {process.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.1)


class Emulator:
    """An AWS endpoint: the embedded moto server in a child process, or an external URL."""

    def __init__(self, endpoint_url: str | None = None, port: int = 0) -> None:
        self.external = endpoint_url is not None
        self.port = port or free_port()
        self.endpoint_url = endpoint_url or f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[str] | None = None

    def start(self, env: Mapping[str, str], output: IO[str] | None = None) -> None:
        """Start moto (unless the endpoint is external) and wait until it answers."""
        if not self.external:
            self._process = spawn("local.emulator", ["--port", str(self.port)], env, output)
            logger.info("Starting the AWS emulator (moto) at %s", self.endpoint_url)
        wait_until_serving(self.endpoint_url, timeout=30, process=self._process)

    @property
    def process(self) -> "subprocess.Popen[str] | None":
        """The moto server's process, when it is embedded."""
        return self._process

    def stop(self) -> None:
        """Stop the embedded moto server; its state goes with it."""
        if self._process is not None:
            stop(self._process, timeout=5)
            self._process = None


def main(argv: Sequence[str] | None = None) -> None:
    """Serve moto on 127.0.0.1 until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description="moto in server mode, for the local stack")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    # Imported here: moto takes a second to import, and the supervisor never needs it.
    from moto import server
    from moto.dynamodb.responses import DynamoHandler

    DynamoHandler.call_action = serialized(DynamoHandler.call_action)  # type: ignore[method-assign]
    configure_logging("emulator")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    exit_with_parent()
    server.main(["--host", "127.0.0.1", "--port", str(args.port)])


if __name__ == "__main__":
    main()
