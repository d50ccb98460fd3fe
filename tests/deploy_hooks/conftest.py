"""Fixtures: the hooks' cached settings and clients, forgotten around each test."""

from collections.abc import Iterator

import pytest

from deploy_hooks import clients, config
from tests.conftest import BOTOCORE_LOADER

_CACHED_PROVIDERS = (
    config.get_settings,
    clients.get_aws_session,
    clients.get_lambda_client,
    clients.get_codedeploy_client,
)


def clear_hook_providers() -> None:
    """Forget the hooks' settings and clients, so the next use reads the current environment."""
    for provider in _CACHED_PROVIDERS:
        provider.cache_clear()
    # The next session on the tests' one loader of botocore's data (tests/conftest.py).
    clients.get_aws_session().register_component("data_loader", BOTOCORE_LOADER)


@pytest.fixture(autouse=True)
def fresh_hook_providers() -> Iterator[None]:
    clear_hook_providers()
    yield
    clear_hook_providers()
