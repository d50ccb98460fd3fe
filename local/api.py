"""`python -m local.api --host H --port N`: the FastAPI app under uvicorn, logging plain lines.

With `LOCAL_USAGE_PLAN_ID` (the supervisor sets it), the app is served behind the local gateway
(`local.gateway`): API Gateway's key check and throttling, from the template's definitions.
"""

import argparse
from collections.abc import Sequence

import uvicorn
from starlette.types import ASGIApp

from app.main import app
from local.config import get_local_settings
from local.gateway import gateway_app
from local.process import configure_logging, exit_with_parent
from local.template import load_template


def served_app() -> ASGIApp:
    """The app, behind the local gateway when the supervisor provisioned one."""
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
# the app (app.api.middleware.MAX_BODY_BYTES). It is h11's setting: the parser is pinned to h11.
MAX_HEAD_BYTES = 16 * 1024


def server_config(app: ASGIApp | str, host: str, port: int) -> uvicorn.Config:
    """How the local server runs `app`: what `make run` serves, and what the tests serve."""
    return uvicorn.Config(
        app,
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
