"""A TCP proxy on 127.0.0.1 that cuts some of the exchanges through it, for the soak test.

Each request that crosses it is cut with probability `rate`: half of the cuts before the request
reaches the server (it never happened), half after the server answered (it happened, but its
answer is lost). Both ends of a cut connection are closed, as when a network path fails. Placed
between clients and the API, it makes clients retry; between the API and AWS, the SDK retries.
"""

import asyncio
import logging
import random
import threading
from collections import Counter
from collections.abc import Callable
from contextlib import suppress

logger = logging.getLogger(__name__)

CHUNK = 64 * 1024


class FaultProxy:
    """Forward connections to `upstream_port` on 127.0.0.1, cutting some of their exchanges."""

    def __init__(self, upstream_port: int, rate: float, seed: int = 0) -> None:
        self.upstream_port = upstream_port
        self.rate = rate
        self.cuts: Counter[str] = Counter()
        self._rng = random.Random(seed)  # noqa: S311 (fault injection, not security)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    def start(self) -> "FaultProxy":
        """Listen on a free port (`self.port`) in a thread of its own."""
        self._thread.start()
        self._ready.wait()
        return self

    def stop(self) -> None:
        """Stop listening and close every connection."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        self._server.close()
        tasks = asyncio.all_tasks(self._loop)
        for task in tasks:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self._loop.run_until_complete(self._server.wait_closed())
        self._loop.close()

    def _cut(self, kind: str) -> bool:
        if self._rng.random() >= self.rate / 2:
            return False
        self.cuts[kind] += 1
        return True

    async def _serve(self, client: asyncio.StreamReader, to_client: asyncio.StreamWriter) -> None:
        try:
            upstream, to_upstream = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            to_client.transport.abort()
            return
        # Whether a request was forwarded whose answer has not started to come back.
        awaiting_answer = False

        def cut_request() -> bool:
            nonlocal awaiting_answer
            if not awaiting_answer and self._cut("request never arrived"):
                return True
            awaiting_answer = True
            return False

        def cut_answer() -> bool:
            nonlocal awaiting_answer
            if awaiting_answer and self._cut("answer lost"):
                return True
            awaiting_answer = False
            return False

        async def pipe(
            source: asyncio.StreamReader, sink: asyncio.StreamWriter, cut: Callable[[], bool]
        ) -> None:
            while data := await source.read(CHUNK):
                if cut():
                    to_client.transport.abort()
                    to_upstream.transport.abort()
                    return
                sink.write(data)
                await sink.drain()
            sink.close()

        try:
            with suppress(OSError):
                await asyncio.gather(
                    pipe(client, to_upstream, cut_request), pipe(upstream, to_client, cut_answer)
                )
        finally:
            to_client.close()
            to_upstream.close()
