"""SnapStart hooks: registered only on Lambda's runtime; priming warms every route offline."""

import gc
import json
import logging
import os
import random
import subprocess
import sys
import threading
import types
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import boto3
import pytest
from fastapi.routing import APIRoute

from app.adapters import enrollments
from app.adapters.aws import get_dynamodb_client, get_secretsmanager_client, get_sqs_client
from app.adapters.samples import (
    SAMPLE_CALLER_KEY_ID,
    SAMPLE_CPF_KEY,
    SAMPLE_ENROLLMENT,
    SAMPLE_LATER_ENROLLMENT,
)
from app.api import factory
from app.api.dependencies import get_cpf_key, get_cursor_seal
from app.entrypoints import priming, snapstart
from app.entrypoints.events import SAMPLE_API_KEY_ID, rest_event
from app.entrypoints.lambda_handler import LambdaHandler
from app.observability.audit import AUDIT_LOGGER, AuditAction, audit
from local.aws_shapes import LambdaContext
from local.template import Stack
from tests.aws_events import load_event
from tests.conftest import function_environment

ROOT = Path(__file__).resolve().parents[2]

# Imports the handler module the way Lambda does, and reports what happened at import.
IMPORT_HANDLER = """
import json, sys
import app.main
from app.adapters.aws import get_dynamodb_client, get_sqs_client
hooks = getattr(sys.modules.get("snapshot_restore_py"), "registered", [])
print(json.dumps({
    "clients": get_dynamodb_client.cache_info().currsize + get_sqs_client.cache_info().currsize,
    "hooks": [[kind, func.__module__ + "." + func.__name__] for kind, func, _ in hooks],
}))
"""

HIDE_RUNTIME_HOOKS = """
import sys
sys.modules["snapshot_restore_py"] = None
"""

FAKE_RUNTIME_HOOKS = """
registered = []
def register_before_snapshot(func, *args, **kwargs):
    registered.append(("before_snapshot", func, args))
def register_after_restore(func, *args, **kwargs):
    registered.append(("after_restore", func, args))
"""


pytestmark = pytest.mark.usefixtures("event_loop_as_on_lambda")


@pytest.fixture
def handler() -> LambdaHandler:
    """The Lambda handler, imported once the functions' environment is set."""
    from app.main import handler

    return handler


def import_handler(tmp_path: Path, with_runtime_hooks: bool) -> dict[str, Any]:
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"}
    env |= function_environment("ApiFunction")
    if with_runtime_hooks:
        (tmp_path / "snapshot_restore_py.py").write_text(FAKE_RUNTIME_HOOKS)
        env["PYTHONPATH"] = str(tmp_path)
    # The dev environment has the real module (awslambdaric brings it): hide it, as elsewhere.
    code = IMPORT_HANDLER if with_runtime_hooks else HIDE_RUNTIME_HOOKS + IMPORT_HANDLER
    result = subprocess.run(  # noqa: S603 (this interpreter, this test's code)
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.mark.process
def test_outside_lambda_importing_the_handler_registers_and_creates_nothing(
    tmp_path: Path,
) -> None:
    assert import_handler(tmp_path, with_runtime_hooks=False) == {"clients": 0, "hooks": []}


@pytest.mark.process
def test_on_lambdas_runtime_importing_the_handler_registers_the_hooks_and_primes_nothing_yet(
    tmp_path: Path,
) -> None:
    assert import_handler(tmp_path, with_runtime_hooks=True) == {
        "clients": 0,
        "hooks": [
            ["before_snapshot", "app.entrypoints.snapstart.before_snapshot"],
            ["after_restore", "app.entrypoints.snapstart.after_restore"],
        ],
    }


def fake_runtime_hooks(
    monkeypatch: pytest.MonkeyPatch,
) -> list[tuple[str, Callable[..., Any], tuple[Any, ...]]]:
    registered: list[tuple[str, Callable[..., Any], tuple[Any, ...]]] = []
    module = types.ModuleType("snapshot_restore_py")
    module.register_before_snapshot = lambda func, *args: registered.append(  # type: ignore[attr-defined]
        ("before_snapshot", func, args)
    )
    module.register_after_restore = lambda func, *args: registered.append(  # type: ignore[attr-defined]
        ("after_restore", func, args)
    )
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", module)
    return registered


def test_register_hands_the_handler_to_the_before_snapshot_hook(
    monkeypatch: pytest.MonkeyPatch,
    handler: LambdaHandler,
) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)
    assert snapstart.register(handler) is False
    registered = fake_runtime_hooks(monkeypatch)
    assert snapstart.register(handler) is True
    assert registered == [
        ("before_snapshot", snapstart.before_snapshot, (handler,)),
        ("after_restore", snapstart.after_restore, ()),
    ]


