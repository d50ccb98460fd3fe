"""Webhook receivers and DNS for the tests: a receiver on this machine whose answers a test
chooses, and a resolver that needs no network."""

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

from app.domain.errors import UnsafeWebhookUrlError

# A public address: a URL's host that the resolver below resolves to it is one a delivery may go.
PUBLIC_ADDRESS = "93.184.215.14"


class FakeResolver:
    """DNS without the network: each name to the addresses it is given, any other to a public
    one; an address literal to itself."""

    def __init__(self, names: dict[str, list[str]] | None = None) -> None:
        self.names = names or {}

    def resolve(self, host: str, port: int) -> list[str]:
        """The host's addresses."""
        if host in self.names:
            if not self.names[host]:
                raise UnsafeWebhookUrlError("the host must resolve to an address")
            return self.names[host]
        if host.replace(".", "").isdigit() or ":" in host:
            return [host]
        return [PUBLIC_ADDRESS]


@dataclass
class Delivery:
    """A request the receiver got."""

    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        """The body, as JSON."""
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    def verified_by(self, secret: str) -> dict[str, Any]:
        """The event, as the Standard Webhooks library verifies it with `secret`; it raises if
        the signature is wrong."""
        verified: dict[str, Any] = Webhook(secret).verify(self.body, self.headers)
        return verified


@dataclass
class Receiver:
    """An endpoint on 127.0.0.1: what it got, and what it answers (`answer`, by default 204)."""

    url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    answer: Callable[[Delivery], tuple[int, dict[str, str]]] = lambda delivery: (204, {})
    received: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float) -> list[Delivery]:
        """The deliveries once there are `count`, or whatever came within `timeout`."""
        with self.received:
            self.received.wait_for(lambda: len(self.deliveries) >= count, timeout)
            return list(self.deliveries)


@contextmanager
def receiver() -> Iterator[Receiver]:
    """A receiver, served in a thread while the block runs."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            delivery = Delivery(
                {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)
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
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/hooks"
    thread = threading.Thread(target=server.serve_forever, name="receiver", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
