"""Fixtures of the API's tests."""

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def open_group(client: TestClient) -> None:
    """An age group that admits every age."""
    assert client.post("/age-groups", json={"min_age": 0, "max_age": 150}).status_code == 201
