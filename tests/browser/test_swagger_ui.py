"""Swagger UI at /docs, used as a person would, in headless Chromium against `make run`'s stack."""

import json
import logging
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Locator, Page, expect

from local.config import DEFAULT_API_KEY
from tests.browser.conftest import BrowserPage
from tests.e2e.test_local_stack import RunningStack

# It starts the local stack and Chromium: `process` as well as `browser`.
pytestmark = [pytest.mark.browser, pytest.mark.process]

log = logging.getLogger(__name__)

OPERATIONS = [
    "GET /age-groups",
    "POST /age-groups",
    "DELETE /age-groups/{age_group_id}",
    "POST /enrollments",
    "GET /enrollments/{enrollment_id}",
    "DELETE /enrollments/{enrollment_id}",
    "GET /enrollments",
    "PUT /webhook",
    "GET /webhook",
    "DELETE /webhook",
    "POST /webhook/rotate-secret",
    "GET /webhook/deliveries",
    "POST /webhook/deliveries/{delivery_id}/redeliver",
    # The event the service sends, under the document's `webhooks`.
    "POST enrollment.processed",
]


def try_it_out(page: Page, method: str, path: str) -> Locator:
    """Open the operation's block and click "Try it out"; the block."""
    block = page.locator(
        f'.opblock.opblock-{method.lower()}:has(.opblock-summary-path[data-path="{path}"])'
    )
    block.locator(".opblock-summary").click()
    block.get_by_role("button", name="Try it out").click()
    return block


def execute(
    page: Page, block: Locator, path: str, expected_status: int
) -> tuple[dict[str, str], Any]:
    """Click Execute; the headers the browser sent, and the body the page shows once it shows
    `expected_status`."""
    with page.expect_request(lambda request: urlsplit(request.url).path == path) as sent:
        block.get_by_role("button", name="Execute").click()
    response = block.locator(".live-responses-table .response")
    expect(response.locator(".response-col_status")).to_have_text(str(expected_status))
    body = response.locator(".response-col_description .highlight-code code").inner_text()
    return sent.value.headers, json.loads(body)


def authorize(page: Page, key: str | None) -> None:
    """Enter the key under Authorize, or log out of it when `key` is None."""
    page.get_by_role("button", name="Authorize").first.click()
    dialog = page.locator(".modal-ux")
    if key is None:
        dialog.get_by_role("button", name="Remove authorization").click()
    else:
        dialog.get_by_label("Value:").fill(key)
        dialog.get_by_role("button", name="Apply credentials").click()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()


def test_swagger_ui_authorizes_and_tries_the_api_out_with_no_request_leaving_the_machine(
    browser_page: BrowserPage, running: RunningStack
) -> None:
    page = browser_page.page
    page.goto(f"{running.api_url}/docs")
    summaries = page.locator(".opblock-summary")
    expect(summaries).to_have_count(len(OPERATIONS))
    shown = [
        f"{summary.locator('.opblock-summary-method').inner_text()} "
        f"{summary.locator('.opblock-summary-path').get_attribute('data-path')}"
        for summary in summaries.all()
    ]
    assert sorted(shown) == sorted(OPERATIONS)
    log.info("opened /docs: %s", ", ".join(shown))

    authorize(page, DEFAULT_API_KEY)
    log.info("Authorize: entered the API key")

    create = try_it_out(page, "POST", "/age-groups")
    create.locator("textarea.body-param__text").fill('{"min_age": 41, "max_age": 47}')
    headers, group = execute(page, create, "/age-groups", 201)
    assert headers["x-api-key"] == DEFAULT_API_KEY
    assert (group["min_age"], group["max_age"]) == (41, 47)
    log.info("Try it out, POST /age-groups: 201 %s", group)

    listing = try_it_out(page, "GET", "/age-groups")
    headers, groups = execute(page, listing, "/age-groups", 200)
    assert headers["x-api-key"] == DEFAULT_API_KEY
    assert group in groups
    log.info("Try it out, GET /age-groups: 200, the new group among %d", len(groups))

    authorize(page, None)
    headers, refused = execute(page, listing, "/age-groups", 403)
    assert "x-api-key" not in headers
    assert refused == {"message": "Forbidden"}
    log.info("logged out, GET /age-groups: 403 %s", refused)

    paths = {urlsplit(url).path for _, url in browser_page.requests}
    assert {"/docs", "/docs/assets/swagger-ui-bundle.js", "/openapi.json", "/age-groups"} <= paths
    elsewhere = [
        url for _, url in browser_page.requests if not url.startswith(running.api_url + "/")
    ]
    assert elsewhere == []
    assert browser_page.errors == []
    log.info("the page's %d requests:", len(browser_page.requests))
    for method, url in browser_page.requests:
        log.info("  %s %s", method, url)
