"""A Secrets Manager secret's value, read once per process, on first use."""

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from app.adapters.errors import translate_aws_errors

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

# How errors and logs name it; a client is never told.
DEPENDENCY = "The cursor secret"


class SecretKey:
    """The value of one secret, as bytes: asked of Secrets Manager the first time it is needed,
    then kept for the life of the process.

    Not at init: a cold start (or a SnapStart snapshot) never waits for it nor holds it, and only
    the first list request of an execution environment that needs a cursor pays the call.
    """

    def __init__(self, client: Callable[[], "SecretsManagerClient"], secret_id: str) -> None:
        self._client = client
        self._secret_id = secret_id
        self._value: bytes | None = None
        self._lock = threading.Lock()

    def __call__(self) -> bytes:
        """The secret's value, read now if it was not yet."""
        if self._value is None:
            # Under uvicorn, requests run on worker threads: one of them reads it.
            with self._lock:
                if self._value is None:
                    with translate_aws_errors(DEPENDENCY):
                        answer = self._client().get_secret_value(SecretId=self._secret_id)
                    self._value = answer["SecretString"].encode()
        return self._value
