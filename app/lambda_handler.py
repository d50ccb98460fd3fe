"""The Lambda entry point: Mangum, minus a thread hop that buys nothing on Lambda.

FastAPI runs a plain `def` route, and the validation of what it returns, in a worker thread, so
that the event loop can serve other requests meanwhile. A Lambda execution environment serves one
request at a time: there are none. Under Mangum the hop costs more than usual, since each
invocation's task ends with it and anyio stops its worker threads with that task, so every request
also starts a thread. Together that was a fifth of a warm request's time (make bench).

So during an invocation those calls run inline. Under a server (uvicorn, the tests' client), the
flag below is unset and FastAPI's thread pool is used as always.
"""

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

import fastapi.routing
from mangum import Mangum
from starlette.concurrency import run_in_threadpool

P = ParamSpec("P")
T = TypeVar("T")

_one_request_at_a_time: ContextVar[bool] = ContextVar("one_request_at_a_time", default=False)


async def _run_sync_route(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    if _one_request_at_a_time.get():
        return func(*args, **kwargs)
    return await run_in_threadpool(func, *args, **kwargs)


# fastapi.routing calls this for both the route and its response validation (FastAPI 0.115+).
fastapi.routing.run_in_threadpool = _run_sync_route  # type: ignore[attr-defined]


class LambdaHandler:
    """`handler(event, context)`: one API Gateway event through the app, as Mangum runs it."""

    def __init__(self, mangum: Mangum) -> None:
        self._mangum = mangum

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        # Mangum runs the app in a task created from this context, so the task sees the flag.
        token = _one_request_at_a_time.set(True)
        try:
            response: dict[str, Any] = self._mangum(event, context)
            return response
        finally:
            _one_request_at_a_time.reset(token)
