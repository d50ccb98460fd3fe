"""Webhook receivers and DNS for the tests: a receiver on this machine whose answers a test
chooses (ops.receiver's), and a resolver that needs no network."""

from collections.abc import Iterator
from contextlib import contextmanager

from app.domain.errors import UnsafeWebhookUrlError
from ops.receiver import Delivery, Receiver, listening

__all__ = ["Delivery", "FakeResolver", "Receiver", "receiver"]

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


@contextmanager
def receiver() -> Iterator[Receiver]:
    """A receiver on 127.0.0.1, at a free port, while the block runs."""
    with listening(path="/hooks") as state:
        yield state
