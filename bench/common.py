"""What the benchmarks share: an emulator with the template's stack, events, statistics."""

import os
import statistics
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import boto3

from app.adapters import age_groups, enrollments
from app.domain.models.age_groups import AgeGroup
from app.domain.models.enrollments import Enrollment, EnrollmentStatus
from local.emulator import Emulator
from local.template import Stack, load_template, provision

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


@dataclass
class Figure:
    """One row of the table: a measurement, its floor, and the target for their ratio, or a
    `limit` on the measurement itself (in its unit) where the goal is an absolute one."""

    name: str
    measured: float
    floor: float
    unit: str
    target: float | None
    limit: float | None = None

    @property
    def ratio(self) -> float:
        return self.measured / self.floor

    def row(self) -> str:
        met: bool | None
        if self.limit is not None:
            met = self.measured <= self.limit
            target = f"<= {self.limit:,g} {self.unit}"
        elif self.target is not None:
            met = self.ratio <= self.target
            target = f"<= {self.target:g}x"
        else:
            met, target = None, ""
        verdict = "" if met is None else ("met" if met else "NOT met")
        return (
            f"| {self.name} | {self.measured:,.2f} {self.unit} | {self.floor:,.2f} {self.unit} "
            f"| {self.ratio:.2f}x | {target} {verdict} |"
        )


def pending_enrollment_item(enrollment_id: str) -> dict[str, Any]:
    """A PENDING enrollment as a DynamoDB item, written straight to the table."""
    now = datetime.now(UTC)
    enrollment = Enrollment(
        enrollment_id=uuid.UUID(enrollment_id),
        name="Maria da Silva",
        age=22,
        cpf="52998224725",
        status=EnrollmentStatus.PENDING,
        created_at=now,
        updated_at=now,
    )
    return dict(enrollments.to_item(enrollment))


def enrollment_item(owner: str, seconds: float) -> dict[str, Any]:
    """A PENDING enrollment of `owner`, created `seconds` after 2026 began, as a DynamoDB item."""
    created_at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    enrollment = Enrollment(
        enrollment_id=uuid.uuid4(),
        name="Maria da Silva",
        age=22,
        cpf="52998224725",
        status=EnrollmentStatus.PENDING,
        created_at=created_at,
        updated_at=created_at,
        owner=owner,
    )
    return dict(enrollments.to_item(enrollment))


def age_group_item(min_age: int, max_age: int) -> dict[str, Any]:
    """A new age group as a DynamoDB item, written straight to the table."""
    group = AgeGroup(
        age_group_id=uuid.uuid4(), min_age=min_age, max_age=max_age, created_at=datetime.now(UTC)
    )
    return dict(age_groups.to_item(group))


def run_child(code: str, argument: str, env: dict[str, str]) -> str:
    """The last line a fresh Python process running `code` with one argument prints.

    The figure comes last: the handlers print their metric lines (EMF) on stdout before it.
    """
    result = subprocess.run(  # noqa: S603 (this interpreter, fixed code)
        [sys.executable, "-c", code, argument],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


@dataclass
class AwsStack:
    """The template's stack on an emulator, and the environment that points at it."""

    stack: Stack
    template: dict[str, Any]
    env: dict[str, str]

    def function_env(self, function_id: str) -> dict[str, str]:
        return self.env | self.stack.environment(self.template, function_id)

    def client(self, service: Literal["dynamodb", "sqs", "secretsmanager"]) -> Any:
        """A boto3 client of the emulator."""
        return boto3.client(
            service,
            endpoint_url=self.env["AWS_ENDPOINT_URL"],
            region_name=REGION,
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
        )


@contextmanager
def emulated_stack() -> Iterator[AwsStack]:
    """A moto server on 127.0.0.1 with the tables, queues and secrets of template.yaml."""
    emulator = Emulator()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | FAKE_AWS
    env["AWS_ENDPOINT_URL"] = emulator.endpoint_url
    emulator.start(env)
    try:
        template = load_template()
        aws = AwsStack(Stack(), template, env)
        aws.stack = provision(
            template,
            aws.client("dynamodb"),
            aws.client("sqs"),
            secretsmanager=aws.client("secretsmanager"),
        )
        yield aws
    finally:
        emulator.stop()


def interleaved(
    runs: int, *measures: Callable[[], float], advance: Callable[[int], None] | None = None
) -> list[list[float]]:
    """Run each measure `runs` times, alternating between them, so noise hits all alike."""
    samples: list[list[float]] = [[] for _ in measures]
    for _ in range(runs):
        for index, measure in enumerate(measures):
            samples[index].append(measure())
            if advance is not None:
                advance(1)
    return samples
