"""`python -m local.api --host H --port N`: the FastAPI app under uvicorn, logging plain lines."""

import argparse
from collections.abc import Sequence

import uvicorn

from local.process import configure_logging, exit_with_parent


def main(argv: Sequence[str] | None = None) -> None:
    """Serve `app.main:app` until SIGTERM or SIGINT (uvicorn stops gracefully on either)."""
    parser = argparse.ArgumentParser(description="The enrollment API under uvicorn")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    configure_logging("api")
    exit_with_parent()
    # log_config=None: uvicorn's loggers propagate to the root handler configured above, so the
    # app's own log lines (stdlib logging) show up too, in the same format.
    uvicorn.run("app.main:app", host=args.host, port=args.port, log_config=None)


if __name__ == "__main__":
    main()
