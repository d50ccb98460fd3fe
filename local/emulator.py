"""The AWS emulator of the local stack: moto in server mode, or an endpoint given to use instead.

`python -m local.emulator --port N` runs moto's server on 127.0.0.1, quieter than its own command
line (no line per request: the poller's long polls would flood the terminal).
"""

import argparse
import io
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from werkzeug.serving import BaseWSGIServer

from local.process import configure_logging, exit_with_parent, spawn, stop

# Named, not __name__: run as `python -m local.emulator`, this module is `__main__`.
logger = logging.getLogger("local.emulator")


class SerializedDynamoDB:
    """WSGI middleware in front of moto: its DynamoDB requests are served one at a time.

    DynamoDB applies each request to a table atomically: a conditional write or a transaction
    never interleaves with another. moto's server answers each request on a thread of its own,
    and its conditional writes and transactions can then interleave (or fail, copying a table
    that another thread changes), so its DynamoDB requests take turns here, outside moto.
    """

    def __init__(self, app: "WSGIApplication") -> None:
        self.app = app
        self._lock = threading.Lock()

    def __call__(
        self, environ: "WSGIEnvironment", start_response: "StartResponse"
    ) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return self.app(environ, start_response)
        # The body is read from the client before the turn is taken: a slow client must not hold
        # up every other request while its bytes arrive.
        length = int(environ.get("CONTENT_LENGTH") or 0)
        environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(length))
        with self._lock:
            # The answer is produced whole before the next request starts.
            return list(self.app(environ, start_response))


def emulator_server(host: str, port: int) -> "BaseWSGIServer":
    """moto's server application behind `SerializedDynamoDB`, threaded, as moto serves it."""
    # Imported here: moto takes a second to import, and the supervisor never needs it.
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    app = SerializedDynamoDB(DomainDispatcherApplication(create_backend_app))
    return make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)


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
