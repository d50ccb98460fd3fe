"""A function's init: the imports and objects that live as long as its execution environment.

Init allocates some 100,000 objects, every one of which outlives it, and the garbage collector
would walk them again and again while they are created (51 young and 4 middle collections
during the API's import), for some 500 objects of garbage. So the collector is paused during
init, and what init built is then frozen (`gc.freeze`), out of every later collection's way: a
request's collections walk only what requests allocate. This is the pattern Python's
documentation gives for a process that forks after loading, which is what a SnapStart snapshot
is to the environments restored from it.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def function_init() -> Iterator[None]:
    """Run the block with the garbage collector paused; freeze what it built, then resume."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
