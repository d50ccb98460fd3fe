"""The deployment hooks' settings, read from the environment in this one place."""

from functools import lru_cache

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class HookSettings(BaseSettings):
    """Environment variables of the PreTraffic hook (names are the upper-case field names)."""

    model_config = SettingsConfigDict(frozen=True)

    # The API function's version being deployed, as its ARN: template.yaml's
    # `!Ref ApiFunction.Version`, the version the `live` alias is about to shift traffic to.
    new_version: str
    # The stack's own API key, which holds every scope: the hook's requests come from it, as the
    # smoke test's do.
    stack_api_key_id: str

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment alone (and arguments, in tests), as the template sets it."""
        return init_settings, env_settings


@lru_cache
def get_settings() -> HookSettings:
    """The settings of this process, read once."""
    return HookSettings()
