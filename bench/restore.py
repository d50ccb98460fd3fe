"""SnapStart restore → first response: init in a parent process, `os.fork()` as the restore.

Three parents run as Lambda runs the API (`bench.runtime`), each holding what its snapshot would:
- the app imported (init without priming);
- the app primed by `app.entrypoints.priming.prime` (clients created, every route served with
  stubs);
- the floor: the app after one real GET and one real POST, with its connections closed, since
  a restored environment has none: everything warm but the new connection.
For each route, each parent forks a child that runs the after-restore hook and serves one request
through the handler against the benchmarks' moto server; the child times itself from the fork.
The parents take turns, so noise on a shared machine hits all three alike.
"""

import json
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from app.entrypoints.events import rest_event
from bench.cold_start import seed_enrollment
from bench.common import ROOT, AwsStack, Figure, age_group_item, median
from bench.progress import step
from bench.runtime import lambda_runtime

RUNS = 15
PARENTS = ("imported", "primed", "floor")

# A parent: init as its snapshot would hold it, then one forked child per line on stdin.
PARENT = """
import json, os, sys, time
# stdout speaks to the bench; the handlers' metric lines (EMF) go elsewhere.
protocol, sys.stdout = sys.stdout, open(os.devnull, "w")
state = sys.argv[1]
from app.main import handler
from app.entrypoints import snapstart
events = json.loads(sys.stdin.readline())
if state == "primed":
    snapstart.before_snapshot(handler)
elif state == "floor":
    from app.adapters.aws import get_dynamodb_client, get_sqs_client
    for event in events.values():
        assert handler(event, None)["statusCode"] < 300
    for client in (get_dynamodb_client(), get_sqs_client()):
        client.close()
print("ready", file=protocol, flush=True)
for line in sys.stdin:
    route = line.strip()
    pid = os.fork()
    if pid == 0:
        start = time.perf_counter()
        snapstart.after_restore()
        status = handler(events[route], None)["statusCode"]
        elapsed = time.perf_counter() - start
        os.write(1, f"{elapsed} {status}\\n".encode())
        os._exit(0)
    os.waitpid(pid, 0)
"""


class Parent:
    """One initialized process that forks a child per request."""

    def __init__(self, state: str, events: dict[str, Any], env: dict[str, str]) -> None:
        runtime = lambda_runtime()
        self.errors = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed in close())
        self.process = subprocess.Popen(  # noqa: S603 (a found interpreter, fixed code)
            runtime.command(PARENT, state),
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            text=True,
        )
        self._send(json.dumps(events))
        self._expect("ready")

    def _stdin(self) -> IO[str]:
        assert self.process.stdin is not None
        return self.process.stdin

    def _send(self, line: str) -> None:
        self._stdin().write(line + "\n")
        self._stdin().flush()

    def _expect(self, prefix: str) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith(prefix):
            self.errors.seek(0)
            raise RuntimeError(f"restore parent: {line!r}\n{self.errors.read()[-2000:]}")
        return line

    def first_response_ms(self, route: str) -> float:
        self._send(route)
        elapsed, status = self._expect("").split()
        assert int(status) < 300, status
        return float(elapsed) * 1000

    def close(self) -> None:
        self._stdin().close()
        self.process.wait(timeout=30)
        self.errors.close()


def measure(aws: AwsStack) -> tuple[list[Figure], list[str]]:
    env = aws.function_env("ApiFunction")
    # SnapStart's container credentials refresh; so do these, and priming keeps its clients.
    env["AWS_CREDENTIAL_EXPIRATION"] = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    dynamodb = aws.client("dynamodb")
    group = age_group_item(0, 150)
    dynamodb.put_item(TableName=env["AGE_GROUPS_TABLE"], Item=group)
    enrollment = {"name": "Maria da Silva", "age": 22, "cpf": "52998224725"}
    events = {
        "GET /enrollments/{id}": rest_event("GET", f"/enrollments/{seed_enrollment(aws)}"),
        "POST /enrollments": rest_event("POST", "/enrollments", enrollment),
    }
    samples: dict[tuple[str, str], list[float]] = {
        (route, state): [] for route in events for state in PARENTS
    }
    with step("Restore → first response: forks", RUNS * len(samples)) as advance:
        parents = {state: Parent(state, events, env) for state in PARENTS}
        try:
            for _ in range(RUNS):
                for route in events:
                    for state, parent in parents.items():
                        samples[route, state].append(parent.first_response_ms(route))
                        advance(1)
        finally:
            for parent in parents.values():
                parent.close()
            # The warm figures start from an empty table of age groups.
            dynamodb.delete_item(
                TableName=env["AGE_GROUPS_TABLE"], Key={"age_group_id": group["age_group_id"]}
            )

    figures = []
    for route in events:
        floor = median(samples[route, "floor"])
        for state, label in (("imported", "app imported"), ("primed", "primed")):
            name = f"Restore → first {route}: {label}"
            figures.append(Figure(name, median(samples[route, state]), floor, "ms", 1.2))
    note = (
        f"restore: os.fork() of an initialized parent, {RUNS} children per route and parent; "
        "floor = a parent that served one real GET and POST, its connections closed"
    )
    return figures, [note]
