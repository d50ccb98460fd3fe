"""Each function's settings, read from the environment in this one place.

A function has a settings class of its own, whose fields are the environment variables the
template gives it (the names are the upper-case field names). A field without a default is
required: no table or queue has a name in the code. On Lambda a function reads its settings at
init (`check_at_init`), so that a bad configuration fails the deployment (with SnapStart, the
version's publication), not a client's request; elsewhere at first use. Either way the error names
every missing variable. The local stack gives each function its variables from the template
(`local.template`).
"""

from collections.abc import Callable
from functools import lru_cache
from typing import Annotated, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

# A resource's name or URL: set, and not empty.
Name = Annotated[str, Field(min_length=1)]


class FunctionSettings(BaseSettings):
    """What every function is given: the environment alone, read once, frozen."""

    model_config = SettingsConfigDict(frozen=True)

    # The metrics' `service` dimension: the stack's name, which the alarms and the dashboard name.
    service_name: Name

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


class ApiSettings(FunctionSettings):
    """The API function's environment (template.yaml, ApiFunction)."""

    age_groups_table: Name
    enrollments_table: Name
    idempotency_table: Name
    clients_table: Name
    enrollment_queue_url: Name
    # The id of the stack's own API key (the template's), which holds every scope.
    stack_api_key_id: Name
    # The Secrets Manager secret whose value signs the cursors of `GET /enrollments`: its ARN.
    # The value is read on the first list that needs it, not at init.
    cursor_secret_arn: Name
    # The secret whose value keys the CPF's hash, which the CPF index holds (the template's
    # CpfKeySecret; app.adapters.cpf_key).
    cpf_key_secret_arn: Name
    # Days an erased enrollment's tombstone is kept (the template's RetentionDays); 0: kept.
    retention_days: int = Field(default=0, ge=0)
    # The processor's delay and its event source's MaximumBatchingWindowInSeconds: with them the
    # API tells clients when an enrollment is likely PROCESSED (`Retry-After`).
    processing_delay_seconds: float = Field(ge=0)
    batching_window_seconds: float = Field(ge=0)
    # Beyond the delay and the window: a batch's own work and the event source's poll.
    retry_after_margin_seconds: float = Field(default=1.0, ge=0)
    # When set, the app itself checks `x-api-key` (the API served alone); behind API Gateway, or
    # behind `make run`'s stand-in for it, the gateway checks the key and this stays unset.
    api_key: SecretStr | None = None
    docs_enabled: bool = False
    webhooks_table: Name
    webhook_deliveries_table: Name
    webhook_delivery_queue_url: Name
    # Only `make run` sets it: a webhook URL may then be `http` to a loopback address.
    webhook_allow_loopback_http: bool = False


class ProcessorSettings(FunctionSettings):
    """The processor function's environment (template.yaml, ProcessorFunction)."""

    enrollments_table: Name
    processing_delay_seconds: float = Field(ge=0)
    # The API function's timeout (the template's ApiTimeoutSeconds): a request that published a
    # message writes its enrollment within it, or never.
    api_timeout_seconds: float = Field(gt=0)
    # Days a processed enrollment is kept (the template's RetentionDays); 0: until erased.
    retention_days: int = Field(default=0, ge=0)


class NotifierSettings(FunctionSettings):
    """The webhook notifier's environment (template.yaml, NotifierFunction)."""

    enrollments_table: Name
    webhooks_table: Name
    webhook_deliveries_table: Name
    webhook_delivery_queue_url: Name
    # Only `make run` sets it, as the API's.
    webhook_allow_loopback_http: bool = False
    # Seconds before each retry, comma-separated; unset, the Standard Webhooks schedule
    # (app.domain.webhooks.RETRY_DELAYS). `make run` passes it on, so that retries can be watched.
    webhook_retry_delays: Annotated[tuple[float, ...] | None, NoDecode] = None

    @field_validator("webhook_retry_delays", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",")) if value.strip() else None
        return value

    @field_validator("webhook_retry_delays")
    @classmethod
    def _not_negative(cls, value: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if value is not None and any(delay < 0 for delay in value):
            raise ValueError("each delay must be 0 seconds or more")
        return value


class _Runtime(BaseSettings):
    """What Lambda sets in every function's environment."""

    aws_lambda_function_name: str | None = None


class MissingSettingsError(RuntimeError):
    """A function started without a setting it needs."""


Settings = TypeVar("Settings", bound=FunctionSettings)


def read_settings(settings_class: type[Settings]) -> Settings:
    """The settings of `settings_class` from the environment, or `MissingSettingsError` naming
    every variable that is unset or empty."""
    try:
        return settings_class()
    except ValidationError as exc:
        missing = [
            str(error["loc"][0]).upper()
            for error in exc.errors()
            if error["type"] in ("missing", "string_too_short")
        ]
        if not missing:
            raise
        function = function_name() or settings_class.__name__
        raise MissingSettingsError(f"{function} cannot start: set {', '.join(missing)}") from None


def function_name() -> str | None:
    """The Lambda function this process runs, if it runs on Lambda."""
    return _Runtime().aws_lambda_function_name


@lru_cache
def get_api_settings() -> ApiSettings:
    """The API function's settings, read once."""
    return read_settings(ApiSettings)


@lru_cache
def get_processor_settings() -> ProcessorSettings:
    """The processor function's settings, read once."""
    return read_settings(ProcessorSettings)


@lru_cache
def get_notifier_settings() -> NotifierSettings:
    """The notifier function's settings, read once."""
    return read_settings(NotifierSettings)


def check_at_init(get_settings: Callable[[], FunctionSettings]) -> None:
    """On Lambda, read the function's settings now, at its init: a missing one stops it there.

    Elsewhere (tests, the local stack's processes) they are read at first use.
    """
    if function_name() is not None:
        get_settings()
