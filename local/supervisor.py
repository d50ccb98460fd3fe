"""The whole service on one machine: an AWS emulator, the API, the queue poller and the notifier.

Each runs in a child process of the supervisor, which starts them in order (emulator, tables and
queues from `template.yaml`, API, poller, notifier) and stops them in reverse. The poller and the
notifier can be stopped and started on their own, as Lambda's event source mappings can be
disabled and enabled. The notifier is the processor's kind of poller for the notifier function:
the delivery queue's mapping, and the enrollments table's stream mapping (`local.stream`).

An API, a poller or a notifier that exits on its own is started again, with the same environment,
after a wait that grows while it keeps failing (`RestartPolicy`), as Lambda's event source keeps
polling when a function crashes; the emulator, and the tables, keys and messages it holds, stay. An
emulator that exits takes its state with it: there is nothing left to keep (`exited()`).
"""

import json
import logging
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import boto3

from app.config import ApiSettings, MissingSettingsError, read_settings
from local.activity import Activity
from local.config import CREDENTIAL_VARIABLES, LocalSettings, inherited_environment
from local.emulator import Emulator, wait_until_serving
from local.gateway import provision_gateway
from local.poller import sqs_function_config
from local.process import spawn, stop
from local.stream import stream_source
from local.template import Stack, load_template, provision
from ops.config import LocalState

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

logger = logging.getLogger(__name__)

API_FUNCTION = "ApiFunction"
PROCESSOR_FUNCTION = "ProcessorFunction"
NOTIFIER_FUNCTION = "NotifierFunction"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
# The poller finishes the invocations in progress before it exits: up to a processing delay.
STOP_TIMEOUT_SECONDS = 30
# How often the activity summary is logged, while there is activity.
SUMMARY_INTERVAL_SECONDS = 5
# How often the supervisor looks for a child that exited: well under a restart's first wait.
WATCH_INTERVAL_SECONDS = 0.2


def exit_status(returncode: int) -> str:
    """A child's exit, as a developer reads it: `exit code 1`, `exit code -9, SIGKILL`."""
    if returncode < 0:
        return f"exit code {returncode}, {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"


@dataclass(frozen=True)
class RestartPolicy:
    """How long the supervisor waits before it starts again a child that exited on its own.

    The first wait is `first_delay`; each next one doubles, up to `max_delay`, so a child that
    cannot start (its port taken, a syntax error being fixed) is tried less and less often. A
    child that ran `stable_after` seconds or more before it exited starts over from the first.
    """

    first_delay: float = 1.0
    max_delay: float = 30.0
    stable_after: float = 60.0

    def delay(self, previous: float | None, ran_for: float) -> float:
        """The wait before the next start, after `previous` (None: no restart yet) and a run of
        `ran_for` seconds."""
        if previous is None or ran_for >= self.stable_after:
            return self.first_delay
        return min(previous * 2, self.max_delay)