def count_sends() -> dict[str, int]:
    """How many HTTP requests each of the app's clients sends from now on."""
    sends = {"dynamodb": 0, "sqs": 0, "secretsmanager": 0}
    clients = (
        ("dynamodb", get_dynamodb_client()),
        ("sqs", get_sqs_client()),
        ("secretsmanager", get_secretsmanager_client()),
    )
    for name, client in clients:

        def count(name: str = name, **_: Any) -> None:
            sends[name] += 1

        client.meta.events.register("before-send", count)
    return sends


def stored_data(stack: Stack) -> dict[str, int]:
    dynamodb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
    counts = {
        table: dynamodb.scan(TableName=stack.refs[table])["Count"]
        for table in ("AgeGroupsTable", "EnrollmentsTable", "IdempotencyTable")
    }
    attributes = sqs.get_queue_attributes(
        QueueUrl=stack.refs["EnrollmentQueue"], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    counts["EnrollmentQueue"] = int(attributes["ApproximateNumberOfMessages"])
    return counts


def refreshable_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials that botocore refreshes, as SnapStart's container credentials are."""
    expiry = datetime.now(UTC) + timedelta(hours=1)
    monkeypatch.setenv("AWS_CREDENTIAL_EXPIRATION", expiry.isoformat())


def test_priming_serves_every_route_and_sends_no_request(
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    handler: LambdaHandler,
) -> None:
    refreshable_credentials(monkeypatch)
    sends = count_sends()
    statuses = priming.prime(handler)

    assert capsys.readouterr().out == "", "no metric line counts a primed request"
    assert sends == {"dynamodb": 0, "sqs": 0, "secretsmanager": 0}
    assert stored_data(stack) == {
        "AgeGroupsTable": 0,
        "EnrollmentsTable": 0,
        "IdempotencyTable": 0,
        "EnrollmentQueue": 0,
    }
    samples = factory.samples()
    assert statuses == {declared.name: declared.sample.status for declared in samples}
    api_routes = [route for route in handler.app.routes if isinstance(route, APIRoute)]
    every_route = {(method, route.path) for route in api_routes for method in route.methods or ()}
    primed = {
        (declared.sample.method, route.path)
        for declared in samples
        for route in api_routes
        if declared.sample.method in (route.methods or ())
        and route.path_regex.match(declared.sample.path)
    }
    assert primed == every_route


def test_after_priming_the_clients_stay_cached_and_unstubbed(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, handler: LambdaHandler
) -> None:
    refreshable_credentials(monkeypatch)
    priming.prime(handler)
    assert get_dynamodb_client.cache_info().currsize == 1
    assert get_sqs_client.cache_info().currsize == 1

    sends = count_sends()
    response = handler(rest_event("GET", "/age-groups"), LambdaContext())
    assert (response["statusCode"], json.loads(response["body"])) == (200, [])
    assert sends["dynamodb"] == 1


def test_the_snapshot_holds_no_cursor_key_and_the_first_list_after_it_reads_the_secret(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, handler: LambdaHandler
) -> None:
    refreshable_credentials(monkeypatch)
    boto3.client("dynamodb").put_item(
        TableName=stack.refs["EnrollmentsTable"], Item=enrollments.to_item(SAMPLE_ENROLLMENT)
    )
    boto3.client("dynamodb").put_item(
        TableName=stack.refs["EnrollmentsTable"],
        Item=enrollments.to_item(SAMPLE_LATER_ENROLLMENT),
    )
    priming.prime(handler)
    assert get_cursor_seal.cache_info().currsize == 0
    assert get_secretsmanager_client.cache_info().currsize == 1

    sends = count_sends()
    first = handler(rest_event("GET", "/enrollments?limit=1"), LambdaContext())
    cursor = json.loads(first["body"])["next_cursor"]
    second = handler(rest_event("GET", f"/enrollments?limit=1&cursor={cursor}"), LambdaContext())

    assert (first["statusCode"], second["statusCode"]) == (200, 200)
    # The real secret, once: the stub's key would not open a cursor sealed with it, nor the
    # reverse.
    assert sends["secretsmanager"] == 1
    assert json.loads(second["body"])["items"][0]["enrollment_id"] == str(
        SAMPLE_ENROLLMENT.enrollment_id
    )


def test_the_snapshot_holds_no_cpf_key_the_first_enrollment_after_a_restore_reads_it(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, handler: LambdaHandler
) -> None:
    refreshable_credentials(monkeypatch)
    priming.prime(handler)
    sends = count_sends()
    group = {"min_age": 0, "max_age": 150}
    assert handler(rest_event("POST", "/age-groups", group), LambdaContext())["statusCode"] == 201
    enrollment = {"name": "Ana", "age": 30, "cpf": "52998224725"}

    for _ in range(2):
        answer = handler(rest_event("POST", "/enrollments", enrollment), LambdaContext())
        assert answer["statusCode"] == 202

    # Read by the first enrollment after priming, then held: the stack's key, not the stub's.
    assert sends["secretsmanager"] == 1
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=stack.refs["CpfKeySecret"])
    assert get_cpf_key().current() == secret["SecretString"].encode() != SAMPLE_CPF_KEY.encode()


