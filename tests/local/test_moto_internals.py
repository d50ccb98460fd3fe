"""moto's internals that the local emulator builds on behave as it relies on (ADR 0007).

moto documents its server only whole, so `local/emulator.py` assembles its application from
these internals (`local.emulator.MOTO_INTERNALS`). When an upgrade of moto changes one, the check
of that one fails and names it and moto's version, rather than the emulator failing later, or
silently no longer applying DynamoDB's requests one at a time.
"""

import ast
import importlib
import json
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Request
from moto import mock_aws
from werkzeug.serving import WSGIRequestHandler
from werkzeug.test import Client

from local.emulator import MOTO_INTERNALS, emulator_app

ROOT = Path(__file__).resolve().parents[2]
ADR = "docs/adr/0007-local-emulation.md"
EMULATOR = "local/emulator.py"
MOTO_VERSION = version("moto")


def aws_json_call(service: str, target: str) -> dict[str, Any]:
    """A werkzeug test request's arguments for an AWS JSON call as an SDK signs it.

    moto's server finds the service from the signature's credential scope; it checks no signature.
    """
    return {
        "headers": {
            "Authorization": (
                f"AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, "
                "SignedHeaders=host;x-amz-date;x-amz-target, Signature=0"
            ),
            "X-Amz-Date": "20260101T000000Z",
            "X-Amz-Target": target,
            "Content-Type": "application/x-amz-json-1.0",
        },
        "data": b"{}",
    }


LIST_TABLES = aws_json_call("dynamodb", "DynamoDB_20120810.ListTables")
LIST_QUEUES = aws_json_call("sqs", "AmazonSQS.ListQueues")


def resolve(name: str) -> Any:
    """The object a dotted name names: its longest importable module, then attributes."""
    parts = name.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[split:]:
            found = getattr(found, attribute)
        return found
    raise ModuleNotFoundError(name)


def check_domain_dispatcher_application(dispatcher: Any) -> None:
    """Built on a `create_app(service)`, it passes DynamoDB's requests to `create_app("dynamodb")`'s
    application (the one with the lock), and SQS's to `create_app("sqs")`'s."""

    def create_app(service: str) -> Flask:
        app = Flask(f"made for {service}")
        app.add_url_rule("/", endpoint="answer", view_func=lambda: service, methods=["POST"])
        return app

    client = Client(dispatcher(create_app))
    for service, call in (("dynamodb", LIST_TABLES), ("sqs", LIST_QUEUES)):
        answered_by = client.post("/", **call).get_data(as_text=True)
        assert answered_by == service, f"a {service} request went to the {answered_by!r} app"


def check_create_backend_app(create_backend_app: Any) -> None:
    """`create_backend_app(service)` is the Flask application that serves a service: SQS here."""
    app = create_backend_app("sqs")
    assert isinstance(app, Flask), type(app)
    with mock_aws():
        answer = Client(app).post("/", **LIST_QUEUES)
    assert answer.status_code == 200, answer.get_data(as_text=True)


def check_backend_request(backend_request: Any) -> None:
    """It is a Flask request class, as `Flask.request_class` must be."""
    assert isinstance(backend_request, type), backend_request
    assert issubclass(backend_request, Request), backend_request.__mro__


def check_moto_request_handler(handler: Any) -> None:
    """It is a werkzeug request handler, as `make_server(request_handler=...)` must be."""
    assert isinstance(handler, type), handler
    assert issubclass(handler, WSGIRequestHandler), handler.__mro__


