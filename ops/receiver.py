"""A webhook receiver on this machine: it records each POST and answers as it is told (204 by
default). `make smoke` listens with it for its enrollment's event; the tests and the soak use it
as a partner's endpoint. What arrived is verified with the Standard Webhooks reference library,
as a partner's receiver would verify it."""

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

# Far beyond an `enrollment.processed` event's few hundred bytes.
MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class Delivery:
    """One POST as it arrived, and when (seconds since the epoch, this machine's clock)."""

    headers: dict[str, str]
    body: bytes
    received_at: float = 0.0

    @property
    def event(self) -> dict[str, Any]:
        """The body, as JSON."""
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    def verified_by(self, secret: str) -> dict[str, Any]:
        """The event, if its signature is the endpoint's under `secret`; the library's
        `WebhookVerificationError` if not."""
        event: dict[str, Any] = Webhook(secret).verify(self.body, self.headers)
        return event


def _no_content(delivery: Delivery) -> tuple[int, dict[str, str]]:
    return 204, {}


@dataclass
class Receiver:
    """An endpoint: its URL, what it got in order, and what it answers (`answer`)."""

    url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    answer: Callable[[Delivery], tuple[int, dict[str, str]]] = _no_content
    received: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float) -> list[Delivery]:
        """The deliveries once there are `count`, or whatever came within `timeout`."""
        with self.received:
            self.received.wait_for(lambda: len(self.deliveries) >= count, timeout)
            return list(self.deliveries)


@contextmanager
def listening(host: str = "127.0.0.1", port: int = 0, path: str = "/") -> Iterator[Receiver]:
    """A receiver on `host:port` (a free port by default), served in a thread while the block
    runs; its `url` is `http://host:port` and `path`."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self.send_response(413)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = self.rfile.read(length)
            delivery = Delivery(
                {k.lower(): v for k, v in self.headers.items()}, body, received_at=time.time()
            )
            status, answer_headers = state.answer(delivery)
            with state.received:
                state.deliveries.append(delivery)
                state.received.notify_all()
            self.send_response(status)
            for name, value in answer_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: a receiver's user prints what matters, not each request."""

    server = ThreadingHTTPServer((host, port), Handler)
    state.url = f"http://{host}:{server.server_port}{path}"
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
