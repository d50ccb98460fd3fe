"""The service as `make run` starts it (`python -m local`), over real HTTP on 127.0.0.1."""

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import boto3
import httpx
import pytest

from local.config import DEFAULT_API_KEY, DEFAULT_CLIENT_API_KEY
from local.emulator import free_port
from local.supervisor import SUMMARY_INTERVAL_SECONDS
from local.template import load_template
from tests.conftest import VALID_CPF
from tests.webhooks import receiver

pytestmark = [
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc"),
    # Each test runs `python -m local`, or against it.
    pytest.mark.process,
]

ROOT = Path(__file__).resolve().parents[2]
# Long enough for the test to read PENDING right after the 202, even on a busy machine.
PROCESSING_DELAY = 0.5
VISIBILITY_TIMEOUT = 1
# Receiving (a long poll returns at once), the delay, and the writes, on a busy CI machine.
PROCESSED_WITHIN = PROCESSING_DELAY + 10
STARTUP_TIMEOUT = 60
STOP_TIMEOUT = 30
MAX_RECEIVE_COUNT: int = load_template()["Resources"]["EnrollmentQueue"]["Properties"][
    "RedrivePolicy"
]["maxReceiveCount"]
# Each receive of a failing message waits out the visibility timeout, then moto's next long poll.
DEAD_LETTERED_WITHIN = MAX_RECEIVE_COUNT * (VISIBILITY_TIMEOUT + 1) + PROCESSED_WITHIN


def port_is_free(port: int) -> bool:
    """Whether a server could listen on the port (as servers do, despite TIME_WAIT sockets)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def children_of(pid: int) -> list[int]:
    """The pids whose parent is `pid`, from /proc."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                children.append(int(stat.parent.name))
    return children