class Child:
    """A child process that `tend()` starts again, after the policy's wait, once it has exited."""

    def __init__(
        self,
        name: str,
        start: Callable[[], "subprocess.Popen[str]"],
        policy: RestartPolicy,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`start` starts the process, the first time (here) and every time after."""
        self.name = name
        self._start = start
        self._policy = policy
        self._clock = clock
        self.process = start()
        self._started_at = clock()
        self._delay: float | None = None
        self._due: float | None = None

    def tend(self) -> None:
        """Note that the process exited, or start it again once its wait is over."""
        now = self._clock()
        if self._due is None:
            returncode = self.process.poll()
            if returncode is None:
                return
            ran_for = now - self._started_at
            self._delay = self._policy.delay(self._delay, ran_for)
            self._due = now + self._delay
            logger.warning(
                "The %s exited on its own (%s) after %.1f s; starting it again in %.1f s",
                self.name,
                exit_status(returncode),
                ran_for,
                self._delay,
            )
            return
        if now < self._due:
            return
        self._due = None
        self._started_at = now
        try:
            self.process = self._start()
        except OSError:
            # Out of processes or memory, for now: as a start that failed at once.
            logger.exception("The %s could not be started", self.name)
            self._delay = self._policy.delay(self._delay, 0.0)
            self._due = now + self._delay
            return
        logger.info("The %s started again (pid %d)", self.name, self.process.pid)


class LocalService:
    """The emulator, the API and the poller, as child processes of this one."""

    def __init__(
        self,
        settings: LocalSettings,
        output: IO[str] | None = None,
        api_aws_endpoint: Callable[[str], str] | None = None,
        restart_policy: RestartPolicy | None = None,
        function_environment: dict[str, str] | None = None,
    ) -> None:
        """`api_aws_endpoint` maps the emulator's URL to the one the API uses (the soak test's
        fault proxy); the poller always reaches the emulator directly. `restart_policy` says
        how long to wait before starting again an API or a poller that exited on its own.
        `function_environment` is set in every function's environment over what this process
        passes on (the webhook soak's `WEBHOOK_RETRY_DELAYS`)."""
        self.settings = settings
        self._function_environment = dict(function_environment or {})
        self._api_aws_endpoint = api_aws_endpoint
        self._restart_policy = restart_policy or RestartPolicy()
        self.template: dict[str, Any] = load_template()
        self.emulator = (
            Emulator(settings.aws_endpoint_url, settings.local_emulator_port)
            if settings.local_stack
            else None
        )
        self.stack: Stack | None = None
        self._output = output
        self._api: Child | None = None
        self._poller: Child | None = None
        self._notifier: Child | None = None
        # Where the notifier's stream mapping keeps its place, for this run: made when it starts.
        self._checkpoints: tempfile.TemporaryDirectory[str] | None = None
        # Held while a child is started, tended or taken away: the watcher never starts again a
        # poller that `stop_poller` is stopping.
        self._children = threading.Lock()
        # The functions' metrics, read from their stdout, and the summary they make.
        self.activity = Activity()
        self._sqs: SQSClient | None = None
        self._stopping = threading.Event()
        self._summarizer: threading.Thread | None = None
        self._watcher: threading.Thread | None = None
        self._key_aliases: dict[str, str] = {}

    @property
    def api_url(self) -> str:
        """Where the API answers, from this machine."""
        host = "127.0.0.1" if self.settings.host in ("0.0.0.0", "") else self.settings.host  # noqa: S104
        return f"http://{host}:{self.settings.port}"

    def aws_environment(self) -> dict[str, str]:
        """This process's environment, with the endpoint, credentials and region for the stack."""
        env = inherited_environment()
        if self.emulator is None:
            return env
        if not self.emulator.external:
            # The embedded emulator takes any credentials: never resolve a real profile for it.
            for name in (*CREDENTIAL_VARIABLES, "AWS_SECRET_ACCESS_KEY"):
                env.pop(name, None)
        if "AWS_ACCESS_KEY_ID" not in env and "AWS_PROFILE" not in env:
            env.update(FAKE_CREDENTIALS)
        env["AWS_ENDPOINT_URL"] = self.emulator.endpoint_url
        env["AWS_DEFAULT_REGION"] = env["AWS_REGION"] = self.settings.region
        return env

    def function_environment(self, function_id: str) -> dict[str, str]:
        """The environment of a function's process: the template's variables, resolved."""
        env = self.aws_environment()
        if self.stack is None:
            # Against real AWS: the environment names the resources already.
            return {**env, **self._function_environment}
        env.update(self.stack.environment(self.template, function_id))
        # What the local run changes from the template, where the template sets it.
        env["DOCS_ENABLED"] = str(self.settings.docs_enabled).lower()
        if self.settings.processing_delay_seconds is not None:
            env["PROCESSING_DELAY_SECONDS"] = str(self.settings.processing_delay_seconds)
        # Webhooks to a receiver on this machine (`http://127.0.0.1:...`): the local run's alone.
        env["WEBHOOK_ALLOW_LOOPBACK_HTTP"] = "true"
        env.update(self._function_environment)
        return env

    def aws_client(self, name: str) -> Any:
        """A boto3 client of the stack's AWS endpoint, with the credentials its functions get."""
        env = self.aws_environment()
        return boto3.client(
            name,  # type: ignore[call-overload]
            endpoint_url=env["AWS_ENDPOINT_URL"],
            region_name=self.settings.region,
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
        )

    def provision(self) -> Stack:
        """Create the template's tables, queues and secrets on the emulator (reusing existing
        ones)."""
        env = self.aws_environment()
        session = boto3.session.Session(
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
            region_name=self.settings.region,
        )
        endpoint = env["AWS_ENDPOINT_URL"]
        sqs = self._sqs = session.client("sqs", endpoint_url=endpoint)
        dynamodb = session.client("dynamodb", endpoint_url=endpoint)
        stack = provision(
            self.template,
            dynamodb,
            sqs,
            exist_ok=True,
            secretsmanager=session.client("secretsmanager", endpoint_url=endpoint),
            logs=session.client("logs", endpoint_url=endpoint),
        )
        self._key_aliases = provision_gateway(
            self.template,
            session.client("apigateway", endpoint_url=endpoint),
            dynamodb,
            stack,
            stack_key=self.settings.api_key,
            client_key=self.settings.client_api_key,
        )
        if self.settings.local_visibility_timeout is not None:
            queue_id = sqs_function_config(self.template, PROCESSOR_FUNCTION).queue_id
            sqs.set_queue_attributes(
                QueueUrl=stack.refs[queue_id],
                Attributes={"VisibilityTimeout": str(self.settings.local_visibility_timeout)},
            )
        return stack

    def state(self) -> LocalState | None:
        """Where this stack is, for `enrollment-clients --local`; None without a local stack."""
        stack = self.stack
        if self.emulator is None or stack is None:
            return None
        return LocalState(
            endpoint_url=self.emulator.endpoint_url,
            region=self.settings.region,
            stack_name=stack.name,
            usage_plan_id=stack.refs["UsagePlan"],
            clients_table=stack.refs["ClientsTable"],
            api_url=self.api_url,
            enrollments_table=stack.refs["EnrollmentsTable"],
            cpf_key_secret_arn=stack.refs["CpfKeySecret"],
            audit_log_group=stack.refs["AuditLogGroup"],
            retention_days=int(stack.refs["RetentionDays"]),
            webhook_deliveries_table=stack.refs["WebhookDeliveriesTable"],
            webhook_delivery_queue_url=stack.refs["WebhookDeliveryQueue"],
        )

    def start(self) -> None:
        """Start the emulator, create the stack on it, then the API and the poller."""
        if self.emulator is None:
            # The API's own settings name what it needs; and real tables, reachable from the
            # network, are never served without a key.
            try:
                settings = read_settings(ApiSettings)
            except MissingSettingsError as exc:
                raise RuntimeError(f"LOCAL_STACK=false serves the API on AWS: {exc}") from None
            if settings.api_key is None:
                raise RuntimeError("LOCAL_STACK=false serves the API on AWS: set API_KEY")
        if self.emulator is not None:
            self.emulator.start(self.aws_environment(), self._output)
            self.stack = self.provision()
            logger.info(
                "Tables and queues of template.yaml created at %s", self.emulator.endpoint_url
            )
        env = self.function_environment(API_FUNCTION)
        if self.stack is not None:
            # API Gateway's key check and throttling, in front of the app (local.gateway).
            env["LOCAL_USAGE_PLAN_ID"] = self.stack.refs["UsagePlan"]
            env["LOCAL_KEY_ALIASES"] = json.dumps(self._key_aliases)
            env.pop("API_KEY", None)
        if self.emulator is not None and self._api_aws_endpoint is not None:
            env["AWS_ENDPOINT_URL"] = self._api_aws_endpoint(env["AWS_ENDPOINT_URL"])
        args = ["--host", self.settings.host, "--port", str(self.settings.port)]
        # Started again with this same environment: the gateway's usage plan and key aliases,
        # and the endpoint `api_aws_endpoint` gave once.
        with self._children:
            self._api = self._child("API", "local.api", args, env)
            api = self._api.process
        if self.stack is not None:
            self.start_poller()
            self.start_notifier()
        wait_until_serving(f"{self.api_url}/docs", timeout=60, process=api)
        self._summarizer = threading.Thread(target=self._summarize, name="summary", daemon=True)
        self._summarizer.start()
        self._watcher = threading.Thread(target=self._watch, name="watcher", daemon=True)
        self._watcher.start()

    def _child(self, name: str, module: str, args: list[str], env: dict[str, str]) -> Child:
        return Child(name, lambda: self._spawn_function(module, args, env), self._restart_policy)

    def _watch(self) -> None:
        while not self._stopping.wait(WATCH_INTERVAL_SECONDS):
            with self._children:
                for child in (self._api, self._poller, self._notifier):
                    if child is not None:
                        child.tend()

    def _spawn_function(
        self, module: str, args: list[str], env: dict[str, str]
    ) -> "subprocess.Popen[str]":
        """Start a function's process; its metrics (stdout) go to `activity`, the rest through."""
        process = spawn(module, args, env, self._output, pipe_stdout=True)
        stdout = process.stdout
        assert stdout is not None, "piped above"
        threading.Thread(
            target=self._read_metrics, args=(stdout,), name=f"{module} stdout", daemon=True
        ).start()
        return process

    def _read_metrics(self, stdout: IO[str]) -> None:
        sink = self._output or sys.stdout
        with stdout:
            for line in stdout:
                # Blank lines are the newlines of metric lines that ran together (`activity`).
                if line.strip() and not self.activity.observe(line):
                    sink.write(line)
                    sink.flush()

    def pending(self) -> int | None:
        """Messages on the enrollment queue, waiting or in flight; None if it cannot be read."""
        if self._sqs is None or self.stack is None:
            return None
        try:
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=self.queue_url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
        except Exception:  # the emulator stopping, or busy: the line says "?"
            return None
        return sum(int(value) for value in attributes.values())

    def _summarize(self) -> None:
        while not self._stopping.wait(SUMMARY_INTERVAL_SECONDS):
            line = self.activity.summary(self.pending())
            if line is not None:
                logger.info(line)

    @property
    def queue_url(self) -> str:
        """The enrollment queue's URL on the emulator."""
        if self.stack is None:
            raise RuntimeError("No local stack: LOCAL_STACK is false")
        return self.stack.refs[sqs_function_config(self.template, PROCESSOR_FUNCTION).queue_id]

    def start_poller(self) -> None:
        """Start the event source mapping of the processor (if it is not started)."""
        env = self.function_environment(PROCESSOR_FUNCTION)
        args = ["--queue-url", self.queue_url, "--function", PROCESSOR_FUNCTION]
        with self._children:
            if self._poller is None:
                self._poller = self._child("poller", "local.poller", args, env)

    def stop_poller(self, kill: bool = False) -> None:
        """Stop the poller once its invocations in progress are done, or at once with `kill`.

        Killed, it deletes nothing more: the records it had received come back after the
        queue's visibility timeout, as when a Lambda invocation crashes.
        """
        with self._children:
            poller, self._poller = self._poller, None
        if poller is not None:
            if kill:
                poller.process.kill()
            stop(poller.process, STOP_TIMEOUT_SECONDS)

    def start_notifier(self) -> None:
        """Start the notifier's event source mappings (if they are not started): the delivery
        queue's, and the enrollments table's stream, from where it left off."""
        if self.stack is None:
            raise RuntimeError("No local stack: LOCAL_STACK is false")
        source = stream_source(self.template, NOTIFIER_FUNCTION)
        queue = sqs_function_config(self.template, NOTIFIER_FUNCTION).queue_id
        assert source is not None, "the template's notifier reads the enrollments table's stream"
        args = [
            "--function",
            NOTIFIER_FUNCTION,
            "--queue-url",
            self.stack.refs[queue],
            "--stream-arn",
            self.stack.attributes[(source.table_id, "StreamArn")],
            "--checkpoint",
            str(Path(self._checkpoint_directory()) / "enrollments-stream.json"),
        ]
        if source.failure_queue_id is not None:
            args += ["--failure-queue-url", self.stack.refs[source.failure_queue_id]]
        env = self.function_environment(NOTIFIER_FUNCTION)
        with self._children:
            if self._notifier is None:
                self._notifier = self._child("notifier", "local.poller", args, env)

    def _checkpoint_directory(self) -> str:
        if self._checkpoints is None:
            self._checkpoints = tempfile.TemporaryDirectory(prefix="enrollment-stream-")
        return self._checkpoints.name

    def stop_notifier(self, kill: bool = False) -> None:
        """Stop the notifier, or kill it mid-batch: its records come back, as a crashed
        invocation's do."""
        with self._children:
            notifier, self._notifier = self._notifier, None
        if notifier is not None:
            if kill:
                notifier.process.kill()
            stop(notifier.process, STOP_TIMEOUT_SECONDS)

    def processes(self) -> dict[str, "subprocess.Popen[str]"]:
        """The child processes now, by name (`emulator`, `api`, `poller`, `notifier`); one that
        exited stays until it is started again."""
        with self._children:
            children = {"api": self._api, "poller": self._poller, "notifier": self._notifier}
            processes = {name: c.process for name, c in children.items() if c is not None}
        if self.emulator is not None and self.emulator.process is not None:
            processes["emulator"] = self.emulator.process
        return processes

    def exited(self) -> list[str]:
        """The children that exited on their own and are not started again, with their exit
        codes: the embedded emulator, whose state went with it (the others are started again)."""
        emulator = self.emulator.process if self.emulator is not None else None
        if emulator is None or emulator.poll() is None:
            return []
        return [f"emulator ({exit_status(emulator.returncode)})"]

    def stop(self) -> None:
        """Stop the poller and the API, then the emulator they use; all are reaped."""
        self._stopping.set()
        for thread in (self._watcher, self._summarizer):
            if thread is not None:
                thread.join()
        with self._children:
            children = [
                c.process for c in (self._notifier, self._poller, self._api) if c is not None
            ]
            self._notifier = self._poller = self._api = None
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            stop(child, STOP_TIMEOUT_SECONDS)
        if self.emulator is not None:
            self.emulator.stop()
        if self._checkpoints is not None:
            self._checkpoints.cleanup()
            self._checkpoints = None
