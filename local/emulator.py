"""The AWS emulator of the local stack: moto in server mode, or an endpoint given to use instead.

`python -m local.emulator --port N` runs moto's server on 127.0.0.1, quieter than its own command
line (no line per request: the poller's long polls would flood the terminal).
"""

import argparse
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from werkzeug.serving import BaseWSGIServer

from local.process import configure_logging, exit_with_parent, spawn, stop

# Named, not __name__: run as `python -m local.emulator`, this module is `__main__`.
logger = logging.getLogger("local.emulator")

# moto's internals this module builds on. moto documents its server only whole (`moto_server`,
# `moto.server.ThreadedMotoServer`), with no place for DynamoDB's lock. ADR 0007 says what each
# is and what breaks if it changes; tests/local/test_moto_internals.py fails, naming the one
# that changed and moto's version, when an upgrade changes one.
MOTO_INTERNALS = (
    "moto.moto_server.werkzeug_app.DomainDispatcherApplication",
    "moto.moto_server.werkzeug_app.create_backend_app",
    "moto.moto_server.werkzeug_app.BackendRequest",
    "moto.moto_server.werkzeug_app.MotoRequestHandler",
    "moto.core.utils.convert_to_flask_response",
    "moto.dynamodb.responses.DynamoHandler.dispatch",
)


def emulator_app() -> "WSGIApplication":
    """moto's server application, with DynamoDB's requests applied one at a time.

    DynamoDB applies each request to a table atomically: a conditional write or a transaction
    never interleaves with another. moto's server answers each request on a thread of its own,
    and its conditional writes and transactions can then interleave (or fail, copying a table
    that another thread changes). So DynamoDB's backend application is built here, as moto
    builds it but for one change: moto's handler runs under a lock. Only the handler takes turns;
    routing the request and writing the answer do not. moto has no documented way to do this:
    the application is assembled from moto's server internals (`MOTO_INTERNALS`, ADR 0007).
    """
    # Imported here: moto takes a second to import, and the supervisor never needs it.
    from flask import Flask
    from moto.core.utils import convert_to_flask_response
    from moto.dynamodb.responses import DynamoHandler
    from moto.moto_server.werkzeug_app import (
        BackendRequest,
        DomainDispatcherApplication,
        create_backend_app,
    )

    turn = threading.Lock()

    def dispatch_dynamodb(request: Any, full_url: str, headers: dict[str, str]) -> Any:
        with turn:
            return DynamoHandler.dispatch(request, full_url, headers)

    dynamodb = Flask("moto-dynamodb")
    dynamodb.request_class = BackendRequest
    # DynamoDB's one route, as in moto's own application: every action is a POST to `/`, named
    # by its X-Amz-Target header.
    dynamodb.add_url_rule(
        "/",
        endpoint="dynamodb",
        view_func=convert_to_flask_response(dispatch_dynamodb),
        methods=["POST"],
        strict_slashes=False,
    )

    def backend_app(service: str) -> Flask:
        return dynamodb if service == "dynamodb" else create_backend_app(service)  # type: ignore[arg-type]

    return DomainDispatcherApplication(backend_app)


def emulator_server(host: str, port: int) -> "BaseWSGIServer":
    """`emulator_app()`, threaded, as moto's `ThreadedMotoServer` serves its own application."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    return make_server(
        host, port, emulator_app(), threaded=True, request_handler=MotoRequestHandler
    )


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
            # moto builds the URLs it returns (queue URLs) from MOTO_PORT, as its own server sets.
            env = {**env, "MOTO_PORT": str(self.port)}
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
    configure_logging("emulator")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    exit_with_parent()
    server = emulator_server("127.0.0.1", args.port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
