"""Run every benchmark, print the run's figures and notes, and write docs/performance.md:
`python -m bench` (or `make bench`)."""

import os
import sys
import time
from datetime import UTC, datetime

from bench import (
    artifact,
    cold_start,
    intake,
    memory,
    processing,
    report,
    restore,
    usage,
    warm,
    webhooks,
)
from bench.common import ROOT, Figure, emulated_stack
from bench.cost import cost_section


def main() -> int:
    started, clock = datetime.now(UTC), time.monotonic()
    # Read before the benchmarks load the machine themselves.
    load = report.load_average()
    figures: list[Figure] = []
    notes: list[str] = []
    environment = dict(os.environ)

    def add(measured: tuple[list[Figure], list[str]]) -> None:
        figures.extend(measured[0])
        notes.extend(measured[1])
        # A benchmark may point this process at the emulator; the next starts afresh.
        os.environ.clear()
        os.environ.update(environment)

    with emulated_stack() as aws:
        for module in (cold_start, restore, warm, memory, processing, webhooks):
            add(module.measure(aws))
        admitted_run = intake.admitted_intake(aws)
        add(intake.measure(aws, admitted_run))
        add(artifact.measure(aws))
        # The cost model reads the intake run's batches and waits; saved for `make plan`.
        measured_usage = usage.measure_usage(aws, admitted_run)
    measured = [
        *report.run_sections(
            report.run_lines(started, time.monotonic() - clock, load),
            report.figures_table(figures),
            report.bullet_list(notes),
        ),
        report.Section("What an enrollment costs", cost_section(measured_usage)),
    ]
    print(report.render(measured))
    path = report.write(report.document(report.sections(measured)))
    print(f"Written to {path.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
