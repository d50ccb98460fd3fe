"""Headless Chromium (the system's, driven by Playwright) on the local stack's Swagger UI.

These tests are marked `browser` and left out of `make test`, which must pass on a machine without
Chromium; `make test-browser` installs Chromium and runs them.
"""

import shutil
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, Route, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from tests.e2e.test_local_stack import RunningStack, start_stack, stop_stack

ROOT = Path(__file__).resolve().parents[2]
# Where a failed test leaves its screenshot and the page's console log.
ARTIFACTS = ROOT / "test-output" / "browser"
# Without the background-networking switches Chromium itself calls Google's hosts; a fresh
# profile (the user data directory) keeps a developer's own Chromium state out.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000


@dataclass
class BrowserPage:
    """A page in a fresh Chromium profile, with every request it made and what it logged."""

    page: Page
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, URL)
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("No chromium on PATH: `make test-browser` installs it (apt-get, as root)")
    return path


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    stack = start_stack(tmp_path_factory.mktemp("local"))
    yield stack
    stop_stack(stack)


@pytest.fixture
def browser_context(
    playwright: Playwright, chromium: str, tmp_path: Path
) -> Iterator[BrowserContext]:
    context = playwright.chromium.launch_persistent_context(
        tmp_path / "profile", executable_path=chromium, headless=True, args=CHROMIUM_ARGS
    )
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def browser_page(browser_context: BrowserContext, running: RunningStack) -> BrowserPage:
    """A page that may reach the local API only: anything else is recorded, then refused."""
    api = urlsplit(running.api_url)
    page = browser_context.new_page()
    recorded = BrowserPage(page)
    browser_context.on(
        "request", lambda request: recorded.requests.append((request.method, request.url))
    )

    def local_only(route: Route) -> None:
        url = urlsplit(route.request.url)
        if (url.scheme, url.netloc) == (api.scheme, api.netloc):
            route.continue_()
        else:
            route.abort("blockedbyclient")

    browser_context.route("**/*", local_only)
    page.on("console", lambda message: recorded.console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: recorded.errors.append(str(error)))
    return recorded


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On a failure, save the page's screenshot and console log, and name them in the report."""
    report: pytest.TestReport = yield
    recorded = getattr(item, "funcargs", {}).get("browser_page")
    if report.when == "call" and report.failed and isinstance(recorded, BrowserPage):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        screenshot = ARTIFACTS / f"{item.name}.png"
        log = ARTIFACTS / f"{item.name}.console.log"
        lines = [*recorded.console, *(f"pageerror: {error}" for error in recorded.errors)]
        lines += [f"request: {method} {url}" for method, url in recorded.requests]
        log.write_text("\n".join(lines) + "\n")
        try:
            recorded.page.screenshot(path=screenshot, full_page=True)
        except PlaywrightError as exc:  # a crashed page: the log still tells what it did
            screenshot = Path(f"(no screenshot: {exc})")
        saved = f"screenshot: {screenshot}\nconsole log: {log}\n"
        report.sections.append(("browser", saved + "\n".join(lines)))
    return report
