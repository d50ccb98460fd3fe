"""Clients and their scopes: every caller has only the rights its key holds.

Through the TestClient, the app sits behind the local gateway (`local.gateway`), with the usage
plan and keys in moto's API Gateway as `make run` creates them; through `app.main.handler`, the
caller is the key API Gateway names in the REST event.
"""

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import boto3
import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient

from app.api.errors import register_exception_handlers
from app.api.factory import create_app
from app.api.operations import Operation, Sample, check_declared
from app.api.security import authorize, get_client_cache
from app.config import get_api_settings
from app.domain.clients import ALL_SCOPES, DEFAULT_SCOPES, Scope
from app.entrypoints.events import SAMPLE_API_KEY_ID, rest_event
from local.aws_shapes import LambdaContext
from local.gateway import LocalGateway, Throttle, gateway_app, provision_gateway
from local.template import Stack, load_template
from tests.app.conftest import CLIENT_KEY, STACK_KEY, as_key, new_client_key
from tests.conftest import VALID_CPF, add_client, in_process_app

ENROLLMENT = {"name": "Ana", "age": 30, "cpf": VALID_CPF}


def disable_key(key: str) -> None:
    """Disable the API key whose value is `key`, as `enrollment-clients revoke` does."""
    apigateway = boto3.client("apigateway")
    [listed] = [
        k for k in apigateway.get_api_keys(includeValues=True)["items"] if k.get("value") == key
    ]
    apigateway.update_api_key(
        apiKey=listed["id"],
        patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}],
    )


def test_the_stack_key_holds_every_scope(gateway: TestClient) -> None:
    created = gateway.post(
        "/age-groups", json={"min_age": 0, "max_age": 150}, headers=as_key(STACK_KEY)
    )
    assert created.status_code == 201
    enrolled = gateway.post("/enrollments", json=ENROLLMENT, headers=as_key(STACK_KEY))
    assert enrolled.status_code == 202
    deleted = gateway.delete(
        f"/age-groups/{created.json()['age_group_id']}", headers=as_key(STACK_KEY)
    )
    assert deleted.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body", "scope"),
    [
        ("POST", "/age-groups", {"min_age": 0, "max_age": 9}, "age-groups:write"),
        ("DELETE", "/age-groups/00000000-0000-4000-8000-000000000000", None, "age-groups:write"),
    ],
)
def test_a_client_with_the_default_scopes_is_refused_the_rest_naming_the_scope(
    gateway: TestClient, method: str, path: str, body: Any, scope: str
) -> None:
    response = gateway.request(method, path, json=body, headers=as_key(CLIENT_KEY))

    assert response.status_code == 403
    assert response.json() == {"message": f"This API key lacks the scope {scope}"}


def test_a_client_without_a_scope_is_refused_each_operation_it_needs(gateway: TestClient) -> None:
    key = new_client_key(frozenset({Scope.AGE_GROUPS_WRITE}))

    refused = {
        "age-groups:read": gateway.get("/age-groups", headers=as_key(key)),
        "enrollments:write": gateway.post("/enrollments", json=ENROLLMENT, headers=as_key(key)),
        "enrollments:read": gateway.get(
            "/enrollments/00000000-0000-4000-8000-000000000000", headers=as_key(key)
        ),
    }
    for scope, response in refused.items():
        assert response.status_code == 403, scope
        assert response.json() == {"message": f"This API key lacks the scope {scope}"}


@pytest.mark.parametrize(
    "declaration",
    [
        None,
        Operation(samples=[Sample("GET", "/things/1")]),
        Operation(Scope.AGE_GROUPS_READ, samples=[]),
    ],
    ids=["none", "no scope", "no sample"],
)
def test_an_operation_without_its_scopes_and_a_sample_stops_the_app_build(
    declaration: Operation | None,
) -> None:
    router = APIRouter(prefix="/things")

    @router.get("/{thing_id}", openapi_extra=declaration)
    async def get_thing(thing_id: str) -> str:
        return thing_id

    with pytest.raises(ValueError, match=r"GET /things/\{thing_id\} has no Operation"):
        check_declared(router)


