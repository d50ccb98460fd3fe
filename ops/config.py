"""The operator tools' settings, read from the environment in this one place; and the file that
`make run` writes for them, whose model the dev stack imports from here to write it."""

from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings

# Where a running `make run` says where its stack is: the checkout's root, where both run.
DEFAULT_LOCAL_STATE = Path(__file__).resolve().parent.parent / ".local-stack.json"
# Beyond the `Retry-After` of the enrollment's 202 (which holds the processing delay, the event
# source's batching window and a second): a cold start of the processor, and one retry of a
# record after a throttled DynamoDB call.
DEFAULT_SMOKE_MARGIN_SECONDS = 30.0


class LocalStateSettings(BaseSettings):
    """Where `make run` writes its `LocalState` and `enrollment-clients --local` reads it."""

    local_state_file: Path = DEFAULT_LOCAL_STATE


class LocalState(BaseModel):
    """What `make run` created, for the tools that act on it: the contract between the two."""

    endpoint_url: str
    region: str
    stack_name: str
    usage_plan_id: str
    clients_table: str
    api_url: str
    enrollments_table: str
    cpf_key_secret_arn: str
    audit_log_group: str
    retention_days: int
    webhook_deliveries_table: str
    webhook_delivery_queue_url: str


class SmokeSettings(BaseSettings):
    """What `make smoke` checks, from the environment (it passes its variables through)."""

    # Either the API's base URL and its key...
    api_url: str = ""
    api_key: str = ""
    # ...or the stack whose outputs name them.
    stack: str = ""
    # The stack's region; the AWS SDK's own settings (AWS_REGION, the profile) when empty.
    aws_region: str = ""
    smoke_read_only: bool = False
    # How long past the 202's `Retry-After` the enrollment may still be PENDING.
    smoke_margin: float = Field(default=DEFAULT_SMOKE_MARGIN_SECONDS, ge=0)
    # Each request's own limit, as a client's would be.
    smoke_request_timeout: float = Field(default=15.0, gt=0)
    # Where the smoke listens for its enrollment's webhook (`host:port`); none when empty. The
    # endpoint it sets is `smoke_receiver_url`, or `http://host:port/` (which only `make run`
    # accepts: a deployed stack delivers to public https URLs alone).
    smoke_receiver: str = ""
    smoke_receiver_url: str = ""
