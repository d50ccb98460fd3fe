"""The Lambda artifacts as `make build` makes them: size unzipped and zipped, what fills them."""

import io
import os
import subprocess
import tempfile
import zipfile
from pathlib import Path

from bench.common import ROOT, AwsStack, Figure
from bench.progress import step

FUNCTIONS = ("ApiFunction", "ProcessorFunction")


def _size(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def _zipped(path: Path) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for file in sorted(path.rglob("*")):
            if file.is_file():
                archive.write(file, file.relative_to(path))
    return buffer.getbuffer().nbytes


def measure(aws: AwsStack) -> tuple[list[Figure], list[str]]:
    notes = []
    with (
        tempfile.TemporaryDirectory() as scratch,
        step("Lambda artifacts: build and size", len(FUNCTIONS)) as advance,
    ):
        for function_id in FUNCTIONS:
            artifact = Path(scratch) / function_id
            subprocess.run(  # noqa: S603 (fixed arguments)
                [  # noqa: S607 (make from PATH, as the Makefile's users run it)
                    "make",
                    "--no-print-directory",
                    f"build-{function_id}",
                    f"ARTIFACTS_DIR={artifact}",
                ],
                cwd=ROOT,
                env={k: v for k, v in os.environ.items() if not k.startswith("MAKE")},
                capture_output=True,
                check=True,
            )
            largest = sorted(
                (
                    (_size(p) if p.is_dir() else p.stat().st_size, p.name)
                    for p in artifact.iterdir()
                ),
                reverse=True,
            )[:4]
            notes.append(
                f"artifact {function_id}: {_size(artifact) / 1e6:.1f} MB unzipped, "
                f"{_zipped(artifact) / 1e6:.1f} MB zipped; largest: "
                + ", ".join(f"{name} {size / 1e6:.1f} MB" for size, name in largest)
            )
            advance(1)
    return [], notes
