"""Swagger UI at /docs: its page and assets come from the app itself, and only when docs are on."""

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import app.api.docs
from app.api.factory import create_app
from app.config import get_api_settings
from tests.conftest import API_KEY

ROOT = Path(__file__).resolve().parents[2]


class _Links(HTMLParser):
    """Every URL the page's elements load: `src` and `href` attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def links_of(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.urls


@pytest.fixture
def docs_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("API_KEY", API_KEY)
    monkeypatch.setenv("DOCS_ENABLED", "true")
    get_api_settings.cache_clear()
    with TestClient(create_app()) as client:
        yield client


def test_the_page_loads_its_script_style_and_icon_from_the_app(docs_client: TestClient) -> None:
    page = docs_client.get("/docs")

    assert page.status_code == 200
    assert "url: '/openapi.json'" in page.text
    assert "https://" not in page.text
    links = links_of(page.text)
    assert sorted(links) == [
        "/docs/assets/favicon.png",
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
    ]


@pytest.mark.parametrize(
    ("asset", "content_type", "marker"),
    [
        ("swagger-ui-bundle.js", "text/javascript", b"SwaggerUIBundle"),
        ("swagger-ui.css", "text/css", b".swagger-ui"),
        ("favicon.png", "image/png", b"\x89PNG"),
    ],
)
def test_the_assets_are_served_without_the_key(
    docs_client: TestClient, asset: str, content_type: str, marker: bytes
) -> None:
    response = docs_client.get(f"/docs/assets/{asset}")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith(content_type)
    assert marker in response.content


def test_the_script_is_swagger_ui_5_which_renders_openapi_3_1(docs_client: TestClient) -> None:
    # Swagger UI 4 shows "Unable to render this definition" for the 3.1 documents FastAPI makes.
    assert docs_client.get("/openapi.json").json()["openapi"].startswith("3.1.")
    bundle = docs_client.get("/docs/assets/swagger-ui-bundle.js").text

    version = re.search(r'PACKAGE_VERSION:"(\d+)\.\d+\.\d+"', bundle)
    assert version is not None
    assert int(version[1]) >= 5


def test_the_api_still_requires_the_key(docs_client: TestClient) -> None:
    assert docs_client.get("/age-groups").status_code == 403


@pytest.mark.usefixtures("stack")
def test_without_docs_neither_page_nor_assets_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 404
    assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 404


def test_docs_without_the_assets_package_fail_at_startup_and_say_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCS_ENABLED", "true")
    monkeypatch.setattr(app.api.docs, "ASSETS_PACKAGE", ("no_such_assets_package", "static"))
    get_api_settings.cache_clear()

    with pytest.raises(RuntimeError, match="fastapi-offline"):
        create_app()


def refs_in(node: object) -> Iterator[str]:
    """Every `$ref` in a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs_in(value)


def test_every_schema_the_document_refers_to_is_in_it(docs_client: TestClient) -> None:
    document = docs_client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    refs = set(refs_in(document))

    # The error answers name their shapes (app.api.documented.error_answer); the document adds them.
    assert {"ErrorDetail", "InternalError", "ValidationErrors", "GatewayMessage"} <= {
        ref.removeprefix("#/components/schemas/") for ref in refs
    }
    assert {ref.removeprefix("#/components/schemas/") for ref in refs} <= schemas.keys()
    assert list(schemas) == sorted(schemas)


@pytest.mark.process
@pytest.mark.parametrize(("enabled", "imported"), [("false", False), ("true", True)])
def test_the_docs_modules_are_imported_only_when_docs_are_on(enabled: str, imported: bool) -> None:
    # The Lambda artifact has no assets package; with docs off, nothing may reach for it, nor
    # build the models that only the document needs.
    modules = ["app.api.docs", "app.api.openapi"]
    probe = f"import sys, app.main; print([m for m in {modules} if m in sys.modules])"
    result = subprocess.run(  # noqa: S603 (the arguments are this test's own)
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=os.environ | {"DOCS_ENABLED": enabled},
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.strip() == str(modules if imported else [])