def test_an_operation_that_declares_no_scopes_is_refused_to_every_caller() -> None:
    app = FastAPI(dependencies=[Depends(authorize)])
    register_exception_handlers(app)

    @app.get(
        "/declared",
        openapi_extra=Operation(Scope.AGE_GROUPS_READ, samples=[Sample("GET", "/declared")]),
    )
    async def declared() -> str:
        return "ok"

    @app.get("/undeclared")
    async def undeclared() -> str:
        return "ok"

    # The caller in one process holds every scope.
    with TestClient(in_process_app(app)) as client:
        assert client.get("/declared").status_code == 200
        assert client.get("/undeclared").status_code == 403


def test_a_client_reads_its_own_enrollments_and_no_one_elses(gateway: TestClient) -> None:
    gateway.post("/age-groups", json={"min_age": 0, "max_age": 150}, headers=as_key(STACK_KEY))
    mine = gateway.post("/enrollments", json=ENROLLMENT, headers=as_key(CLIENT_KEY)).json()
    theirs = gateway.post("/enrollments", json=ENROLLMENT, headers=as_key(STACK_KEY)).json()
    other_key = new_client_key()

    own = gateway.get(f"/enrollments/{mine['enrollment_id']}", headers=as_key(CLIENT_KEY))
    other = gateway.get(f"/enrollments/{theirs['enrollment_id']}", headers=as_key(CLIENT_KEY))
    not_for_the_other = gateway.get(
        f"/enrollments/{mine['enrollment_id']}", headers=as_key(other_key)
    )
    unknown_id = "00000000-0000-4000-8000-000000000000"
    unknown = gateway.get(f"/enrollments/{unknown_id}", headers=as_key(CLIENT_KEY))

    assert own.status_code == 200
    assert own.json() == mine
    assert "owner" not in own.json()
    assert (other.status_code, not_for_the_other.status_code) == (404, 404)
    assert other.json() == {"detail": f"Enrollment {theirs['enrollment_id']} not found"}
    assert unknown.json() == {"detail": f"Enrollment {unknown_id} not found"}


def test_read_all_reads_every_clients_enrollments(gateway: TestClient) -> None:
    gateway.post("/age-groups", json={"min_age": 0, "max_age": 150}, headers=as_key(STACK_KEY))
    theirs = gateway.post("/enrollments", json=ENROLLMENT, headers=as_key(CLIENT_KEY)).json()
    auditor = new_client_key(frozenset({Scope.ENROLLMENTS_READ_ALL}))

    response = gateway.get(f"/enrollments/{theirs['enrollment_id']}", headers=as_key(auditor))

    assert response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, as_key("no-such-key"), as_key(""), [("x-api-key", STACK_KEY), ("x-api-key", STACK_KEY)]],
    ids=["none", "unknown", "empty", "twice"],
)
def test_the_gateway_refuses_a_bad_key_before_anything_else(
    gateway: TestClient, headers: Any
) -> None:
    for method, path, body in (
        ("POST", "/age-groups", b"{not json"),
        ("GET", "/no-such-route", None),
        ("PATCH", "/enrollments", None),
    ):
        response = gateway.request(method, path, content=body, headers=headers)
        assert response.status_code == 403
        assert response.content == b'{"message":"Forbidden"}'


def test_the_gateways_own_answers_carry_a_request_id(gateway: TestClient) -> None:
    refused = gateway.get("/age-groups", headers={"x-request-id": "req-403"})
    unknown = gateway.get("/age-groups", headers={"x-api-key": "nobody"})

    assert (refused.status_code, refused.headers["x-request-id"]) == (403, "req-403")
    assert unknown.status_code == 403
    assert UUID(unknown.headers["x-request-id"])


def test_the_local_usage_plan_has_the_templates_quota(stack: Stack) -> None:
    template = load_template()
    apigateway = boto3.client("apigateway")
    provision_gateway(template, apigateway, boto3.client("dynamodb"), stack, "s" * 20, "c" * 20)
    template["Parameters"]["UsagePlanMonthlyQuota"]["Default"] = 1000
    provision_gateway(template, apigateway, boto3.client("dynamodb"), stack, "t" * 20, "d" * 20)

    default, quota = apigateway.get_usage_plans()["items"]

    assert "quota" not in default
    assert quota["quota"] == {"limit": 1000, "period": "MONTH"}


