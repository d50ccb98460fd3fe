"""Types shared by the models of several resources."""

from typing import Annotated

from pydantic import BeforeValidator, ConfigDict, Field

MIN_AGE = 0
MAX_AGE = 150


def _integral_float_to_int(value: object) -> object:
    # JSON (and JSON Schema's "integer") does not tell 22 from 22.0; a fraction stays an error.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# Strict: lax mode would also take `false` as 0 and `"22"` as 22.
Age = Annotated[
    int, Field(strict=True, ge=MIN_AGE, le=MAX_AGE), BeforeValidator(_integral_float_to_int)
]

# Request bodies reject fields they do not know, so a misspelt field is an error, not a no-op.
REQUEST_CONFIG = ConfigDict(extra="forbid", strict=True)
