"""Settings of the API and the processor, read from the environment in this one place."""

from collections.abc import Iterable
from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

# What each function cannot run without on Lambda; locally the defaults name the local stack's.
API_FUNCTION_SETTINGS = (
    "age_groups_table",
    "enrollments_table",
    "idempotency_table",
    "enrollment_queue_url",
    "clients_table",
    "stack_api_key_id",
)
PROCESSOR_FUNCTION_SETTINGS = ("enrollments_table", "api_timeout_seconds")


class Settings(BaseSettings):
    """Environment variables of the service (names are the upper-case field names)."""

    model_config = SettingsConfigDict(frozen=True)

    age_groups_table: str = "age-groups"
    enrollments_table: str = "enrollments"
    idempotency_table: str = "idempotency-keys"
    clients_table: str = "clients"
    # The id of the stack's own API key (the template's), which holds every scope.
    stack_api_key_id: str | None = None
    enrollment_queue_url: str = ""
    processing_delay_seconds: float = Field(default=4.0, ge=0)
    # The API function's timeout (the processor's copy): a request that published a message
    # writes its enrollment within it, or never. The template's ApiTimeoutSeconds sets both.
    api_timeout_seconds: float | None = Field(default=None, gt=0)
    # The processor's event source: how long it gathers a batch (MaximumBatchingWindowInSeconds).
    # With the delay it tells the API when an enrollment is likely PROCESSED (`Retry-After`).
    batching_window_seconds: float = Field(default=1.0, ge=0)
    # Beyond the delay and the window: a batch's own work and the event source's poll.
    retry_after_margin_seconds: float = Field(default=1.0, ge=0)
    # When set, the app itself checks `x-api-key` (local runs); on AWS, API Gateway checks it.
    api_key: SecretStr | None = None
    docs_enabled: bool = False
    # The metrics' `service` dimension; the template sets the stack's name.
    service_name: str = "enrollment-service"
    # Set by Lambda in every function's environment.
    aws_lambda_function_name: str | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment alone (and arguments, in tests): no `.env` file, no secrets directory.

        A function's configuration is its environment, as the template sets it; reading only
        that also takes a third off the settings' init, on every cold start.
        """
        return init_settings, env_settings


class MissingSettingsError(RuntimeError):
    """A function started on Lambda without a setting it needs."""


@lru_cache
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings()


def check_lambda_settings(required: Iterable[str]) -> None:
    """On Lambda, raise `MissingSettingsError` naming each required variable that is not set.

    Called when a function's module is imported, its init: a bad configuration then fails the
    deployment, not a client's request. Elsewhere the defaults stand.
    """
    settings = get_settings()
    if settings.aws_lambda_function_name is None:
        return
    missing = [
        name.upper()
        for name in required
        if name not in settings.model_fields_set or not getattr(settings, name)
    ]
    if missing:
        raise MissingSettingsError(
            f"{settings.aws_lambda_function_name} cannot start: set {', '.join(missing)}"
        )
