"""Fixtures: an emulated AWS account with the template's tables and queues, and the app on it."""

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import IO, Any

import boto3
import botocore.loaders
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import settings
from moto import mock_aws
from moto.core.config import DefaultConfig
from starlette.types import ASGIApp

from app.adapters import clients
from app.adapters.aws import (
    get_aws_session,
    get_dynamodb_client,
    get_secretsmanager_client,
    get_sqs_client,
)
from app.api.dependencies import get_cpf_key, get_cursor_seal, get_metrics, get_resolver
from app.api.factory import create_app
from app.api.security import get_caller, get_client_cache
from app.config import get_api_settings, get_notifier_settings, get_processor_settings
from app.domain import processing
from app.domain.clients import ALL_SCOPES, Caller, Client, Scope
from local.api import server_config
from local.aws_shapes import sqs_record
from local.config import LocalSettings
from local.emulator import emulator_server, free_port
from local.supervisor import LocalService, RestartPolicy
from local.template import Stack, load_template, provision, resources_of_type
from notifier.handler import get_stores
from processor.handler import get_enrollment_repository
from tests.processes import declare_server
from tests.webhooks import FakeResolver

VALID_CPF = "52998224725"
API_KEY = "test-key"
SERVER_STARTUP_SECONDS = 10

# `make fuzz` (pytest --hypothesis-profile=fuzz): the property tests with many more examples.
settings.register_profile("fuzz", max_examples=5_000)

_CACHED_PROVIDERS = (
    get_api_settings,
    get_processor_settings,
    get_notifier_settings,
    get_stores,
    get_metrics,
    get_aws_session,
    get_dynamodb_client,
    get_sqs_client,
    get_secretsmanager_client,
    get_cpf_key,
    get_enrollment_repository,
    get_client_cache,
    get_cursor_seal,
)


# A botocore session parses the JSON of every endpoint and of each service's model it makes a
# client of: most of what a client costs. Each test would make several new sessions, as moto
# gives each mock a new boto3 default session and the app's providers are cleared for each test.
# The tests' fake credentials and region are the same throughout, so boto3's default session is
# kept from mock to mock (moto's `reset_boto3_session`), and the app's new sessions read through
# one loader, which parses each file once in this process.
KEEP_BOTO3_SESSION: DefaultConfig = {"core": {"reset_boto3_session": False}}
BOTOCORE_LOADER = botocore.loaders.create_loader()


def emulated_aws() -> AbstractContextManager[Any]:
    """moto's AWS, in this process, for boto3's default session and the app's clients."""
    return mock_aws(config=KEEP_BOTO3_SESSION)


def clear_cached_providers() -> None:
    """Forget cached settings and clients, so the next use reads the current environment."""
    for provider in _CACHED_PROVIDERS:
        provider.cache_clear()
    # The app's next session, already made: it reads the environment when it makes a client.
    get_aws_session().register_component("data_loader", BOTOCORE_LOADER)


FUNCTIONS = ("ApiFunction", "ProcessorFunction", "NotifierFunction")
# What moto names a queue it creates in the tests' account and region.
MOTO_QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/{}"


def function_environment(function_id: str) -> dict[str, str]:
    """A function's environment as the template gives it, each table and queue named as
    `provision` names it under `mock_aws`, and no processing delay."""
    template = load_template()
    stack = Stack.of(template)
    for logical_id in resources_of_type(template, "AWS::DynamoDB::Table"):
        stack.refs[logical_id] = logical_id
    for logical_id in resources_of_type(template, "AWS::SQS::Queue"):
        stack.refs[logical_id] = MOTO_QUEUE_URL.format(logical_id)
    # A secret's name serves where its ARN does (`SecretId`).
    for logical_id in resources_of_type(template, "AWS::SecretsManager::Secret"):
        stack.refs[logical_id] = logical_id
    return stack.environment(template, function_id) | {"PROCESSING_DELAY_SECONDS": "0"}


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and a region, no endpoint override (so `mock_aws` intercepts), and each
    function's environment from the template."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for function_id in FUNCTIONS:
        for name, value in function_environment(function_id).items():
            # The local stack's settings read DOCS_ENABLED too, true unless set: left unset, the
            # app's own default (false) stands.
            if name != "DOCS_ENABLED":
                monkeypatch.setenv(name, value)
    monkeypatch.setattr(processing, "NOT_YET_WRITTEN_GRACE_SECONDS", 0)
    clear_cached_providers()
    yield
    clear_cached_providers()


