"""Run every benchmark and print one table: `python -m bench` (or `make bench`)."""

import os
import sys

from bench import artifact, cold_start, intake, memory, processing, restore, usage, warm
from bench.common import Figure, emulated_stack
from bench.cost import cost_section


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
        # After the intake run, whose batches and waits it reads; saved for `make plan`.
        measured = usage.measure_usage(aws)
    print("| figure | measured | floor | ratio | target |")
    print("|---|---|---|---|---|")
    for figure in figures:
        print(figure.row())
    print()
    for note in notes:
        print(f"- {note}")
    print()
    print("\n".join(cost_section(measured)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
