"""A webhook receiver for `make smoke`: it listens where the smoke is told, records each POST, and
answers 204; the smoke verifies what arrived with the Standard Webhooks reference library."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

# Far beyond an `enrollment.processed` event's few hundred bytes.
MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class Delivery:
    """One POST as it arrived."""

    headers: dict[str, str]
    body: bytes

    def verified_by(self, secret: str) -> dict[str, Any] | None:
        """The event, if its signature is the endpoint's under `secret`; None if not."""
        try:
            event: dict[str, Any] = Webhook(secret).verify(self.body, self.headers)
        except WebhookVerificationError:
            return None
        return event


@dataclass
class Received:
    """What the receiver got, in order; `wait` wakes when more comes."""

    deliveries: list[Delivery] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def add(self, delivery: Delivery) -> None:
        with self.arrived:
            self.deliveries.append(delivery)
            self.arrived.notify_all()

    def wait(self, seen: int, timeout: float) -> list[Delivery]:
        """The deliveries once there are more than `seen`, or as they are after `timeout`."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.deliveries) > seen, timeout)
            return list(self.deliveries)


@contextmanager
def listening(host: str, port: int) -> Iterator[Received]:
    """A receiver on `host:port` for as long as the block runs."""
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self.send_response(413)
                self.end_headers()
                return
            body = self.rfile.read(length)
            received.add(Delivery({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the smoke prints its steps, not each request."""

    server = ThreadingHTTPServer((host, port), Handler)
    thread = threading.Thread(target=server.serve_forever, name="smoke-receiver", daemon=True)
    thread.start()
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