def check_convert_to_flask_response(convert: Any) -> None:
    """The view it makes calls its handler with `(request, full_url, headers)` and answers with
    the handler's `(status, headers, body)`."""
    calls: list[tuple[bytes, str, dict[str, str]]] = []

    def handler(request: Any, full_url: str, headers: dict[str, str]) -> Any:
        calls.append((request.get_data(), full_url, headers))
        return 201, {"X-Answered": "yes"}, "the answer"

    app = Flask("convert_to_flask_response")
    app.request_class = resolve("moto.moto_server.werkzeug_app.BackendRequest")
    app.add_url_rule("/", endpoint="handler", view_func=convert(handler), methods=["POST"])
    answer = Client(app).post("/?q=1", data=b'{"a": 1}', headers={"X-Amz-Target": "T.Action"})

    [(body, full_url, headers)] = calls
    assert (body, full_url, headers["X-Amz-Target"]) == (
        b'{"a": 1}',
        "http://localhost/?q=1",
        "T.Action",
    )
    assert answer.status_code == 201, answer.status_code
    assert answer.headers["X-Answered"] == "yes", answer.headers
    assert answer.get_data(as_text=True) == "the answer", answer.get_data()


def check_dynamo_handler_dispatch(dispatch: Any) -> None:
    """It is the one view of moto's own DynamoDB application, at `/`, which the emulator's
    replaces; called as the emulator calls it, it answers DynamoDB's actions."""
    moto_app = resolve("moto.moto_server.werkzeug_app.create_backend_app")("dynamodb")
    routes = [(rule.rule, rule.endpoint) for rule in moto_app.url_map.iter_rules()]
    assert routes == [("/", "DynamoHandler.dispatch")], routes
    assert callable(dispatch), dispatch
    with mock_aws():
        answer = Client(emulator_app()).post("/", **LIST_TABLES)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert json.loads(answer.get_data()) == {"TableNames": []}, answer.get_data(as_text=True)


CHECKS: dict[str, Callable[[Any], None]] = {
    "moto.moto_server.werkzeug_app.DomainDispatcherApplication": (
        check_domain_dispatcher_application
    ),
    "moto.moto_server.werkzeug_app.create_backend_app": check_create_backend_app,
    "moto.moto_server.werkzeug_app.BackendRequest": check_backend_request,
    "moto.moto_server.werkzeug_app.MotoRequestHandler": check_moto_request_handler,
    "moto.core.utils.convert_to_flask_response": check_convert_to_flask_response,
    "moto.dynamodb.responses.DynamoHandler.dispatch": check_dynamo_handler_dispatch,
}


@pytest.mark.parametrize("name", MOTO_INTERNALS)
def test_moto_still_provides_what_the_emulator_relies_on(name: str) -> None:
    assert name in CHECKS, f"local.emulator.MOTO_INTERNALS names {name}: check it here"
    try:
        CHECKS[name](resolve(name))
    except Exception as change:
        relied_on = " ".join((CHECKS[name].__doc__ or "").split())
        pytest.fail(
            f"moto {MOTO_VERSION} changed {name}: {EMULATOR} relies on it, see {ADR} "
            f"(what it is, what breaks). It relies on this: {relied_on}\n"
            f"{type(change).__name__}: {change}"
        )


def moto_names_imported(path: Path) -> set[str]:
    """The dotted names of what a module imports from moto."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "moto":
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.split(".")[0] == "moto"}
    return names


def test_the_emulator_imports_from_moto_only_its_named_internals() -> None:
    def covers(imported: str, internal: str) -> bool:
        return internal == imported or internal.startswith(f"{imported}.")

    imported = moto_names_imported(ROOT / EMULATOR)
    unnamed = {name for name in imported if not any(covers(name, i) for i in MOTO_INTERNALS)}
    unused = {i for i in MOTO_INTERNALS if not any(covers(name, i) for name in imported)}

    assert not unnamed, f"{EMULATOR} imports {sorted(unnamed)}: add it to MOTO_INTERNALS"
    assert not unused, f"MOTO_INTERNALS names {sorted(unused)}, which {EMULATOR} no longer uses"


def test_adr_0007_names_every_internal() -> None:
    text = (ROOT / ADR).read_text()

    assert [name for name in MOTO_INTERNALS if f"`{name}`" not in text] == []
