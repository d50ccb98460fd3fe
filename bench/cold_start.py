"""Cold start: a fresh process imports the API handler and serves one GET /enrollments/{id}.

The floor is a fresh process of a minimal botocore handler doing the same GetItem. Both run
against the same moto server, as Lambda runs them (`bench.runtime`); the time is measured inside
each process, from before its first import of the handler's code to the response, which is what
Lambda's init plus first invocation cost.
"""

import json
import re
import subprocess
import sys
import uuid

from app.entrypoints.events import rest_event
from bench.common import (
    ROOT,
    AwsStack,
    Figure,
    interleaved,
    median,
    pending_enrollment_item,
    run_child,
)
from bench.progress import step
from bench.runtime import Runtime, lambda_runtime

RUNS = 15

APP_PROCESS = """
import json, sys, time
start = time.perf_counter()
from app.main import handler
response = handler(json.loads(sys.argv[1]), None)
elapsed = time.perf_counter() - start
assert response["statusCode"] == 200, response
print(elapsed)
"""

FLOOR_PROCESS = """
import json, sys, time
start = time.perf_counter()
import os
from botocore.session import get_session
client = get_session().create_client("dynamodb")
def handler(event, context):
    item = client.get_item(
        TableName=os.environ["ENROLLMENTS_TABLE"],
        Key={"enrollment_id": {"S": event["path"].rsplit("/", 1)[1]}},
        ConsistentRead=True,
    )["Item"]
    body = {key: next(iter(value.values())) for key, value in item.items()}
    return {"statusCode": 200, "body": json.dumps(body)}
response = handler(json.loads(sys.argv[1]), None)
elapsed = time.perf_counter() - start
assert response["statusCode"] == 200, response
print(elapsed)
"""


# What the API's metrics cost at import, in a process that has imported everything else of the
# app: its own EMF emitter (app.observability.metrics), against Powertools Metrics, which it does
# not bundle.
METRICS_IMPORT_PROCESS = """
import sys, time
sys.modules.pop("app.observability.metrics", None)
import app.config, app.observability.logs
start = time.perf_counter()
import app.observability.metrics
own = time.perf_counter() - start
import fastapi, pydantic, botocore.session, mangum
start = time.perf_counter()
from aws_lambda_powertools.metrics import EphemeralMetrics
powertools = time.perf_counter() - start
print(own * 1000, powertools * 1000)
"""
METRICS_IMPORT_RUNS = 7


def metrics_import_costs(env: dict[str, str]) -> tuple[float, float]:
    """Median ms to import the API's EMF emitter, and Powertools Metrics, in fresh processes."""
    own, powertools = [], []
    for _ in range(METRICS_IMPORT_RUNS):
        first, second = map(float, run_child(METRICS_IMPORT_PROCESS, "", env).split())
        own.append(first)
        powertools.append(second)
    return median(own), median(powertools)


def seed_enrollment(aws: AwsStack) -> str:
    """Write one enrollment straight to the table; return its id."""
    enrollment_id = str(uuid.uuid4())
    aws.client("dynamodb").put_item(
        TableName=aws.function_env("ApiFunction")["ENROLLMENTS_TABLE"],
        Item=pending_enrollment_item(enrollment_id),
    )
    return enrollment_id


def _run(runtime: Runtime, code: str, event: str, env: dict[str, str]) -> float:
    result = subprocess.run(  # noqa: S603 (a found interpreter, fixed code)
        runtime.command(code, event), cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return float(result.stdout) * 1000


def top_imports(runtime: Runtime, env: dict[str, str], count: int = 8) -> list[tuple[str, float]]:
    """Where `import app.main` spends its time, by package: `python -X importtime` self times."""
    result = subprocess.run(  # noqa: S603 (a found interpreter, fixed code)
        runtime.command("import app.main", options=("-X", "importtime")),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    costs: dict[str, float] = {}
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \| +(\S+)", line)
        if match:
            package = match.group(2).split(".")[0]
            costs[package] = costs.get(package, 0.0) + int(match.group(1)) / 1000
    return sorted(costs.items(), key=lambda kv: -kv[1])[:count]


def compile_bytecode() -> None:
    """Compile what both sides import, as the Lambda artifact ships it compiled."""
    site_packages = [path for path in sys.path if path.endswith("site-packages")]
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "compileall", "-q", "-j", "0", *site_packages, "app", "bench"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )


def measure(aws: AwsStack) -> tuple[list[Figure], list[str]]:
    runtime = lambda_runtime()
    if runtime.artifact is None:
        compile_bytecode()  # The artifact's own bytecode is compiled by its build.
    env = aws.function_env("ApiFunction")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    event = json.dumps(rest_event("GET", f"/enrollments/{seed_enrollment(aws)}"))
    with step("Cold start: fresh processes", 2 * RUNS) as advance:
        app, floor = interleaved(
            RUNS,
            lambda: _run(runtime, APP_PROCESS, event, env),
            lambda: _run(runtime, FLOOR_PROCESS, event, env),
            advance=advance,
        )
    notes = [
        f"cold start and restore: {runtime.describe()}",
        f"cold start: {RUNS} fresh processes each; app min/max {min(app):.0f}/{max(app):.0f} ms, "
        f"floor min/max {min(floor):.0f}/{max(floor):.0f} ms",
        "import app.main by package (self ms): "
        + ", ".join(f"{name} {ms:.0f}" for name, ms in top_imports(runtime, env)),
    ]
    own, powertools = metrics_import_costs(env)
    notes.append(
        f"metrics at import: the API's EMF emitter {own:.1f} ms; Powertools Metrics would add "
        f"{powertools:.0f} ms (median of {METRICS_IMPORT_RUNS} fresh processes)"
    )
    figure = Figure("Cold start: import + first GET", median(app), median(floor), "ms", 1.5)
    return [figure], notes
