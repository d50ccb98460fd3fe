"""The soak test's fault proxy: it forwards what it does not cut, and cuts what it says it does."""

import http.server
import threading
from collections.abc import Iterator
from typing import ClassVar

import httpx
import pytest

from bench.faults import FaultProxy

# A server and the proxy in front of it, over real sockets.
pytestmark = pytest.mark.process


class Counting(http.server.BaseHTTPRequestHandler):
    served: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Counting.served.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[int]:
    Counting.served = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_without_faults_every_exchange_goes_through(upstream: int) -> None:
    proxy = FaultProxy(upstream, rate=0).start()
    try:
        with httpx.Client(base_url=proxy.url) as client:
            answers = [client.get(f"/{n}").text for n in range(20)]
    finally:
        proxy.stop()

    assert answers == ["ok"] * 20
    assert Counting.served == [f"/{n}" for n in range(20)]
    assert proxy.cuts.total() == 0


def test_each_cut_loses_a_request_or_an_answer_and_is_counted(upstream: int) -> None:
    proxy = FaultProxy(upstream, rate=1, seed=3).start()
    answered = failed = 0
    try:
        for n in range(40):
            try:
                httpx.get(f"{proxy.url}/{n}")
                answered += 1
            except httpx.TransportError:
                failed += 1
    finally:
        proxy.stop()

    cuts = proxy.cuts
    assert failed == cuts.total() > 0
    assert answered > 0
    # A request cut before it arrived was never served; one whose answer was lost was.
    assert len(Counting.served) == 40 - cuts["request never arrived"]
    assert cuts["answer lost"] > 0
