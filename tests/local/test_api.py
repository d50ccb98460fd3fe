"""The local server's bounds on slow and idle clients (local/api.py), over real sockets."""

import socket
from collections.abc import Iterator
from contextlib import ExitStack
from urllib.parse import urlsplit

import httpx
import pytest

from app.api.factory import create_app
from local.api import MAX_CONNECTIONS, MAX_HEAD_BYTES
from local.template import Stack
from tests.conftest import served


@pytest.fixture
def url(stack: Stack) -> Iterator[str]:
    with served(create_app()) as base_url:
        yield base_url


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    return socket.create_connection((parts.hostname, parts.port), timeout=5)


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
