"""`python -m local.api --host H --port N`: the FastAPI app under uvicorn, logging plain lines.

With `LOCAL_USAGE_PLAN_ID` (the supervisor sets it), the app is served behind the local gateway
(`local.gateway`): API Gateway's key check and throttling, from the template's definitions.
"""

import argparse
from collections.abc import Sequence

import uvicorn
from starlette.responses import JSONResponse
from starlette.status import HTTP_431_REQUEST_HEADER_FIELDS_TOO_LARGE
from starlette.types import ASGIApp, Receive, Scope, Send

from local.config import get_local_settings
from local.gateway import gateway_app
from local.process import configure_logging, exit_with_parent
from local.template import load_template


def served_app() -> ASGIApp:
    """The app, behind the local gateway when the supervisor provisioned one."""
    # Imported here: the app reads its settings as it is built, from the environment the
    # supervisor gave this process.
    from app.main import app

    settings = get_local_settings()
    if settings.local_usage_plan_id is None:
        return app
    return gateway_app(
        app,
        load_template(),
        settings.local_usage_plan_id,
        settings.local_gateway_refresh_seconds,
        settings.local_key_aliases,
    )


# Bounds on what slow or idle clients can hold. uvicorn has no timeout for reading a request's
# headers, so a client that never finishes them keeps its connection: past MAX_CONNECTIONS, new
# requests are answered 503 at once rather than the server running out of sockets or memory.
# `make soak` runs 20 clients, a browser on /docs a few. On AWS, API Gateway holds the
# connections; this server is for this machine, not the open internet.
MAX_CONNECTIONS = 128
# An idle kept-alive connection is closed after this (uvicorn's default, said here).
KEEP_ALIVE_SECONDS = 5
# The most a request's head (request line and headers) may take; the body has its own limit in
# the app (app.api.middleware.MAX_BODY_BYTES). h11 (the parser is pinned to it) bounds only a head
# it holds incomplete, answering 400 and closing; `HeadLimit` bounds a head that arrived complete.
MAX_HEAD_BYTES = 16 * 1024


def head_size(scope: Scope) -> int:
    """The bytes of a request's head as it was parsed: its request line, its header lines and
    the blank line that ends them (whitespace around a header's value, which the parser drops,
    aside)."""
    target = scope.get("raw_path") or scope["path"].encode()
    if scope["query_string"]:
        target += b"?" + scope["query_string"]
    method, version = scope["method"].encode(), scope["http_version"].encode()
    request_line = b"%s %s HTTP/%s\r\n" % (method, target, version)
    header_lines = sum(len(name) + len(b": \r\n") + len(value) for name, value in scope["headers"])
    return len(request_line) + header_lines + len(b"\r\n")


class HeadLimit:
    """Answers 431 to a request whose head is over `limit` bytes, before `app` sees it.

    h11 checks the size of a head only while it is incomplete: one that arrives whole in a read
    (one write, or the last of several) is parsed whatever its size.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_HEAD_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and head_size(scope) > self.limit:
            refusal = JSONResponse(
                {"detail": f"Request header fields exceed {self.limit} bytes"},
                status_code=HTTP_431_REQUEST_HEADER_FIELDS_TOO_LARGE,
            )
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


def server_config(app: ASGIApp, host: str, port: int) -> uvicorn.Config:
    """How the local server runs `app`: what `make run` serves, and what the tests serve."""
    return uvicorn.Config(
        # Here rather than in `served_app`, so that the tests serve the same bound.
        HeadLimit(app),
        host=host,
        port=port,
        http="h11",
        limit_concurrency=MAX_CONNECTIONS,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        # uvicorn's loggers propagate to the root handler the caller configured, so the app's
        # own log lines (stdlib logging) show up too, in the same format.
        log_config=None,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the app until SIGTERM or SIGINT (uvicorn stops gracefully on either)."""
    parser = argparse.ArgumentParser(description="The enrollment API under uvicorn")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    configure_logging("api")
    exit_with_parent()
    uvicorn.Server(server_config(served_app(), args.host, args.port)).run()


if __name__ == "__main__":
    main()
