"""Fixtures of the API's tests."""

import botocore.retries.standard
import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK retries as configured, without the wait between attempts."""
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda *_: 0)


@pytest.fixture
def open_group(client: TestClient) -> None:
    """An age group that admits every age."""
    assert client.post("/age-groups", json={"min_age": 0, "max_age": 150}).status_code == 201
