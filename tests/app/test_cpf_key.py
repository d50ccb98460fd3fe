"""The CPF's key: read when first needed, held `KEY_CACHE_SECONDS`, so that a rotation reaches
every process within that time; and the CPF's keyed hash under it."""

import hashlib
from typing import Any

import boto3
import pytest

from app.adapters.cpf_key import CURRENT, PREVIOUS, CpfKey
from app.domain.cpf import cpf_digest
from app.domain.errors import DependencyError
from local.template import Stack
from tests.conftest import VALID_CPF


def counted_reads(client: Any) -> list[str]:
    reads: list[str] = []
    client.meta.events.register(
        "before-send.secrets-manager.GetSecretValue", lambda **_: reads.append("read")
    )
    return reads


def test_the_key_is_read_once_then_again_when_it_is_old_enough(stack: Stack) -> None:
    client = boto3.client("secretsmanager")
    secret = stack.refs["CpfKeySecret"]
    reads = counted_reads(client)
    now = [1000.0]
    key = CpfKey(client, secret, seconds=3600, clock=lambda: now[0])
    first = key.digest(VALID_CPF)
    client.put_secret_value(SecretId=secret, SecretString="rotated")

    now[0] += 3599
    assert key.digest(VALID_CPF) == first
    assert len(reads) == 1
    now[0] += 1
    assert key.digest(VALID_CPF) == cpf_digest(VALID_CPF, b"rotated") != first
    assert len(reads) == 2


def test_the_previous_value_is_none_until_a_rotation(stack: Stack) -> None:
    client = boto3.client("secretsmanager")
    key = CpfKey(client, stack.refs["CpfKeySecret"])
    first = key.read(CURRENT)

    assert key.read(PREVIOUS) is None
    client.put_secret_value(SecretId=stack.refs["CpfKeySecret"], SecretString="rotated")
    assert key.read(PREVIOUS) == first
    assert key.read(CURRENT) == b"rotated"


def test_a_missing_secret_is_a_failure_of_the_cpf_key(stack: Stack) -> None:
    key = CpfKey(boto3.client("secretsmanager"), "no-such-secret")

    with pytest.raises(DependencyError, match="The CPF key failed"):
        key.digest(VALID_CPF)


def test_the_hash_depends_on_the_key_and_is_not_the_plain_sha256() -> None:
    assert cpf_digest(VALID_CPF, b"one") != cpf_digest(VALID_CPF, b"two")
    assert cpf_digest(VALID_CPF, b"one") != hashlib.sha256(VALID_CPF.encode()).hexdigest()
    assert cpf_digest(VALID_CPF, b"one") == cpf_digest(VALID_CPF, b"one")
