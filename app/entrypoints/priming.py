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
- Secrets: the key of the lists' cursors is read on first use, and priming's is a stub's
  answer; it is dropped after priming, so the first list after a restore that needs it reads
  the secret.
"""

import http.server
import io
import logging
import threading
from contextlib import redirect_stdout
from typing import TYPE_CHECKING, Any

from botocore.credentials import RefreshableCredentials
from botocore.session import get_session
from botocore.stub import Stubber

from app.adapters.aws import (
    CLIENT_CONFIG,
    get_aws_session,
    get_dynamodb_client,
    get_secretsmanager_client,
    get_sqs_client,
)
from app.api.dependencies import get_cpf_key, get_cursor_seal
from app.api.factory import samples
from app.api.operations import Sample
from app.api.security import API_KEY_HEADER, get_client_cache
from app.config import get_api_settings
from app.entrypoints.events import rest_event
from app.observability.audit import audit_suspended

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

    from app.entrypoints.lambda_handler import LambdaHandler

logger = logging.getLogger(__name__)


def _primed_event(sample: Sample) -> dict[str, Any]:
    """The event of a sample, with the key the app checks where it checks one."""
    headers = dict(sample.headers)
    api_key = get_api_settings().api_key
    if api_key is not None:
        headers[API_KEY_HEADER] = api_key.get_secret_value()
    # As the stack's own key: it holds every scope, with no client record to read.
    return rest_event(
        sample.method,
        sample.path,
        sample.body,
        headers,
        api_key_id=get_api_settings().stack_api_key_id,
        request_id="snapstart-priming",
    )


def prime(handler: "LambdaHandler") -> dict[str, int]:
    """Create the AWS clients and serve each declared sample of the API once through `handler`,
    its AWS calls stubbed (app/api/operations.py); return each sample's status."""
    clients: dict[str, BaseClient] = {
        "dynamodb": get_dynamodb_client(),
        "sqs": get_sqs_client(),
        "secretsmanager": get_secretsmanager_client(),
    }
    stubbers = {name: Stubber(client) for name, client in clients.items()}
    statuses = {}
    for stubber in stubbers.values():
        stubber.activate()
    try:
        for declared in samples():
            sample = declared.sample
            for call in sample.calls:
                stubbers[call.service].add_response(call.operation, call.answer)
            # The primed requests are nobody's: the metric lines they print (EMF, on stdout)
            # would count them in CloudWatch, once per snapshot, and their audit lines would
            # record reads and erasures no one made. Both are dropped.
            with redirect_stdout(io.StringIO()), audit_suspended():
                status = handler(_primed_event(sample), None)["statusCode"]
            statuses[declared.name] = status
            if status != sample.status:
                # A path left cold costs the first request time, not correctness: go on.
                logger.warning("Priming %s answered %s", declared.name, status)
    finally:
        for stubber in stubbers.values():
            stubber.deactivate()
    _warm_http()
    # A restored environment asks DynamoDB about each client afresh: revocation holds. Nor does
    # the snapshot hold the CPF's key (the stub's): the first enrollment after a restore reads it.
    get_client_cache().clear()
    # Nor does a snapshot hold the cursors' key, which priming was given a stub of: the first
    # list that needs it after a restore reads the secret.
    get_cursor_seal.cache_clear()
    get_cpf_key().forget()
    if not isinstance(get_aws_session().get_credentials(), RefreshableCredentials):
        logger.warning("Static or no AWS credentials: clients are created after restore instead")
        get_dynamodb_client.cache_clear()
        get_sqs_client.cache_clear()
        get_secretsmanager_client.cache_clear()
        get_cpf_key.cache_clear()
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
