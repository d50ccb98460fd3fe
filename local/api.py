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


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the app until SIGTERM or SIGINT (uvicorn stops gracefully on either)."""
    parser = argparse.ArgumentParser(description="The enrollment API under uvicorn")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    configure_logging("api")
    exit_with_parent()
    # log_config=None: uvicorn's loggers propagate to the root handler configured above, so the
    # app's own log lines (stdlib logging) show up too, in the same format.
    uvicorn.run(served_app(), host=args.host, port=args.port, log_config=None)


if __name__ == "__main__":
    main()
