"""SnapStart priming: serve every route once before the snapshot, so that the snapshot holds
the request paths warm (see app.entrypoints.snapstart, which runs `prime` before the snapshot, and
docs/adr/0004-snapstart-priming.md).

Without priming, the first request after a restore loads the DynamoDB and SQS service models and
endpoint rulesets and warms Mangum, routing, validation and serialization. This module is imported
only when the hook runs, so a function without SnapStart never pays for it.

Priming calls no AWS endpoint and writes nothing: each request is answered by botocore's
`Stubber`, which returns the canned response before the request is signed or sent. The stubs are
removed afterwards; the clients stay cached, so restored environments use them as they are.
What the stubs skip (signing, the HTTP exchange, parsing an answer) is then run once by
throwaway clients against a server on the loopback address, in this process (`_warm_http`).

Nothing the snapshot must not hold is frozen in it:
- Connections: botocore opens them on first use, and priming sends nothing, so the snapshot has
  no socket; the first request after a restore opens its own.
- Credentials: a client resolves its credentials when it is created. On SnapStart, Lambda
  provides them through the container credentials provider (`AWS_CONTAINER_CREDENTIALS_FULL_URI`)
  instead of the usual environment variables; botocore holds them as `RefreshableCredentials`,
  which fetch new ones when they near expiry, as they have after any restore. Credentials that
  cannot refresh (static keys from the environment, or none at all; the clients' session
  tells, `Session.get_credentials()`) would be frozen in every
  restored environment: then the clients are dropped after priming and created on first use,
  as without SnapStart (the rest of the priming still holds).
"""

import http.server
import io
import logging
import threading
from collections.abc import Callable
from contextlib import redirect_stdout
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import UUID

from botocore.credentials import RefreshableCredentials
from botocore.session import get_session
from botocore.stub import Stubber

from app.adapters import age_groups, enrollments
from app.adapters.aws import CLIENT_CONFIG, get_aws_session, get_dynamodb_client, get_sqs_client
from app.api.idempotency import IDEMPOTENCY_KEY_HEADER
from app.api.security import API_KEY_HEADER, get_client_cache
from app.config import get_api_settings
from app.domain.models.age_groups import AgeGroup
from app.domain.models.enrollments import Enrollment, EnrollmentStatus
from app.entrypoints.events import rest_event

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

_GROUP = AgeGroup(
    age_group_id=UUID("00000000-0000-4000-8000-000000000001"),
    min_age=0,
    max_age=150,
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
)
_ENROLLMENT = Enrollment(
    enrollment_id=UUID("00000000-0000-4000-8000-000000000002"),
    name="Maria da Silva",
    age=22,
    cpf="52998224725",
    status=EnrollmentStatus.PENDING,
    created_at=_GROUP.created_at,
    updated_at=_GROUP.created_at,
)
_GROUP_ITEM = age_groups.to_item(_GROUP)
_ENROLLMENT_BODY = {"name": _ENROLLMENT.name, "age": _ENROLLMENT.age, "cpf": _ENROLLMENT.cpf}

_ENROLLMENT_CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("dynamodb", "scan", {"Items": [_GROUP_ITEM]}),
    ("sqs", "send_message", {"MessageId": str(_ENROLLMENT.enrollment_id)}),
]
_KEYED = {IDEMPOTENCY_KEY_HEADER: "snapstart-priming"}


class PrimedRequest(NamedTuple):
    """A request served before the snapshot, and the answers its AWS calls get, in order."""

    method: str
    path: str
    body: Any = None
    headers: dict[str, str] = {}  # noqa: RUF012 (never mutated)
    answers: list[tuple[str, str, dict[str, Any]]] = []  # noqa: RUF012 (never mutated)


