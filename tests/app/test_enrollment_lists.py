"""`GET /enrollments`: a caller's own enrollments, or every client's, newest first, in pages
whose cursors serve no one else.

Through the TestClient, the app sits behind the local gateway, each client with a key of its own
in moto's API Gateway; through `app.main.handler`, the caller is the key API Gateway names.
"""

import json
import logging
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

import processor.handler
from app.domain.clients import DEFAULT_SCOPES, Scope
from app.entrypoints.events import rest_event
from app.observability.audit import AUDIT_LOGGER
from local.aws_shapes import LambdaContext
from local.template import Stack
from tests.app.conftest import as_key, new_client_key
from tests.conftest import VALID_CPF, add_client

ENROLLMENT = {"name": "Ana", "age": 30, "cpf": VALID_CPF}
# A call of the API as one caller: (method, path, body) to (status, headers, JSON body).
Call = Callable[[str, str, Any], tuple[int, dict[str, str], Any]]


def through_gateway(gateway: TestClient, key: str) -> Call:
    def call(method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
        response = gateway.request(method, path, json=body, headers=as_key(key))
        return response.status_code, dict(response.headers), response.json()

    return call


def through_handler(key_id: str) -> Call:
    def call(method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
        from app.main import handler

        response = handler(rest_event(method, path, body, api_key_id=key_id), LambdaContext())
        return response["statusCode"], response["headers"], json.loads(response["body"])

    return call


class Clients:
    """Client A with 25 enrollments, B with 3, and a caller with `enrollments:read-all`."""

    def __init__(self, a: Call, b: Call, everyone: Call) -> None:
        self.a, self.b, self.everyone = a, b, everyone
        assert everyone("POST", "/age-groups", {"min_age": 0, "max_age": 150})[0] == 201
        # Oldest first, as they were written.
        self.a_ids = [self.enroll(a) for _ in range(25)]
        self.b_ids = [self.enroll(b) for _ in range(3)]

    @staticmethod
    def enroll(caller: Call) -> str:
        status, _, body = caller("POST", "/enrollments", ENROLLMENT)
        assert status == 202, body
        return str(body["enrollment_id"])


@pytest.fixture
def via_gateway(gateway: TestClient) -> Clients:
    auditor = new_client_key(frozenset({Scope.ENROLLMENTS_READ_ALL, Scope.AGE_GROUPS_WRITE}))
    return Clients(
        through_gateway(gateway, new_client_key()),
        through_gateway(gateway, new_client_key()),
        through_gateway(gateway, auditor),
    )


@pytest.fixture
def via_handler(stack: Stack, event_loop_as_on_lambda: None) -> Clients:
    add_client("client-a", DEFAULT_SCOPES)
    add_client("client-b", DEFAULT_SCOPES)
    add_client("auditor", {Scope.ENROLLMENTS_READ_ALL, Scope.AGE_GROUPS_WRITE})
    return Clients(
        through_handler("client-a"), through_handler("client-b"), through_handler("auditor")
    )


@pytest.fixture(params=["via_gateway", "via_handler"])
def clients(request: pytest.FixtureRequest) -> Clients:
    """The same clients through the TestClient, then through the Lambda handler."""
    found: Clients = request.getfixturevalue(request.param)
    return found


def pages(caller: Call, path: str) -> list[dict[str, Any]]:
    """Every page of a list, following `next_cursor` from the first."""
    found = []
    cursor = None
    while True:
        separator = "&" if "?" in path else "?"
        status, _, page = caller(
            "GET", path + (f"{separator}cursor={cursor}" if cursor else ""), None
        )
        assert status == 200, page
        found.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            return found
        assert len(found) < 50, "a list that never ends"


def ids(*found: dict[str, Any]) -> list[str]:
    return [item["enrollment_id"] for page in found for item in page["items"]]


def test_a_client_pages_through_its_own_newest_first_and_none_of_anothers(
    clients: Clients,
) -> None:
    found = pages(clients.a, "/enrollments?limit=10")

    assert [len(page["items"]) for page in found] == [10, 10, 5]
    assert ids(*found) == clients.a_ids[::-1]
    assert not set(ids(*found)) & set(clients.b_ids)
    assert ids(*pages(clients.b, "/enrollments")) == clients.b_ids[::-1]


def test_another_clients_cursor_is_a_400(clients: Clients) -> None:
    status, _, first = clients.b("GET", "/enrollments?limit=2", None)
    assert (status, len(first["items"])) == (200, 2)

    status, _, body = clients.a("GET", f"/enrollments?limit=2&cursor={first['next_cursor']}", None)

    assert status == 400
    assert body["detail"].startswith("cursor is not a next_cursor given for this caller")


def test_a_cursor_with_any_one_character_changed_is_a_400(clients: Clients) -> None:
    cursor = clients.a("GET", "/enrollments?limit=10", None)[2]["next_cursor"]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

    for at, character in enumerate(cursor):
        changed = cursor[:at] + alphabet[(alphabet.index(character) + 1) % 64] + cursor[at + 1 :]
        status, _, _ = clients.a("GET", f"/enrollments?limit=10&cursor={changed}", None)
        assert status == 400, at


SPOILED: dict[str, Callable[[str], str]] = {
    "one short": lambda cursor: cursor[:-1],
    "truncated": lambda cursor: cursor[:20],
    "one more": lambda cursor: cursor + "A",
    "padded": lambda cursor: cursor + "=",
    "empty": lambda cursor: "",
    "prose": lambda cursor: "not a cursor at all",
    "not base64url": lambda cursor: cursor[:5] + "/" + cursor[6:],
}


def test_a_cursor_cut_lengthened_or_malformed_is_a_400(via_handler: Clients) -> None:
    cursor = via_handler.a("GET", "/enrollments?limit=10", None)[2]["next_cursor"]

    for name, spoil in SPOILED.items():
        status, _, body = via_handler.a(
            "GET", f"/enrollments?limit=10&cursor={spoil(cursor)}", None
        )
        assert status == 400, (name, body)


def test_a_cursor_used_with_other_filters_is_a_400_but_another_limit_is_not(
    via_handler: Clients,
) -> None:
    cursor = via_handler.a("GET", "/enrollments?limit=10", None)[2]["next_cursor"]

    other_status = via_handler.a("GET", f"/enrollments?status=PENDING&cursor={cursor}", None)
    other_date = via_handler.a(
        "GET", f"/enrollments?created_before=2100-01-01T00:00:00Z&cursor={cursor}", None
    )
    other_limit = via_handler.a("GET", f"/enrollments?limit=15&cursor={cursor}", None)

    assert (other_status[0], other_date[0]) == (400, 400)
    assert (other_limit[0], ids(other_limit[2])) == (200, via_handler.a_ids[14::-1])


def process(*enrollment_ids: str) -> None:
    """Mark enrollments processed, as the processor does."""
    repository = processor.handler.get_enrollment_repository()
    for enrollment_id in enrollment_ids:
        assert repository.mark_processed(repository.get(UUID(enrollment_id)))


def test_the_status_filter_lists_only_that_status(clients: Clients) -> None:
    processed = clients.a_ids[3:20:4]
    process(*processed)
    pending = [i for i in clients.a_ids if i not in processed]

    assert ids(*pages(clients.a, "/enrollments?status=PROCESSED&limit=2")) == processed[::-1]
    assert ids(*pages(clients.a, "/enrollments?status=PENDING&limit=7")) == pending[::-1]
    listed = pages(clients.a, "/enrollments?status=PROCESSED")[0]["items"]
    assert {item["status"] for item in listed} == {"PROCESSED"}


def test_read_all_lists_every_clients_enrollments(clients: Clients) -> None:
    everyone = ids(*pages(clients.everyone, "/enrollments?limit=7"))
    pending = ids(*pages(clients.everyone, "/enrollments?status=PENDING&limit=4"))

    # The two clients', interleaved by time: B's were written last.
    assert everyone == clients.b_ids[::-1] + clients.a_ids[::-1]
    assert pending == everyone


def test_items_are_shaped_as_a_read_of_one_and_the_list_has_no_retry_after(
    via_handler: Clients,
) -> None:
    status, headers, page = via_handler.a("GET", "/enrollments?limit=1", None)
    one = via_handler.a("GET", f"/enrollments/{via_handler.a_ids[-1]}", None)

    assert status == 200
    assert page["items"] == [one[2]]
    assert "retry-after" in {name.lower() for name in one[1]}
    assert "retry-after" not in {name.lower() for name in headers}


def test_created_after_and_before_bound_the_list_exclusively(via_handler: Clients) -> None:
    created = {
        item["enrollment_id"]: item["created_at"]
        for item in pages(via_handler.a, "/enrollments?limit=100")[0]["items"]
    }
    oldest_first = via_handler.a_ids
    after = created[oldest_first[4]].replace("+00:00", "Z")
    before = created[oldest_first[20]].replace("+00:00", "Z")

    between = pages(
        via_handler.a, f"/enrollments?created_after={after}&created_before={before}&limit=4"
    )

    assert ids(*between) == oldest_first[5:20][::-1]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("status=DONE", "status"),
        ("created_after=2026-01-31", "created_after"),
        ("created_after=1767225600", "created_after"),
        ("created_before=2026-01-31T25:00:00Z", "created_before"),
        ("created_before=2026-01-31T09:30:00", "created_before"),
        ("page=2", "page"),
        ("status=PENDING&status=PROCESSED", "status"),
    ],
)
@pytest.mark.usefixtures("event_loop_as_on_lambda")
def test_an_invalid_unknown_or_repeated_parameter_is_a_422_naming_it(
    stack: Stack, query: str, parameter: str
) -> None:
    add_client("client-a", DEFAULT_SCOPES)

    status, _, body = through_handler("client-a")("GET", f"/enrollments?{query}", None)

    assert status == 422, body
    assert [error["loc"] for error in body["detail"]] == [["query", parameter]]


