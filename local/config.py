"""Settings of the local stack (`python -m local`), read from the environment in this one place."""

import os
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings

DEFAULT_API_KEY = "local-dev-key"
DEFAULT_CLIENT_API_KEY = "local-client-key"
DEFAULT_REGION = "us-east-1"
# Where a running `make run` says where its stack is, for `enrollment-clients --local`.
DEFAULT_LOCAL_STATE = Path(__file__).resolve().parent.parent / ".local-stack.json"
# What boto3 reads to find credentials: dropped when the embedded emulator is used, so that a
# developer's real profile is never resolved (nor needed) for a local run.
CREDENTIAL_VARIABLES = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID")


class LocalSettings(BaseSettings):
    """Environment variables of the local stack (names are the upper-case field names)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    api_key: str = DEFAULT_API_KEY
    # false: no emulator and no poller; the API alone, on the AWS resources the environment names.
    local_stack: bool = True
    # An AWS endpoint to use instead of starting the embedded emulator (LocalStack, a shared moto).
    aws_endpoint_url: str | None = None
    # The embedded emulator's port; 0 picks a free one.
    local_emulator_port: int = Field(default=0, ge=0, le=65535)
    # Override of the event source queue's visibility timeout (the template's, when unset).
    local_visibility_timeout: int | None = Field(default=None, ge=0, le=43200)
    # Passed to the processor; the template's value when unset.
    processing_delay_seconds: float | None = Field(default=None, ge=0)
    docs_enabled: bool = True
    # A client's key beside the stack's own (`api_key`), with the default scopes.
    client_api_key: str = DEFAULT_CLIENT_API_KEY
    # Set by the supervisor for the API's process: the usage plan its gateway enforces.
    local_usage_plan_id: str | None = None
    # Set by the supervisor too: the local keys' short values, and the ids they stand for.
    local_key_aliases: dict[str, str] = Field(default_factory=dict)
    # Where `make run` writes where its stack is, and `enrollment-clients --local` reads it.
    local_state_file: Path = DEFAULT_LOCAL_STATE
    # How often the gateway reads the keys again: a revoked key is refused within it.
    local_gateway_refresh_seconds: float = Field(default=10.0, ge=0)
    aws_region: str | None = None
    aws_default_region: str | None = None

    @property
    def region(self) -> str:
        """The region boto3 would use, or a default one."""
        return self.aws_region or self.aws_default_region or DEFAULT_REGION


class LocalState(BaseModel):
    """What `make run` created, for the tools that act on it (`enrollment-clients`,
    `enrollment-data`)."""

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


@lru_cache
def get_local_settings() -> LocalSettings:
    """The settings of this process, read once."""
    return LocalSettings()


def inherited_environment() -> dict[str, str]:
    """A copy of this process's environment, the base of its children's."""
    return dict(os.environ)