def test_the_docs_pages_are_open(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCS_ENABLED", "true")
    get_api_settings.cache_clear()
    template = load_template()
    aliases = provision_gateway(
        template, boto3.client("apigateway"), boto3.client("dynamodb"), stack, STACK_KEY, CLIENT_KEY
    )
    app = gateway_app(create_app(), template, stack.refs["UsagePlan"], 0, aliases)
    with TestClient(app) as client:
        assert client.get("/docs").status_code == 200
        assert client.get("/openapi.json").status_code == 200


def test_a_revoked_key_is_refused(gateway: TestClient) -> None:
    key = new_client_key()
    assert gateway.get("/age-groups", headers=as_key(key)).status_code == 200
    disable_key(key)

    assert gateway.get("/age-groups", headers=as_key(key)).status_code == 403


async def ok(scope: Any, receive: Any, send: Any) -> None:
    """An app that answers 200 to whatever the gateway lets through."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def test_each_key_is_throttled_alone_and_all_together(stack: Stack) -> None:
    template = load_template()
    aliases = provision_gateway(
        template, boto3.client("apigateway"), boto3.client("dynamodb"), stack, STACK_KEY, CLIENT_KEY
    )
    plan = stack.refs["UsagePlan"]
    gateway = LocalGateway(
        ok, boto3.client("apigateway"), plan, Throttle(0.001, 2), Throttle(0.001, 3), 60, aliases
    )
    # No `with`: this stand-in app has no lifespan.
    client = TestClient(gateway)
    first = [client.get("/", headers=as_key(STACK_KEY)).status_code for _ in range(3)]
    other = [client.get("/", headers=as_key(CLIENT_KEY)).status_code for _ in range(2)]
    throttled = client.get("/", headers=as_key(CLIENT_KEY))

    # Per key: a burst of 2. All keys together: a burst of 3.
    assert first == [200, 200, 429]
    assert other == [200, 429]
    assert throttled.status_code == 429
    assert throttled.content == b'{"message":"Too Many Requests"}'


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def keys_read(stack: Stack) -> tuple[TestClient, Clock, list[str]]:
    """`ok` behind the gateway, keys read again every 60 s of a hand-moved clock; each read of
    the keys (one `GetApiKeys`) is counted."""
    template = load_template()
    apigateway = boto3.client("apigateway")
    aliases = provision_gateway(
        template, apigateway, boto3.client("dynamodb"), stack, STACK_KEY, CLIENT_KEY
    )
    reads: list[str] = []
    apigateway.meta.events.register(
        "before-call.apigateway.GetApiKeys", lambda **_: reads.append("GetApiKeys")
    )
    clock = Clock()
    plenty = Throttle(1000, 1000)
    gateway = LocalGateway(
        ok, apigateway, stack.refs["UsagePlan"], plenty, plenty, 60, aliases, clock=clock
    )
    return TestClient(gateway), clock, reads


def test_a_key_just_added_is_accepted_a_second_after_the_last_read_at_most(
    keys_read: tuple[TestClient, Clock, list[str]],
) -> None:
    client, clock, _ = keys_read
    assert client.get("/", headers=as_key(STACK_KEY)).status_code == 200

    key = new_client_key()
    clock.now += 0.5
    too_soon = client.get("/", headers=as_key(key)).status_code
    clock.now += 0.6
    accepted = client.get("/", headers=as_key(key)).status_code

    assert (too_soon, accepted) == (403, 200)


def test_unknown_keys_cost_one_read_of_the_keys_a_second_at_most(
    keys_read: tuple[TestClient, Clock, list[str]],
) -> None:
    client, clock, reads = keys_read
    assert client.get("/", headers=as_key(STACK_KEY)).status_code == 200
    assert len(reads) == 1
    clock.now += 1.5

    flood = [client.get("/", headers=as_key(f"bad-{n}")).status_code for n in range(20)]
    clock.now += 0.5
    flood += [client.get("/", headers=as_key(f"bad-{n}")).status_code for n in range(20)]
    assert (set(flood), len(reads)) == ({403}, 2)

    clock.now += 0.6
    assert client.get("/", headers=as_key("bad")).status_code == 403
    assert len(reads) == 3
    # A known key, a missing or a repeated one asks for no read.
    client.get("/", headers=as_key(STACK_KEY))
    client.get("/")
    client.get("/", headers=[("x-api-key", STACK_KEY), ("x-api-key", STACK_KEY)])
    assert len(reads) == 3


def test_a_revoked_key_is_refused_once_the_keys_are_read_again(
    keys_read: tuple[TestClient, Clock, list[str]],
) -> None:
    client, clock, reads = keys_read
    key = new_client_key()
    assert client.get("/", headers=as_key(key)).status_code == 200
    disable_key(key)

    clock.now += 59
    still = client.get("/", headers=as_key(key)).status_code
    clock.now += 2
    refused = client.get("/", headers=as_key(key)).status_code

    assert (still, refused) == (200, 403)
    assert len(reads) == 2


# --- Through app.main.handler, as API Gateway invokes it ---


@pytest.fixture
def invoke(stack: Stack) -> Iterator[Any]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def call(method: str, path: str, body: Any = None, **event: Any) -> tuple[int, Any]:
        from app.main import handler

        response = handler(rest_event(method, path, body, **event), LambdaContext())
        return response["statusCode"], json.loads(response["body"])

    yield call
    asyncio.set_event_loop(None)
    loop.close()


def test_on_lambda_each_row_of_the_scopes(invoke: Any) -> None:
    assert invoke("POST", "/age-groups", {"min_age": 0, "max_age": 150})[0] == 201
    add_client("partner-key-id", DEFAULT_SCOPES)
    add_client("auditor-key-id", {Scope.ENROLLMENTS_READ_ALL})

    status, mine = invoke("POST", "/enrollments", ENROLLMENT, api_key_id="partner-key-id")
    assert status == 202
    assert invoke(
        "POST", "/age-groups", {"min_age": 1, "max_age": 2}, api_key_id="partner-key-id"
    ) == (
        403,
        {"message": "This API key lacks the scope age-groups:write"},
    )
    path = f"/enrollments/{mine['enrollment_id']}"
    assert invoke("GET", path, api_key_id="partner-key-id")[0] == 200
    assert invoke("GET", path, api_key_id="auditor-key-id")[0] == 200
    assert invoke("GET", path, api_key_id=SAMPLE_API_KEY_ID)[0] == 200
    add_client("other-key-id", DEFAULT_SCOPES)
    assert invoke("GET", path, api_key_id="other-key-id")[0] == 404


def test_on_lambda_a_key_no_client_knows_is_forbidden(invoke: Any) -> None:
    add_client("disabled-key-id", ALL_SCOPES, enabled=False)

    assert invoke("GET", "/age-groups", api_key_id="made-by-hand") == (
        403,
        {"message": "Forbidden"},
    )
    assert invoke("GET", "/age-groups", api_key_id="disabled-key-id") == (
        403,
        {"message": "Forbidden"},
    )


def test_on_lambda_an_event_without_a_key_id_is_forbidden(
    invoke: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "enrollment-api")
    get_api_settings.cache_clear()

    assert invoke("GET", "/age-groups", api_key_id=None) == (403, {"message": "Forbidden"})
    assert invoke("GET", "/age-groups")[0] == 200


def test_off_lambda_too_an_event_without_a_key_id_is_forbidden(invoke: Any) -> None:
    assert invoke("GET", "/age-groups", api_key_id=None) == (403, {"message": "Forbidden"})


def put_record(item: dict[str, Any]) -> None:
    """A client record as someone wrote it by hand, in the clients table."""
    boto3.client("dynamodb").put_item(TableName=get_api_settings().clients_table, Item=item)


def test_a_record_with_an_unknown_scope_or_no_name_holds_the_scopes_it_names(
    invoke: Any, caplog: pytest.LogCaptureFixture
) -> None:
    put_record(
        {
            "api_key_id": {"S": "odd-key-id"},
            "scopes": {"SS": ["age-groups:read", "enrollments:approve"]},
            "enabled": {"BOOL": True},
        }
    )

    with caplog.at_level(logging.WARNING):
        listed = invoke("GET", "/age-groups", api_key_id="odd-key-id")
        refused = invoke(
            "POST", "/age-groups", {"min_age": 1, "max_age": 2}, api_key_id="odd-key-id"
        )
        again = invoke("GET", "/age-groups", api_key_id="odd-key-id")

    assert (listed, again) == ((200, []), (200, []))
    assert refused == (403, {"message": "This API key lacks the scope age-groups:write"})
    # Once per read of the record, not per request: the cache holds the answer 30 s.
    warnings = [r.getMessage() for r in caplog.records if r.name == "app.adapters.clients"]
    assert warnings == [
        "Client record odd-key-id read in part: unknown scope 'enrollments:approve'; no name"
    ]


@pytest.mark.parametrize(
    "item",
    [
        {"api_key_id": {"S": "odd-key-id"}, "scopes": {"SS": ["age-groups:read"]}},
        {"api_key_id": {"S": "odd-key-id"}, "enabled": {"S": "yes"}, "scopes": {"N": "1"}},
        {"api_key_id": {"S": "odd-key-id"}, "enabled": {"BOOL": True}, "scopes": {"SS": ["x:y"]}},
    ],
    ids=["no enabled flag", "nothing readable", "no scope it knows"],
)
def test_a_record_that_cannot_be_read_serves_no_request(invoke: Any, item: dict[str, Any]) -> None:
    put_record(item)

    status, body = invoke("GET", "/age-groups", api_key_id="odd-key-id")

    assert status == 403, body


def test_a_revoked_client_is_refused_once_its_cached_answer_is_older_than_30_s(
    invoke: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_client("revoked-key-id", DEFAULT_SCOPES)
    assert invoke("GET", "/age-groups", api_key_id="revoked-key-id")[0] == 200
    add_client("revoked-key-id", DEFAULT_SCOPES, enabled=False)
    # Cached: the read that knew it is younger than 30 s.
    assert invoke("GET", "/age-groups", api_key_id="revoked-key-id")[0] == 200

    import time

    later = time.monotonic() + 31
    monkeypatch.setattr(time, "monotonic", lambda: later)

    assert invoke("GET", "/age-groups", api_key_id="revoked-key-id")[0] == 403


def test_a_client_costs_one_read_per_cache_period(invoke: Any) -> None:
    add_client("busy-key-id", DEFAULT_SCOPES)
    reads: list[str] = []
    from app.adapters.aws import get_dynamodb_client

    get_dynamodb_client().meta.events.register(
        "provide-client-params.dynamodb.GetItem",
        lambda params, **_: reads.append(params["TableName"]),
    )
    for _ in range(5):
        assert invoke("GET", "/age-groups", api_key_id="busy-key-id")[0] == 200

    assert reads == [get_api_settings().clients_table]
    assert get_client_cache().peek("busy-key-id")[0]


def test_the_openapi_document_states_each_operations_scope_and_403_and_429(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The document is served with docs on, and only then has its error shapes.
    monkeypatch.setenv("DOCS_ENABLED", "true")
    get_api_settings.cache_clear()
    with TestClient(create_app()) as client:
        schema = client.get("/openapi.json").json()
    expected = {
        ("get", "/age-groups"): ["age-groups:read"],
        ("post", "/age-groups"): ["age-groups:write"],
        ("delete", "/age-groups/{age_group_id}"): ["age-groups:write"],
        ("post", "/enrollments"): ["enrollments:write"],
        ("get", "/enrollments/{enrollment_id}"): ["enrollments:read", "enrollments:read-all"],
    }
    for (method, path), scopes in expected.items():
        operation = schema["paths"][path][method]
        assert operation["x-scopes"] == scopes
        assert {"403", "429"} <= operation["responses"].keys()