def test_an_instant_beyond_utcs_calendar_bounds_nothing(via_handler: Clients) -> None:
    # Before year 1 and after year 9999 once in UTC: before and after every enrollment.
    bounds = "created_after=0001-01-01T00:00:00%2B01:00&created_before=9999-12-31T23:59:00-01:00"

    found = pages(via_handler.a, f"/enrollments?{bounds}&limit=100")

    assert ids(*found) == via_handler.a_ids[::-1]


def test_a_limit_at_either_end_is_taken(via_handler: Clients) -> None:
    one = via_handler.a("GET", "/enrollments?limit=1", None)
    hundred = via_handler.a("GET", "/enrollments?limit=100", None)

    assert (one[0], len(one[2]["items"])) == (200, 1)
    assert (hundred[0], len(hundred[2]["items"]), hundred[2]["next_cursor"]) == (200, 25, None)


def test_a_client_without_a_read_scope_is_refused_naming_one(gateway: TestClient) -> None:
    writer = new_client_key(frozenset({Scope.ENROLLMENTS_WRITE}))

    response = gateway.get("/enrollments", headers=as_key(writer))

    assert response.status_code == 403
    assert response.json() == {"message": "This API key lacks the scope enrollments:read"}


def test_each_listed_enrollment_of_another_client_is_audited_and_none_of_ones_own(
    via_handler: Clients, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)

    everyone = ids(*pages(via_handler.everyone, "/enrollments?limit=10"))
    own = ids(*pages(via_handler.a, "/enrollments?limit=10"))

    read = [
        (record.action, record.api_key_id, record.enrollment_id)  # type: ignore[attr-defined]
        for record in caplog.records
        if record.name == AUDIT_LOGGER
    ]
    assert read == [("read", "auditor", enrollment_id) for enrollment_id in everyone]
    assert len(own) == 25
    everything = json.dumps([vars(r) for r in caplog.records], default=str)
    assert VALID_CPF not in everything


def test_an_erased_enrollment_is_listed_as_its_tombstone_and_in_no_list_of_one_status(
    via_handler: Clients,
) -> None:
    add_client("eraser", DEFAULT_SCOPES | {Scope.ENROLLMENTS_ERASE})
    eraser = through_handler("eraser")
    kept, erased = Clients.enroll(eraser), Clients.enroll(eraser)
    assert eraser("DELETE", f"/enrollments/{erased}", None)[0] == 200

    listed = pages(eraser, "/enrollments")[0]["items"]
    pending = ids(*pages(eraser, "/enrollments?status=PENDING"))

    assert [(item["enrollment_id"], item["status"]) for item in listed] == [
        (erased, "ERASED"),
        (kept, "PENDING"),
    ]
    assert set(listed[0]) == {"enrollment_id", "status", "created_at", "updated_at", "erased_at"}
    assert pending == [kept]
    status, _, refused = eraser("GET", "/enrollments?status=ERASED", None)
    assert status == 422, refused
