"""The key of the CPF's keyed hash: a Secrets Manager secret, read when first needed, then kept.

Its current value (`AWSCURRENT`) hashes the CPF of each new enrollment (`CpfKey.digest`, the
domain's `CpfHasher`). A process reads it on its first enrollment, not at init: on SnapStart the
snapshot never holds it, and a cold start does not wait for it. It is kept `KEY_CACHE_SECONDS`,
so that a rotated key reaches every process within that time; the operator's tool also reads the
previous value (`AWSPREVIOUS`), under which the enrollments of the meantime may be hashed
(docs/adr/0012-a-keyed-index-of-the-cpf.md).
"""

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from app.adapters.errors import error_code, translate_aws_errors
from app.domain.cpf import cpf_digest
from app.domain.errors import DependencyError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

DEPENDENCY = "The CPF key"
# A rotation reaches every process within this time; a process reads the key at most once per
# period: 730 reads a month for one that lives all month, $0.004 at $0.05 per 10,000 calls.
KEY_CACHE_SECONDS = 3600.0
CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"


class CpfKey:
    """The secret's current value, read once per `KEY_CACHE_SECONDS`; the CPF's hash under it."""

    def __init__(
        self,
        client: "SecretsManagerClient",
        secret_id: str,
        seconds: float = KEY_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._secret_id = secret_id
        self._seconds = seconds
        self._clock = clock
        self._cached: tuple[float, bytes] | None = None

    def digest(self, cpf: str) -> str:
        """The hash the CPF index holds for `cpf`, under the current key."""
        return cpf_digest(cpf, self.current())

    def current(self) -> bytes:
        """The current key: read again once the one held is `KEY_CACHE_SECONDS` old."""
        now = self._clock()
        if self._cached is not None and now - self._cached[0] < self._seconds:
            return self._cached[1]
        key = self.read(CURRENT)
        if key is None:
            raise DependencyError(DEPENDENCY, "has no current value")
        self._cached = (now, key)
        return key

    def read(self, stage: str) -> bytes | None:
        """The secret's value under `stage`, read now; None if no version has that stage (no
        previous value before the first rotation)."""
        with translate_aws_errors(DEPENDENCY):
            try:
                response = self._client.get_secret_value(
                    SecretId=self._secret_id, VersionStage=stage
                )
            except ClientError as exc:
                if error_code(exc) == "ResourceNotFoundException" and stage != CURRENT:
                    return None
                raise
        return response["SecretString"].encode()

    def forget(self) -> None:
        """Drop the key held: the next digest reads it again (a snapshot must not hold it)."""
        self._cached = None
