"""`python -m local` (what `make run` runs): the whole service on this machine, until Ctrl-C.

SIGINT and SIGTERM stop the poller, the API and the emulator, in that order, and exit 0. An API
or a poller that exits on its own is started again, after 1 s, then 2, 4... up to 30 s while it
keeps failing (`local.supervisor.RestartPolicy`), and the emulator keeps its data. If the
emulator exits, its data is gone with it: the others are stopped and the exit code is 1.
"""

import logging
import signal
import sys
import threading
import time
from types import FrameType

from local.config import get_local_settings
from local.process import configure_logging
from local.supervisor import LocalService

logger = logging.getLogger("local")


def banner(service: LocalService, startup_seconds: float) -> str:
    """What to tell the developer once everything answers."""
    settings = service.settings
    lines = [f"Ready in {startup_seconds:.1f} s: the API at {service.api_url}"]
    if service.emulator is None:
        lines.append(
            "LOCAL_STACK=false: no emulator, no poller; AWS resources from the environment"
        )
        return "\n  ".join(lines)
    lines += [
        f"Swagger UI:  {service.api_url}/docs  (Authorize with the API key)",
        f"API keys:    {settings.api_key} (the stack's own, every scope); "
        f"{settings.client_api_key} (a client: age-groups:read, enrollments:write and :read)",
        f"AWS:         {service.emulator.endpoint_url}"
        + (" (external)" if service.emulator.external else " (moto, embedded)"),
        f"Try:         curl -s {service.api_url}/age-groups -H 'x-api-key: {settings.api_key}'",
        "Ctrl-C stops everything.",
    ]
    return "\n  ".join(lines)


def main() -> int:
    """Run the local service until a signal; return the exit code."""
    configure_logging("local")
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        logger.info("%s: stopping", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    started = time.monotonic()
    settings = get_local_settings()
    service = LocalService(settings)
    exit_code = 0
    try:
        service.start()
        if state := service.state():
            settings.local_state_file.write_text(state.model_dump_json(indent=2))
        logger.info(banner(service, time.monotonic() - started))
        while not stopping.wait(0.5):
            if exited := service.exited():
                logger.error(
                    "Exited on its own, its data with it: %s; stopping the rest", ", ".join(exited)
                )
                exit_code = 1
                break
    except Exception:
        if not stopping.is_set():
            logger.exception("The local service could not start")
            exit_code = 1
    finally:
        service.stop()
        settings.local_state_file.unlink(missing_ok=True)
    logger.info("Stopped")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
