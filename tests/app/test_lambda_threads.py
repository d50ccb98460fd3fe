"""Under Lambda a sync route runs on the invocation's event loop; under a server, in a worker."""

import asyncio
import threading
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from app.adapters.enrollments import EnrollmentRepository
from app.entrypoints.events import rest_event
from local.aws_shapes import LambdaContext
from local.template import Stack

pytestmark = pytest.mark.usefixtures("event_loop_as_on_lambda")


def on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture
def route_threads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[threading.Thread, bool]]:
    """Where `GET /enrollments/{id}` ran: its thread, and whether an event loop runs there."""
    seen: list[tuple[threading.Thread, bool]] = []
    original = EnrollmentRepository.get

    def get(self: EnrollmentRepository, enrollment_id: UUID) -> Any:
        seen.append((threading.current_thread(), on_event_loop()))
        return original(self, enrollment_id)

    monkeypatch.setattr(EnrollmentRepository, "get", get)
    return seen


def test_under_lambda_a_sync_route_runs_inline(
    stack: Stack, route_threads: list[tuple[threading.Thread, bool]]
) -> None:
    from app.main import handler

    response = handler(rest_event("GET", f"/enrollments/{uuid4()}"), LambdaContext())
    assert response["statusCode"] == 404
    assert route_threads == [(threading.current_thread(), True)]


def test_under_a_server_a_sync_route_runs_in_a_worker_thread(
    client: TestClient, route_threads: list[tuple[threading.Thread, bool]]
) -> None:
    assert client.get(f"/enrollments/{uuid4()}").status_code == 404
    [(thread, in_loop)] = route_threads
    assert thread is not threading.current_thread()
    assert not in_loop
