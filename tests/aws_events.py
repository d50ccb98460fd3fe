"""Sample events as AWS sends them, from tests/events/: the shapes the builders must match."""

import json
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).parent / "events"


def load_event(name: str) -> dict[str, Any]:
    """A sample event from `tests/events/`, as AWS sends it."""
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event
