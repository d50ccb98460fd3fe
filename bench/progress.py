"""Progress of long commands (`make bench`, `make soak`): what they are doing, and how far.

On a terminal, a progress bar from rich; otherwise (CI, a file) plain lines, a few per step, so
a log shows the same without a screenful of redraws. Both go to stderr: stdout keeps the results.
"""

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

# Plain lines report a step at these fractions of it.
PLAIN_MARKS = (0.25, 0.5, 0.75)

Advance = Callable[[int], None]


@contextmanager
def step(description: str, total: int, stream: TextIO | None = None) -> Iterator[Advance]:
    """Show `description` while the block runs; call the yielded function to advance by n."""
    stream = sys.stderr if stream is None else stream
    if stream.isatty():
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(file=stream),
            transient=False,
        ) as bar:
            task = bar.add_task(description, total=total)

            def advance_bar(n: int = 1) -> None:
                bar.advance(task, n)

            yield advance_bar
        return

    start = time.monotonic()
    done = 0
    marks = [round(total * mark) for mark in PLAIN_MARKS]
    print(f"{description}: started ({total})", file=stream, flush=True)

    def advance(n: int = 1) -> None:
        nonlocal done
        before, done = done, done + n
        if any(before < mark <= done < total for mark in marks):
            print(f"{description}: {done}/{total}", file=stream, flush=True)

    yield advance
    elapsed = time.monotonic() - start
    print(f"{description}: done ({done}/{total}, {elapsed:.1f} s)", file=stream, flush=True)