def test_priming_writes_no_audit_line_and_leaves_the_audit_log_on(
    stack: Stack, handler: LambdaHandler, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)

    priming.prime(handler)

    assert [r for r in caplog.records if r.name == AUDIT_LOGGER] == []
    audit(AuditAction.READ, UUID(int=1), "someone")
    assert [r.name for r in caplog.records if r.name == AUDIT_LOGGER] == [AUDIT_LOGGER]


def test_the_samples_caller_is_the_key_the_sample_events_name() -> None:
    # Stated twice, since the events' module may import nothing of the app's: held equal here.
    assert SAMPLE_CALLER_KEY_ID == SAMPLE_API_KEY_ID


def test_clients_with_static_credentials_are_not_kept_for_the_snapshot(
    stack: Stack, handler: LambdaHandler
) -> None:
    # The fixtures give static credentials from the environment, which would never refresh.
    priming.prime(handler)
    assert get_dynamodb_client.cache_info().currsize == 0
    assert get_sqs_client.cache_info().currsize == 0
    assert get_secretsmanager_client.cache_info().currsize == 0


def test_the_priming_events_have_the_shape_api_gateway_sends() -> None:
    sample = load_event("apigw_rest_proxy.json")
    event = rest_event("GET", "/age-groups")
    assert event.keys() == sample.keys()
    assert event["requestContext"].keys() <= sample["requestContext"].keys()
    assert {k: event[k] for k in ("resource", "path", "pathParameters")} == {
        k: sample[k] for k in ("resource", "path", "pathParameters")
    }


def test_after_restore_reseeds_random() -> None:
    random.seed(7)
    snapshot_sequence = random.random()
    random.seed(7)
    snapstart.after_restore()
    assert random.random() != snapshot_sequence


def open_sockets() -> set[str]:
    """The sockets this process holds open (Linux)."""
    gc.collect()
    sockets = set()
    for fd in os.listdir("/proc/self/fd"):
        # The listing's own descriptor is closed by now.
        with suppress(FileNotFoundError):
            link = os.readlink(f"/proc/self/fd/{fd}")
            if link.startswith("socket:"):
                sockets.add(link)
    return sockets


def test_priming_exchanges_only_with_its_own_loopback_server_and_leaves_nothing_open(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, handler: LambdaHandler
) -> None:
    refreshable_credentials(monkeypatch)
    served: list[str] = []
    answer = priming._Canned.do_POST

    def recorded(self: priming._Canned) -> None:
        served.append(f"{self.client_address[0]} {self.headers['X-Amz-Target']}")
        answer(self)

    monkeypatch.setattr(priming._Canned, "do_POST", recorded)
    sockets, threads = open_sockets(), threading.active_count()

    priming.prime(handler)

    assert served == ["127.0.0.1 DynamoDB_20120810.GetItem", "127.0.0.1 AmazonSQS.SendMessage"]
    assert open_sockets() == sockets
    assert threading.active_count() == threads
