"""Lambda SnapStart: warm the request paths before the snapshot, refresh what must differ after.

On SnapStart, a new execution environment is restored from a snapshot taken after init, so what a
user waits for is restore → first response. `register` asks Lambda's runtime hooks
(`snapshot_restore_py`, which only Lambda's Python runtime provides) to run
`app.entrypoints.priming.prime` before the snapshot, and `after_restore` after each restore.
Elsewhere (tests, uvicorn, the processor) it does nothing. See docs/adr/0004-snapstart-priming.md.
"""

import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.entrypoints.lambda_handler import LambdaHandler


def before_snapshot(handler: "LambdaHandler") -> None:
    """Prime `handler`'s request paths; the priming code is imported only now."""
    from app.entrypoints.priming import prime

    prime(handler)


def after_restore() -> None:
    """Make each restored environment differ from its siblings where it must.

    `random` would otherwise replay the same sequence in every environment restored from one
    snapshot, so it is reseeded (from os.urandom). Ids need nothing: `uuid4` reads
    `os.urandom` on each call, and the kernel's generator is not part of the snapshot.
    """
    random.seed()


def register(handler: "LambdaHandler") -> bool:
    """On Lambda's Python runtime, prime `handler` before the snapshot; elsewhere do nothing."""
    try:
        from snapshot_restore_py import (  # type: ignore[import-untyped]
            register_after_restore,
            register_before_snapshot,
        )
    except ImportError:
        return False
    register_before_snapshot(before_snapshot, handler)
    register_after_restore(after_restore)
    return True
