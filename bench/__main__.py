"""Run every benchmark and print one table: `python -m bench` (or `make bench`)."""

import os
import sys

from bench import artifact, cold_start, intake, memory, processing, restore, warm
from bench.common import Figure, emulated_stack


def main() -> int:
    figures: list[Figure] = []
    notes: list[str] = []
    environment = dict(os.environ)
    with emulated_stack() as aws:
        for module in (cold_start, restore, warm, memory, processing, intake, artifact):
            module_figures, module_notes = module.measure(aws)
            figures += module_figures
            notes += module_notes
            # A benchmark may point this process at the emulator; the next starts afresh.
            os.environ.clear()
            os.environ.update(environment)
    print("| figure | measured | floor | ratio | target |")
    print("|---|---|---|---|---|")
    for figure in figures:
        print(figure.row())
    print()
    for note in notes:
        print(f"- {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
