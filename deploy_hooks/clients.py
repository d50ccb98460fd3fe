"""The hooks' AWS clients, created once per process on first use, from botocore alone.

Tests swap what they answer through botocore's own means (`Stubber`, event hooks) on these
cached clients, and forget them with `cache_clear()`.
"""

from functools import lru_cache
from typing import TYPE_CHECKING, cast

from botocore.config import Config
from botocore.session import Session, get_session

if TYPE_CHECKING:
    from mypy_boto3_codedeploy import CodeDeployClient
    from mypy_boto3_lambda import LambdaClient

# The API function's timeout is at most API Gateway's 29 s (template.yaml): a version that hangs
# comes back as Lambda's own "Task timed out" error, well within 35 s, rather than as a read
# timeout here. Two attempts: Lambda's throttling and service errors are worth one retry, and
# the requests are reads, which a retry cannot repeat harmfully.
INVOKE_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 2},
    connect_timeout=5,
    read_timeout=35,
)
# The verdict must reach CodeDeploy: without it the deployment waits an hour for the hook.
REPORT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 5},
    connect_timeout=5,
    read_timeout=10,
)


@lru_cache
def get_aws_session() -> Session:
    """The botocore session of this process, which creates its clients."""
    return get_session()


@lru_cache
def get_lambda_client() -> "LambdaClient":
    """The Lambda client of this process, which invokes the version under test."""
    return cast("LambdaClient", get_aws_session().create_client("lambda", config=INVOKE_CONFIG))


@lru_cache
def get_codedeploy_client() -> "CodeDeployClient":
    """The CodeDeploy client of this process, which reports the hook's verdict."""
    return cast(
        "CodeDeployClient", get_aws_session().create_client("codedeploy", config=REPORT_CONFIG)
    )