# Each route once (`POST`s with and without an `Idempotency-Key`).
PRIMED_REQUESTS = [
    PrimedRequest("GET", "/age-groups", answers=[("dynamodb", "scan", {"Items": [_GROUP_ITEM]})]),
    PrimedRequest(
        "POST",
        "/age-groups",
        {"min_age": 0, "max_age": 150},
        answers=[("dynamodb", "scan", {"Items": [_GROUP_ITEM]}), ("dynamodb", "put_item", {})],
    ),
    PrimedRequest(
        "DELETE", f"/age-groups/{_GROUP.age_group_id}", answers=[("dynamodb", "delete_item", {})]
    ),
    PrimedRequest(
        "POST",
        "/enrollments",
        _ENROLLMENT_BODY,
        answers=[*_ENROLLMENT_CALLS, ("dynamodb", "put_item", {})],
    ),
    PrimedRequest(
        "POST",
        "/enrollments",
        _ENROLLMENT_BODY,
        _KEYED,
        [
            ("dynamodb", "put_item", {}),
            *_ENROLLMENT_CALLS,
            ("dynamodb", "transact_write_items", {}),
        ],
    ),
    PrimedRequest(
        "GET",
        f"/enrollments/{_ENROLLMENT.enrollment_id}",
        answers=[("dynamodb", "get_item", {"Item": enrollments.to_item(_ENROLLMENT)})],
    ),
]


def _primed_event(request: PrimedRequest) -> dict[str, Any]:
    """The event of a primed request, with the key the app checks where it checks one."""
    headers = dict(request.headers)
    api_key = get_api_settings().api_key
    if api_key is not None:
        headers[API_KEY_HEADER] = api_key.get_secret_value()
    # As the stack's own key: it holds every scope, with no client record to read.
    return rest_event(
        request.method,
        request.path,
        request.body,
        headers,
        api_key_id=get_api_settings().stack_api_key_id,
        request_id="snapstart-priming",
    )


def prime(handler: Handler) -> dict[str, int]:
    """Create the AWS clients and serve each route once, stubbed; return each route's status."""
    clients: dict[str, BaseClient] = {
        "dynamodb": get_dynamodb_client(),
        "sqs": get_sqs_client(),
    }
    stubbers = {name: Stubber(client) for name, client in clients.items()}
    statuses = {}
    for stubber in stubbers.values():
        stubber.activate()
    try:
        for request in PRIMED_REQUESTS:
            for service, operation, response in request.answers:
                stubbers[service].add_response(operation, response)
            # The primed requests are nobody's: the metric lines they print (EMF, on stdout)
            # would count them in CloudWatch, once per snapshot. They are dropped.
            with redirect_stdout(io.StringIO()):
                status = handler(_primed_event(request), None)["statusCode"]
            name = f"{request.method} {request.path}" + (" with a key" if request.headers else "")
            statuses[name] = status
            if status >= 300:
                # A path left cold costs the first request time, not correctness: go on.
                logger.warning("Priming %s answered %s", name, status)
    finally:
        for stubber in stubbers.values():
            stubber.deactivate()
    _warm_http()
    # A restored environment asks DynamoDB about each client afresh: revocation holds.
    get_client_cache().clear()
    if not isinstance(get_aws_session().get_credentials(), RefreshableCredentials):
        logger.warning("Static or no AWS credentials: clients are created after restore instead")
        get_dynamodb_client.cache_clear()
        get_sqs_client.cache_clear()
    return statuses


class _Canned(http.server.BaseHTTPRequestHandler):
    """Answers every call as AWS's JSON protocol would, with an empty result."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _warm_http() -> None:
    """One real exchange per service, with a server of this process on its loopback address.

    What the stubbed requests skip, signing, sending and parsing an HTTP answer, is code that
    every client shares (botocore's signer and parsers, urllib3, http.client): run once here, on
    clients of their own, it is warm in the snapshot too. Nothing leaves the process's machine,
    and the clients, their connections, the server and its thread are gone before the snapshot.
    """
    server = http.server.HTTPServer(("127.0.0.1", 0), _Canned)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    session = get_session()
    dynamodb: DynamoDBClient = session.create_client(  # type: ignore[assignment]
        "dynamodb", endpoint_url=url, config=CLIENT_CONFIG
    )
    sqs: SQSClient = session.create_client(  # type: ignore[assignment]
        "sqs", endpoint_url=url, config=CLIENT_CONFIG
    )
    try:
        dynamodb.get_item(TableName="priming", Key={"id": {"S": "priming"}})
        sqs.send_message(QueueUrl=url, MessageBody="priming")
    finally:
        dynamodb.close()
        sqs.close()
        server.shutdown()
        server.server_close()
        thread.join()
