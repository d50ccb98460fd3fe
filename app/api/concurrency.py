"""Where a route's blocking calls run: inline on Lambda, on a worker thread under a server.

The routes are `async def` and hand each blocking call (a DynamoDB or SQS request) to
`run_blocking`. Under a server (uvicorn, the tests' client) that is Starlette's thread pool, so
the event loop serves other requests meanwhile. A Lambda execution environment serves one request
at a time, so there are none: the hop would only cost a thread start per invocation, since
Mangum's task ends with each one. The Lambda handler runs the app inside `inline_blocking_calls`.
See docs/adr/0006-the-thread-hop.md.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool

P = ParamSpec("P")
T = TypeVar("T")

_inline: ContextVar[bool] = ContextVar("inline_blocking_calls", default=False)


async def run_blocking(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`func(*args, **kwargs)`: in a worker thread, or inline within `inline_blocking_calls`."""
    if _inline.get():
        return func(*args, **kwargs)
    return await run_in_threadpool(func, *args, **kwargs)


@contextmanager
def inline_blocking_calls() -> Iterator[None]:
    """Within this block (and the tasks it starts), `run_blocking` calls inline."""
    token = _inline.set(True)
    try:
        yield
    finally:
        _inline.reset(token)
