"""Types shared by the models of several resources."""

from typing import Annotated

from pydantic import ConfigDict, Field

MIN_AGE = 0
MAX_AGE = 150

# Strict: a JSON integer only. Lax mode would take `false` as 0, `"22"` as 22 and `22.0` as 22.
Age = Annotated[int, Field(strict=True, ge=MIN_AGE, le=MAX_AGE, examples=[22])]

# Request bodies reject fields they do not know, so a misspelt field is an error, not a no-op.
REQUEST_CONFIG = ConfigDict(extra="forbid", strict=True)