@pytest.fixture
def event_loop_as_on_lambda() -> Iterator[None]:
    """Mangum runs on the thread's current event loop, which Lambda keeps between invocations.

    In this test process other tests' `asyncio.run()` may have left none.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    asyncio.set_event_loop(None)
    loop.close()


def _provision(monkeypatch: pytest.MonkeyPatch) -> Stack:
    """The template's tables and queues, and both functions' environment set to them."""
    template = load_template()
    created = provision(
        template,
        boto3.client("dynamodb"),
        boto3.client("sqs"),
        secretsmanager=boto3.client("secretsmanager"),
        logs=boto3.client("logs"),
    )
    for function_id in FUNCTIONS:
        for name, value in created.environment(template, function_id).items():
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("PROCESSING_DELAY_SECONDS", "0")
    clear_cached_providers()
    return created


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """The template's tables and queues in moto, and both functions' environment set to them."""
    with emulated_aws():
        yield _provision(monkeypatch)


@pytest.fixture
def served_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """`stack`, served over HTTP by the local emulator's server, which serializes DynamoDB's
    requests as DynamoDB applies them: for tests of requests that run at once."""
    declare_server("the emulator's server")
    # A fresh moto state; with AWS_ENDPOINT_URL set, mock_aws intercepts no request.
    with emulated_aws():
        server = emulator_server("127.0.0.1", 0)
        thread = threading.Thread(target=server.serve_forever, name="emulator", daemon=True)
        thread.start()
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_port}")
        try:
            yield _provision(monkeypatch)
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


# The tests' caller when no gateway names a key: the app itself serves no one without one.
IN_PROCESS_CALLER = Caller(api_key_id="in-process", scopes=ALL_SCOPES)


def in_process_app(app: FastAPI | None = None) -> FastAPI:
    """`app` (a new one by default) whose every request comes from `IN_PROCESS_CALLER`."""
    app = app or create_app()

    async def in_process_caller() -> Caller:
        return IN_PROCESS_CALLER

    app.dependency_overrides[get_caller] = in_process_caller
    return offline(app)


def offline(app: FastAPI, resolver: FakeResolver | None = None) -> FastAPI:
    """`app`, whose webhook URLs' hosts are resolved without the network (`FakeResolver`)."""
    fake = resolver or FakeResolver()

    async def fake_resolver() -> FakeResolver:
        return fake

    app.dependency_overrides[get_resolver] = fake_resolver
    return app


@pytest.fixture
def client(stack: Stack) -> Iterator[TestClient]:
    """The app over the emulated stack, called in process by a caller with every scope."""
    with TestClient(in_process_app()) as test_client:
        yield test_client


@pytest.fixture
def age_group(client: TestClient) -> Callable[[int, int], dict[str, Any]]:
    """Create an age group through the API."""

    def create(min_age: int, max_age: int) -> dict[str, Any]:
        response = client.post("/age-groups", json={"min_age": min_age, "max_age": max_age})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    return create


def add_client(
    api_key_id: str,
    scopes: Iterable[Scope] = ALL_SCOPES,
    name: str | None = None,
    enabled: bool = True,
) -> Client:
    """A client record in the stack's clients table, as `enrollment-clients add` writes it."""
    client = Client(
        api_key_id=api_key_id, name=name or api_key_id, scopes=frozenset(scopes), enabled=enabled
    )
    boto3.client("dynamodb").put_item(
        TableName=get_api_settings().clients_table, Item=clients.to_item(client)
    )
    return client


def queued_event(stack: Stack, queue_id: str = "EnrollmentQueue") -> dict[str, Any]:
    """The messages now on a queue of the stack (the enrollment queue by default), as the SQS
    event Lambda would deliver."""
    arn = stack.attributes[(queue_id, "Arn")]
    messages = queued_messages(stack, queue_id)
    return {"Records": [sqs_record(m, arn, "us-east-1") for m in messages]}  # type: ignore[arg-type]


def queued_messages(stack: Stack, queue_id: str = "EnrollmentQueue") -> list[dict[str, Any]]:
    """Receive (and leave in flight) every message now on a queue of the stack."""
    sqs = boto3.client("sqs")
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=stack.refs[queue_id],
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)  # type: ignore[arg-type]


@contextmanager
def served(app: ASGIApp) -> Iterator[str]:
    """`app` under uvicorn, configured as `make run` configures it, on a free port of 127.0.0.1.

    It runs in a thread of this process, so `mock_aws` and dependency overrides apply; the URL
    is yielded, and the server is stopped on the way out.
    """
    declare_server("uvicorn")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    host, port = listener.getsockname()
    server = uvicorn.Server(server_config(app, host, port))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + SERVER_STARTUP_SECONDS
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped on its own"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join()
        listener.close()


@contextmanager
def local_service(
    log: IO[str], api_key: str, restart_policy: RestartPolicy | None = None, **overrides: Any
) -> Iterator[LocalService]:
    """The emulator, the API and the poller, as `python -m local` runs them, on free ports, with
    `overrides` of the local settings."""
    local = LocalService(
        LocalSettings(
            host="127.0.0.1",
            port=free_port(),
            api_key=api_key,
            local_stack=True,
            aws_endpoint_url=None,
            local_emulator_port=free_port(),
            **overrides,
        ),
        output=log,
        restart_policy=restart_policy,
    )
    try:
        local.start()
        yield local
    finally:
        local.stop()


def app_with_docs() -> FastAPI:
    """The app as `make run` serves it, its OpenAPI document whole (what a module builds at
    import, outside any fixture).

    The settings it was built with stay cached, for what the module does with it at import (a
    schema loaded through it); each test starts with them cleared (`aws_environment`).
    """
    with pytest.MonkeyPatch.context() as env:
        for name, value in function_environment("ApiFunction").items():
            env.setenv(name, value)
        env.setenv("DOCS_ENABLED", "true")
        get_api_settings.cache_clear()
        return offline(create_app())
