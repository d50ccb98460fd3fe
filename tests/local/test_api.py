"""The local server's bounds on slow and idle clients (local/api.py), over real sockets."""

import http.client
import json
import socket
from collections.abc import Iterator
from contextlib import ExitStack
from urllib.parse import urlsplit

import httpx
import pytest

from local.api import MAX_CONNECTIONS, MAX_HEAD_BYTES
from local.template import Stack
from tests.conftest import in_process_app, served

# Each test serves the API under uvicorn, over real sockets.
pytestmark = pytest.mark.process

# A head well past the limit, as a client that sends one too many cookies does.
OVERSIZED_HEAD_BYTES = 70 * 1024


@pytest.fixture
def url(stack: Stack) -> Iterator[str]:
    with served(in_process_app()) as base_url:
        yield base_url


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    return socket.create_connection((parts.hostname, parts.port), timeout=5)


def head_of(size: int) -> bytes:
    """A complete `GET /age-groups` head of exactly `size` bytes, its blank line included."""
    start = b"GET /age-groups HTTP/1.1\r\nHost: localhost\r\nX-Padding: "
    end = b"\r\n\r\n"
    return start + b"x" * (size - len(start) - len(end)) + end


def exchange(url: str, head: bytes, write_size: int | None = None) -> tuple[int, bytes] | None:
    """Send `head` on a new connection, in writes of `write_size` bytes (one write if None);
    return the answer's status and body, or None if the server reset the connection first."""
    step = write_size or len(head)
    with connect(url) as connection:
        try:
            for start in range(0, len(head), step):
                connection.sendall(head[start : start + step])
            with http.client.HTTPResponse(connection) as answer:
                answer.begin()
                return answer.status, answer.read()
        except ConnectionResetError:
            return None


def test_a_head_at_the_limit_is_served(url: str) -> None:
    assert exchange(url, head_of(MAX_HEAD_BYTES)) == (200, b"[]")


@pytest.mark.parametrize(
    "write_size", [None, 4096, 1024], ids=["one write", "4 KiB writes", "1 KiB writes"]
)
def test_a_complete_head_over_the_limit_is_431_before_the_app(
    url: str, write_size: int | None
) -> None:
    # Every write but the last leaves at most the limit of an incomplete head for the parser to
    # hold, so the head is only ever measured complete, however the server reads the writes.
    answered = exchange(url, head_of(MAX_HEAD_BYTES + 1), write_size)

    assert answered is not None
    status, body = answered
    assert status == 431
    assert json.loads(body) == {"detail": f"Request header fields exceed {MAX_HEAD_BYTES} bytes"}
    with httpx.Client(base_url=url) as client:
        assert client.get("/age-groups").status_code == 200


def test_a_head_far_over_the_limit_in_one_write_is_refused(url: str) -> None:
    answered = exchange(url, head_of(OVERSIZED_HEAD_BYTES))

    # Over 64 KiB, loopback's MTU, it arrives in two segments: read together, the head is
    # complete (431); read apart, the parser holds an incomplete head past the limit (400, the
    # connection closed, and reset as the rest arrives). Served, never.
    assert answered is None or answered[0] in (400, 431)
    with httpx.Client(base_url=url) as client:
        assert client.get("/age-groups").status_code == 200


def test_a_request_head_growing_past_the_limit_is_refused_and_the_server_goes_on(url: str) -> None:
    with connect(url) as slow:
        # Headers that never end, longer than a request's head may be.
        slow.sendall(b"GET /age-groups HTTP/1.1\r\nHost: localhost\r\nX-Padding: ")
        slow.sendall(b"x" * MAX_HEAD_BYTES)
        answer = slow.recv(1024)

    assert answer.startswith(b"HTTP/1.1 400 ")
    with httpx.Client(base_url=url) as client:
        assert client.get("/age-groups").status_code == 200


def test_past_the_connection_limit_a_request_is_503_until_the_slow_clients_go(url: str) -> None:
    with ExitStack() as slow_clients:
        for _ in range(MAX_CONNECTIONS):
            # A request whose headers never end.
            slow = slow_clients.enter_context(connect(url))
            slow.sendall(b"GET /age-groups HTTP/1.1\r\nHost: localhost\r\n")
        with httpx.Client(base_url=url) as client:
            assert client.get("/age-groups").status_code == 503

    with httpx.Client(base_url=url) as client:
        assert client.get("/age-groups").status_code == 200
