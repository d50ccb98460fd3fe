"""Settings of the API and the processor, read from the environment in this one place."""

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Environment variables of the service (names are the upper-case field names)."""

    model_config = SettingsConfigDict(frozen=True)

    age_groups_table: str = "age-groups"
    enrollments_table: str = "enrollments"
    idempotency_table: str = "idempotency-keys"
    enrollment_queue_url: str = ""
    processing_delay_seconds: float = Field(default=4.0, ge=0)
    # When set, the app itself checks `x-api-key` (local runs); on AWS, API Gateway checks it.
    api_key: SecretStr | None = None
    docs_enabled: bool = False
    # The metrics' `service` dimension; the template sets the stack's name.
    service_name: str = "enrollment-service"


@lru_cache
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings()
