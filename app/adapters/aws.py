"""AWS clients, created once per process on first use and shared by every request.

On Lambda SnapStart they are created before the snapshot instead (app/entrypoints/snapstart.py).
One botocore session makes them all: its credentials are the clients' credentials.

The clients come from botocore, which boto3 wraps: importing boto3 also imports s3transfer and
its resource layer, which this service does not use and would pay for on every cold start.
botocore reads the same settings (AWS_ENDPOINT_URL, AWS_DEFAULT_REGION, credentials).
"""

from functools import lru_cache
from typing import TYPE_CHECKING, cast

from botocore.config import Config
from botocore.session import Session, get_session

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

# Lambda's time is finite: fail fast and let the client retry, rather than hang. Three attempts
# in all, with the standard mode's jittered backoff and retry quota: a call gives up within about
# 12 s, which leaves the function's 25 s (ApiTimeoutSeconds) for the calls of one request in all
# but the worst case.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=1,
    read_timeout=2,
    tcp_keepalive=True,
    # One process may run many calls at once: uvicorn's worker threads locally, a batch's
    # records in the processor. botocore's default pool of 10 would drop connections.
    max_pool_connections=50,
)


@lru_cache
def get_aws_session() -> Session:
    """The botocore session of this process, which creates its clients."""
    return get_session()


@lru_cache
def get_dynamodb_client() -> "DynamoDBClient":
    """The DynamoDB client of this process."""
    return cast("DynamoDBClient", get_aws_session().create_client("dynamodb", config=CLIENT_CONFIG))


@lru_cache
def get_sqs_client() -> "SQSClient":
    """The SQS client of this process."""
    return cast("SQSClient", get_aws_session().create_client("sqs", config=CLIENT_CONFIG))


@lru_cache
def get_secretsmanager_client() -> "SecretsManagerClient":
    """The Secrets Manager client of this process (created when a secret is first read: the
    cursors' key, the CPF's)."""
    return cast(
        "SecretsManagerClient",
        get_aws_session().create_client("secretsmanager", config=CLIENT_CONFIG),
    )