def is_running(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def eventually(check: Callable[[], bool], within: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()


@dataclass
class RunningStack:
    process: "subprocess.Popen[bytes]"
    api_url: str
    api_port: int
    emulator_port: int
    log: Path

    def client(self, api_key: str | None = DEFAULT_API_KEY) -> httpx.Client:
        headers = {"x-api-key": api_key} if api_key is not None else {}
        return httpx.Client(base_url=self.api_url, headers=headers, timeout=10)

    def sqs(self) -> Any:
        return boto3.client(
            "sqs", endpoint_url=f"http://127.0.0.1:{self.emulator_port}", region_name="us-east-1"
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def state_file(self) -> Path:
        """Where this stack tells `enrollment-clients --local` where it is."""
        return self.log.parent / f"stack-{self.api_port}.json"


def start_stack(log_dir: Path) -> RunningStack:
    """Start `python -m local` on free ports, and wait until the API answers with the key."""
    api_port, emulator_port = free_port(), free_port()
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AWS_") and name not in ("API_KEY", "HOST")
    }
    env |= {
        "PORT": str(api_port),
        "LOCAL_EMULATOR_PORT": str(emulator_port),
        "PROCESSING_DELAY_SECONDS": str(PROCESSING_DELAY),
        "LOCAL_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "LOCAL_STATE_FILE": str(log_dir / f"stack-{api_port}.json"),
        # A revoked key is refused within this.
        "LOCAL_GATEWAY_REFRESH_SECONDS": "0.5",
    }
    log = log_dir / f"local-{api_port}.log"
    stream: IO[bytes] = log.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "local"],
        cwd=ROOT,
        env=env,
        stdout=stream,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    stream.close()
    stack = RunningStack(process, f"http://127.0.0.1:{api_port}", api_port, emulator_port, log)

    def answers() -> bool:
        assert process.poll() is None, stack.output()
        try:
            with stack.client() as client:
                return client.get("/age-groups").status_code == 200
        except httpx.TransportError:
            return False

    if not eventually(answers, STARTUP_TIMEOUT):
        stop_stack(stack)
        pytest.fail(f"The local stack did not answer:\n{stack.output()}")
    return stack


def stop_stack(stack: RunningStack) -> None:
    """SIGTERM, and SIGKILL to the whole group if that was not enough (never leave a process)."""
    if stack.process.poll() is None:
        stack.process.send_signal(signal.SIGTERM)
        try:
            stack.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(stack.process.pid, signal.SIGKILL)
            stack.process.wait()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    stack = start_stack(tmp_path_factory.mktemp("local"))
    yield stack
    stop_stack(stack)


@pytest.fixture(scope="module")
def api(running: RunningStack) -> Iterator[httpx.Client]:
    with running.client() as client:
        response = client.post("/age-groups", json={"min_age": 18, "max_age": 30})
        assert response.status_code == 201, response.text
        yield client


def enroll(api: httpx.Client, age: int = 22) -> httpx.Response:
    return api.post("/enrollments", json={"name": "Maria da Silva", "age": age, "cpf": VALID_CPF})


def status_of(api: httpx.Client, enrollment_id: str) -> str:
    response = api.get(f"/enrollments/{enrollment_id}")
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    return status


@pytest.mark.parametrize("api_key", [None, "wrong-key"])
def test_requests_without_the_key_are_forbidden(running: RunningStack, api_key: str | None) -> None:
    with running.client(api_key) as client:
        response = client.get("/age-groups")

    assert response.status_code == 403
    assert response.json() == {"message": "Forbidden"}


def test_docs_are_served(running: RunningStack) -> None:
    with running.client(None) as client:
        assert client.get("/docs").status_code == 200
        assert client.get("/openapi.json").json()["info"]["title"] == "Enrollment service"


def test_age_groups_are_created_and_listed(api: httpx.Client) -> None:
    created = api.post("/age-groups", json={"min_age": 60, "max_age": 70})

    assert created.status_code == 201
    assert created.json() in api.get("/age-groups").json()


def test_an_enrollment_is_pending_then_processed(api: httpx.Client) -> None:
    response = enroll(api)

    assert response.status_code == 202, response.text
    enrollment_id = response.json()["enrollment_id"]
    assert status_of(api, enrollment_id) == "PENDING"
    assert eventually(lambda: status_of(api, enrollment_id) == "PROCESSED", PROCESSED_WITHIN)


def test_one_request_id_goes_from_the_answer_to_the_processors_log_line(
    running: RunningStack, api: httpx.Client
) -> None:
    request_id = f"e2e-{uuid.uuid4()}"

    response = api.post(
        "/enrollments",
        json={"name": "Maria da Silva", "age": 22, "cpf": VALID_CPF},
        headers={"x-request-id": request_id},
    )

    assert response.status_code == 202, response.text
    assert response.headers["x-request-id"] == request_id
    enrollment_id = response.json()["enrollment_id"]
    tag = f"request_id={request_id} enrollment_id={enrollment_id}"

    def logged(component: str, message: str) -> bool:
        return any(
            f" {component} " in line and f"{message} [{tag}" in line
            for line in running.output().splitlines()
        )

    assert logged("api", "Enrollment accepted"), running.output()
    # The poller's process learns the request id only from the message's attribute.
    assert eventually(lambda: logged("poller", "Enrollment processed"), PROCESSED_WITHIN), (
        running.output()
    )
    (line,) = [
        line for line in running.output().splitlines() if f"Enrollment processed [{tag}" in line
    ]
    assert re.search(r"message_id=[0-9a-f-]{36}\]$", line), line


def test_activity_is_summed_up_from_the_functions_metrics(
    running: RunningStack, api: httpx.Client
) -> None:
    before = summaries(running.output())
    assert enroll(api).status_code == 202
    assert enroll(api, age=150).status_code == 400

    counted = r"\d+ accepted, [1-9]\d* rejected, \d+ processed, \d+ pending"

    def summed_up() -> bool:
        # A summary may come between the two answers' metric lines: wait for one with both.
        new = summaries(running.output())[len(before) :]
        return any(re.search(counted, line) for line in new)

    assert eventually(summed_up, 2 * SUMMARY_INTERVAL_SECONDS + PROCESSED_WITHIN), running.output()
    # The metric lines themselves are read, not shown.
    assert '"_aws"' not in running.output()


def summaries(output: str) -> list[str]:
    return [line for line in output.splitlines() if "local.supervisor: Enrollments:" in line]


def test_an_age_outside_every_group_is_refused(api: httpx.Client) -> None:
    response = enroll(api, age=150)

    assert response.status_code == 400
    assert "detail" in response.json()


def test_a_poison_message_is_dead_lettered_and_blocks_nothing(
    running: RunningStack, api: httpx.Client
) -> None:
    sqs = running.sqs()
    queue_url = sqs.get_queue_url(QueueName="EnrollmentQueue")["QueueUrl"]
    dlq_url = sqs.get_queue_url(QueueName="EnrollmentDeadLetterQueue")["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody="not json")

    ids = [enroll(api).json()["enrollment_id"] for _ in range(3)]

    assert eventually(
        lambda: all(status_of(api, i) == "PROCESSED" for i in ids), PROCESSED_WITHIN
    ), running.output()
    dead: list[dict[str, Any]] = []

    def dead_lettered() -> bool:
        dead.extend(
            sqs.receive_message(
                QueueUrl=dlq_url, MessageSystemAttributeNames=["ApproximateReceiveCount"]
            ).get("Messages", [])
        )
        return bool(dead)

    assert eventually(dead_lettered, DEAD_LETTERED_WITHIN, interval=0.5), running.output()
    (message,) = dead
    assert message["Body"] == "not json"
    assert int(message["Attributes"]["ApproximateReceiveCount"]) >= MAX_RECEIVE_COUNT


def test_sigterm_stops_every_process_and_frees_the_ports(tmp_path: Path) -> None:
    stack = start_stack(tmp_path)
    children = children_of(stack.process.pid)
    assert len(children) == 4, stack.output()  # emulator, API, poller, notifier

    stack.process.send_signal(signal.SIGTERM)

    assert stack.process.wait(STOP_TIMEOUT) == 0, stack.output()
    assert [pid for pid in children if is_running(pid)] == []
    assert port_is_free(stack.api_port)
    assert port_is_free(stack.emulator_port)
    assert "Stopped" in stack.output()


def test_the_children_stop_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    stack = start_stack(tmp_path)
    children = children_of(stack.process.pid)
    assert len(children) == 4, stack.output()

    stack.process.kill()
    stack.process.wait()

    assert eventually(lambda: not any(map(is_running, children)), STOP_TIMEOUT), stack.output()
    assert eventually(lambda: port_is_free(stack.api_port), STOP_TIMEOUT)


def module_of(pid: int) -> str | None:
    """The module a `python -m module` process runs, from /proc."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    return args[args.index(b"-m") + 1].decode() if b"-m" in args else None


def child_running(stack: RunningStack, module: str) -> int:
    """The pid of the supervisor's child that runs `module`."""
    (pid,) = [
        pid
        for pid in children_of(stack.process.pid)
        if is_running(pid) and module_of(pid) == module
    ]
    return pid


def test_a_killed_api_comes_back_with_the_data_and_a_killed_emulator_stops_all(
    tmp_path: Path,
) -> None:
    stack = start_stack(tmp_path)
    try:
        with stack.client() as client:
            group = client.post("/age-groups", json={"min_age": 40, "max_age": 50}).json()
            os.kill(child_running(stack, "local.api"), signal.SIGKILL)

            def serves_the_group() -> bool:
                assert stack.process.poll() is None, stack.output()
                try:
                    response = client.get("/age-groups")
                except httpx.TransportError:
                    return False
                return response.status_code == 200 and group in response.json()

            assert eventually(serves_the_group, STARTUP_TIMEOUT), stack.output()
        assert "The API exited on its own (exit code -9, SIGKILL)" in stack.output()
        children = children_of(stack.process.pid)

        os.kill(child_running(stack, "local.emulator"), signal.SIGKILL)

        assert stack.process.wait(STOP_TIMEOUT) == 1, stack.output()
        assert [pid for pid in children if is_running(pid)] == []
        assert port_is_free(stack.api_port)
        assert "emulator (exit code -9, SIGKILL)" in stack.output()
    finally:
        stop_stack(stack)


# --- Clients, scopes and the gateway, as make run answers ---


def clients_cli(running: RunningStack, *args: str) -> subprocess.CompletedProcess[str]:
    """`enrollment-clients --local ...`, pointed at this stack as `make run` points it."""
    return subprocess.run(  # noqa: S603 (this repository's own console script)
        [str(Path(sys.executable).parent / "enrollment-clients"), "--local", *args],
        env={**os.environ, "LOCAL_STATE_FILE": str(running.state_file)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_client_added_with_the_cli_has_the_default_scopes_and_its_own_enrollments(
    running: RunningStack, api: httpx.Client
) -> None:
    added = clients_cli(running, "add", "partner-e2e")
    assert added.returncode == 0, added.stderr
    client = json.loads(added.stdout)
    assert client["scopes"] == [
        "age-groups:read",
        "enrollments:read",
        "enrollments:write",
        "webhooks:write",
    ]
    enrollment = {"name": "Ana", "age": 20, "cpf": "52998224725"}

    with running.client(client["api_key"]) as partner:
        assert eventually(lambda: partner.get("/age-groups").status_code == 200, within=5)
        refused = partner.post("/age-groups", json={"min_age": 1, "max_age": 2})
        assert (refused.status_code, refused.json()) == (
            403,
            {"message": "This API key lacks the scope age-groups:write"},
        )
        own = partner.post("/enrollments", json=enrollment)
        assert own.status_code == 202, own.text
        assert partner.get(own.headers["location"]).status_code == 200
        theirs = api.post("/enrollments", json=enrollment).json()["enrollment_id"]
        assert partner.get(f"/enrollments/{theirs}").status_code == 404

    listed = json.loads(clients_cli(running, "list").stdout)
    assert {"partner-e2e", "local-client"} <= {c["name"] for c in listed}


def test_a_revoked_client_is_refused_and_errors_are_one_line(running: RunningStack) -> None:
    key = json.loads(clients_cli(running, "add", "leaving-e2e").stdout)["api_key"]
    with running.client(key) as leaving:
        assert eventually(lambda: leaving.get("/age-groups").status_code == 200, within=5)
        revoked = clients_cli(running, "revoke", "leaving-e2e")
        assert revoked.returncode == 0, revoked.stderr
        assert eventually(lambda: leaving.get("/age-groups").status_code == 403, within=5)

    duplicate = clients_cli(running, "add", "leaving-e2e")
    unknown = clients_cli(running, "revoke", "nobody-e2e")
    for result, message in ((duplicate, "exists already"), (unknown, "No client named")):
        assert result.returncode == 1
        assert len(result.stderr.splitlines()) == 1
        assert message in result.stderr


def test_the_local_client_key_has_the_default_scopes(running: RunningStack) -> None:
    with running.client(DEFAULT_CLIENT_API_KEY) as client:
        assert client.get("/age-groups").status_code == 200
        assert client.delete(f"/age-groups/{uuid.uuid4()}").status_code == 403


def test_a_key_is_throttled_past_its_burst_with_api_gateways_answer(running: RunningStack) -> None:
    # The usage plan's burst is 100 and its rate 50 a second: 300 requests from 20 clients at
    # once outrun the bucket's refill by far.
    with running.client() as client, ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: client.get("/nowhere"), range(300)))

    throttled = [a for a in answers if a.status_code == 429]
    assert throttled
    assert throttled[0].content == b'{"message":"Too Many Requests"}'
    with running.client() as client:
        assert eventually(lambda: client.get("/age-groups").status_code == 200, within=5)


def test_each_clients_webhook_receives_its_own_enrollments_signed(
    running: RunningStack, api: httpx.Client
) -> None:
    with (
        receiver() as partners,
        receiver() as staffs,
        running.client(DEFAULT_CLIENT_API_KEY) as partner,
    ):
        secret = partner.put("/webhook", json={"url": partners.url}).json()["secret"]
        staff_secret = api.put("/webhook", json={"url": staffs.url}).json()["secret"]
        try:
            own = enroll(partner).json()["enrollment_id"]
            other = enroll(api).json()["enrollment_id"]

            [staff_event] = [d.verified_by(staff_secret) for d in staffs.wait_for(1, 20)]
            [event] = [d.verified_by(secret) for d in partners.wait_for(1, 20)]
        finally:
            api.delete("/webhook")
            partner.delete("/webhook")
    assert event["data"]["enrollment_id"] == own
    assert staff_event["data"]["enrollment_id"] == other
    # The stack's enrollment went to its own endpoint alone: the partner's got one event.
    assert len(partners.deliveries) == 1
    assert "notifier" in running.output()


# --- A person's data: found by the CPF, erased, and gone from every table ---


def data_cli(running: RunningStack, *args: str) -> subprocess.CompletedProcess[str]:
    """`enrollment-data --local ...`, pointed at this stack as `make run` points it."""
    return subprocess.run(  # noqa: S603 (this repository's own console script)
        [str(Path(sys.executable).parent / "enrollment-data"), "--local", *args],
        env={**os.environ, "LOCAL_STATE_FILE": str(running.state_file)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_persons_enrollments_are_found_by_their_cpf_then_erased_from_every_table(
    running: RunningStack, api: httpx.Client
) -> None:
    cpf, names = "39053344705", [f"Pessoa Apagada {n}" for n in range(3)]
    ids = []
    for name in names:
        created = api.post(
            "/enrollments",
            json={"name": name, "age": 20, "cpf": cpf},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert created.status_code == 202, created.text
        ids.append(created.json()["enrollment_id"])

    def processed() -> bool:
        return all(api.get(f"/enrollments/{e}").json()["status"] == "PROCESSED" for e in ids)

    assert eventually(processed, PROCESSED_WITHIN)

    found = data_cli(running, "find", cpf)
    assert found.returncode == 0, found.stderr
    assert [e["enrollment_id"] for e in json.loads(found.stdout)["enrollments"]] == ids
    erased = data_cli(running, "erase", cpf)
    assert erased.returncode == 0, erased.stderr
    assert [t["status"] for t in json.loads(erased.stdout)["erased"]] == ["ERASED"] * 3

    for enrollment_id in ids:
        tombstone = api.get(f"/enrollments/{enrollment_id}").json()
        assert (tombstone["status"], "name" in tombstone, "cpf" in tombstone) == (
            "ERASED",
            False,
            False,
        )
    state = json.loads(running.state_file.read_text())
    aws = {
        "endpoint_url": state["endpoint_url"],
        "region_name": state["region"],
        "aws_access_key_id": "local",
        "aws_secret_access_key": "local",
    }
    dynamodb = boto3.client("dynamodb", **aws)
    # Every table, and every index of each: the list indexes hold copies of an enrollment.
    tables, indexes = [], []
    for table in dynamodb.list_tables()["TableNames"]:
        tables.append(dynamodb.scan(TableName=table)["Items"])
        described = dynamodb.describe_table(TableName=table)["Table"]
        indexes += [
            dynamodb.scan(TableName=table, IndexName=index["IndexName"])["Items"]
            for index in described.get("GlobalSecondaryIndexes", [])
        ]
    stored = json.dumps([tables, indexes])
    # The tombstones are in the indexes of every status: they were scanned.
    assert all(enrollment_id in json.dumps(indexes) for enrollment_id in ids)
    assert cpf not in stored
    assert not any(name in stored for name in names)
    assert data_cli(running, "find", cpf).stdout.count("enrollment_id") == 0
    audit = boto3.client("logs", **aws).filter_log_events(logGroupName=state["audit_log_group"])
    lines = [json.loads(event["message"]) for event in audit["events"]]
    assert [(line["action"], line.get("enrollment_id")) for line in lines] == [
        *(("find", e) for e in ids),
        *(("erase", e) for e in ids),
        ("find", None),
    ]
