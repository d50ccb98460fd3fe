"""`make smoke`: a running deployment checked end to end from outside, as a client uses it.

Any URL: `make smoke API_URL=https://... API_KEY=...` (a stack's URL, a custom domain, `make run`).
A stack: `make smoke STACK=name` reads the URL and the key's id from the stack's outputs (`ApiUrl`,
`ApiKeyId`) and the key's value from API Gateway, with the caller's AWS credentials.

Each step is printed with its status and time. The first step that fails stops the run, which
exits 1 naming it, with the response it got. The write steps use an age group of their own, which
is deleted at the end whatever happened; the enrollment they request stays, as every enrollment
does (the API deletes none); it must be PROCESSED within its 202's `Retry-After` (the API's own
estimate) and `SMOKE_MARGIN`, and is found again in `GET /enrollments`. `SMOKE_READ_ONLY=1` keeps
to the reads and the key check, for production.

Given a receiver (`SMOKE_RECEIVER=host:port`, and `SMOKE_RECEIVER_URL` where the service is to
reach it, if not at `http://host:port/`), the smoke listens there, sets the key's webhook endpoint
to it, and waits for its enrollment's `enrollment.processed` event, which must verify under the
endpoint's secret; the endpoint is then put back as it was (removed if there was none).
"""

import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, Any

import httpx
from standardwebhooks import WebhookVerificationError

from ops.config import SmokeSettings
from ops.receiver import Receiver, listening

VALID_CPF = "52998224725"
API_KEY_HEADER = "x-api-key"
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# The smoke's own age group, at the top of the range where real groups are unlikely to be.
SMOKE_AGE = 149
SMOKE_AGE_GROUP = {"min_age": SMOKE_AGE, "max_age": SMOKE_AGE}
POLL_INTERVAL_SECONDS = 0.5
# The list's indexes follow the table within about a second (DynamoDB's global secondary indexes).
LIST_LAG_SECONDS = 5.0
# Pages of 100 to look through for the smoke's enrollment, among those created since.
MAX_LIST_PAGES = 10
# What a response shows of itself in a failure: enough to see the error, not a whole page.
SHOWN_BODY_CHARACTERS = 1000
# ...and of its headers, those that say where the request went and what the API made of it.
SHOWN_HEADERS = {
    "content-type",
    "location",
    "retry-after",
    "x-request-id",
    "x-amzn-errortype",
    REPLAYED_HEADER.lower(),
}


class SmokeError(Exception):
    """The deployment cannot be checked, or a step failed: the message says which and why."""


@dataclass(frozen=True)
class Target:
    """The API to check and its key."""

    api_url: str
    api_key: str


def target_of_stack(stack: str, cloudformation: Any, apigateway: Any) -> Target:
    """The URL and key of a deployed stack, from its outputs and API Gateway."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        (description,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            raise SmokeError(
                f"No stack named {stack!r} in {cloudformation.meta.region_name}"
            ) from exc
        raise SmokeError(f"Cannot read the stack {stack!r}: {exc}") from exc
    except BotoCoreError as exc:
        raise SmokeError(f"Cannot read the stack {stack!r}: {exc}") from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}
    missing = [name for name in ("ApiUrl", "ApiKeyId") if name not in outputs]
    if missing:
        raise SmokeError(
            f"The stack {stack!r} ({description['StackStatus']}) has no output "
            + ", ".join(missing)
        )
    try:
        key = apigateway.get_api_key(apiKey=outputs["ApiKeyId"], includeValue=True)
    except (ClientError, BotoCoreError) as exc:
        raise SmokeError(f"Cannot read the API key {outputs['ApiKeyId']}: {exc}") from exc
    return Target(api_url=outputs["ApiUrl"], api_key=key["value"])


def resolve_target(settings: SmokeSettings) -> Target:
    """The target the settings name: a URL and a key, or a stack."""
    if settings.stack:
        if settings.api_url or settings.api_key:
            raise SmokeError("Give either STACK or API_URL and API_KEY, not both")
        import boto3
        from botocore.exceptions import BotoCoreError

        try:
            session = boto3.session.Session(region_name=settings.aws_region or None)
            cloudformation = session.client("cloudformation")
            apigateway = session.client("apigateway")
        except BotoCoreError as exc:
            raise SmokeError(f"Cannot read the stack {settings.stack!r}: {exc}") from exc
        return target_of_stack(settings.stack, cloudformation, apigateway)
    if not (settings.api_url and settings.api_key):
        raise SmokeError("Give STACK=name, or API_URL=https://... and API_KEY=...")
    return Target(api_url=settings.api_url.rstrip("/"), api_key=settings.api_key)


def json_of(response: httpx.Response) -> Any:
    """The response's JSON body, or `SmokeError` with the response described."""
    try:
        return response.json()
    except ValueError as exc:
        raise SmokeError(f"Not a JSON body\n{describe(response)}") from exc


def retry_after(response: httpx.Response) -> float:
    """The seconds of the response's `Retry-After`: when the API expects the enrollment done."""
    value = response.headers.get("retry-after", "")
    # The API sends whole seconds, at least 1; an HTTP date is valid HTTP but not its contract.
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise SmokeError(f"Retry-After is not whole seconds: {value!r}\n{describe(response)}")
    return float(value)


def describe(response: httpx.Response) -> str:
    """A response as a failure shows it: its request, status, relevant headers and body."""
    headers = {
        name: value for name, value in response.headers.items() if name.lower() in SHOWN_HEADERS
    }
    body = response.text[:SHOWN_BODY_CHARACTERS]
    return (
        f"{response.request.method} {response.request.url} -> {response.status_code}\n"
        f"  headers: {headers}\n  body: {body}"
    )


@dataclass
class StepResult:
    """One step as it went."""

    name: str
    ok: bool
    status: int | None
    seconds: float


@dataclass
class Run:
    """The steps of one smoke run, each printed as it ends."""

    out: IO[str]
    steps: list[StepResult] = field(default_factory=list)

    @contextmanager
    def step(self, name: str) -> Iterator["Step"]:
        """Time a step; it fails when its body raises, and the run stops."""
        step = Step(name)
        started = time.monotonic()
        try:
            yield step
        except Exception as exc:
            self._record(step, ok=False, seconds=time.monotonic() - started)
            reason = str(exc) if isinstance(exc, SmokeError) else f"{type(exc).__name__}: {exc}"
            raise SmokeError(f"Step {name!r} failed: {reason}") from exc
        self._record(step, ok=True, seconds=time.monotonic() - started)

    def _record(self, step: "Step", ok: bool, seconds: float) -> None:
        result = StepResult(step.name, ok, step.status, seconds)
        self.steps.append(result)
        status = "-" if result.status is None else str(result.status)
        self.out.write(
            f"  {'ok' if ok else 'FAIL':4}  {status:>3}  {seconds:6.2f} s  {step.name}\n"
        )
        self.out.flush()


@dataclass
class Step:
    """What a step saw: the status of its last response."""

    name: str
    status: int | None = None

    def expect(self, response: httpx.Response, status: int, why: str = "") -> httpx.Response:
        """The response, or `SmokeError` with it described unless its status is `status`."""
        self.status = response.status_code
        if response.status_code != status:
            reason = why or f"expected {status}"
            raise SmokeError(f"{reason}, got {response.status_code}\n{describe(response)}")
        return response


class Smoke:
    """The steps against one target."""

    def __init__(self, target: Target, settings: SmokeSettings, run: Run) -> None:
        self.target = target
        self.settings = settings
        self.run = run
        self.http = httpx.Client(
            base_url=target.api_url,
            headers={API_KEY_HEADER: target.api_key},
            timeout=settings.smoke_request_timeout,
        )

    def close(self) -> None:
        """Close the connections."""
        self.http.close()

    def send(
        self, method: str, url: str, *, with_key: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """One request; `SmokeError` when the API cannot be reached."""
        request = self.http.build_request(method, url, **kwargs)
        if not with_key:
            del request.headers[API_KEY_HEADER]
        try:
            return self.http.send(request)
        except httpx.TransportError as exc:
            raise SmokeError(
                f"Cannot reach {self.target.api_url}: {type(exc).__name__}: {exc}"
            ) from exc

    def check(self) -> None:
        """Every step, in order; the writes unless read-only."""
        self.check_reads()
        if not self.settings.smoke_read_only:
            self.check_writes()

    def check_reads(self) -> None:
        """The key check and the reads."""
        with self.run.step("a request without the key is refused (403)") as step:
            step.expect(
                self.send("GET", "/age-groups", with_key=False),
                403,
                "The API answered a request without a key",
            )
        with self.run.step("GET /age-groups answers 200 with the key") as step:
            response = self.send("GET", "/age-groups")
            if response.status_code == 403:
                step.status = 403
                raise SmokeError(
                    f"The API key was refused (403): is it this API's?\n{describe(response)}"
                )
            step.expect(response, 200)
            if not isinstance(json_of(response), list):
                raise SmokeError(f"Not a list of age groups\n{describe(response)}")
        with self.run.step("an unknown enrollment is a 404") as step:
            step.expect(self.send("GET", f"/enrollments/{uuid.uuid4()}"), 404)

    def check_writes(self) -> None:
        """An age group of the smoke's own, an enrollment, its replay and its processing; and
        its webhook, given a receiver."""
        with self.run.step("create an age group of the smoke's own (201)") as step:
            response = step.expect(self.send("POST", "/age-groups", json=SMOKE_AGE_GROUP), 201)
            group_id = str(json_of(response)["age_group_id"])
        try:
            if self.settings.smoke_receiver:
                self.check_enrollment_and_its_webhook()
            else:
                self.check_enrollment()
        except SmokeError:
            # The first failure is the one reported; the delete's own is printed as its step.
            with suppress(SmokeError):
                self.delete_age_group(group_id)
            raise
        self.delete_age_group(group_id)

    def check_enrollment_and_its_webhook(self) -> None:
        """The enrollment's steps, with the key's endpoint set to the smoke's receiver, and its
        event received and verified; the endpoint put back as it was, whatever happened."""
        host, _, port = self.settings.smoke_receiver.rpartition(":")
        if not host or not port.isdigit():
            raise SmokeError(f"SMOKE_RECEIVER is not host:port: {self.settings.smoke_receiver!r}")
        url = self.settings.smoke_receiver_url or f"http://{host}:{port}/"
        with listening(host, int(port)) as received:
            with self.run.step("GET /webhook: the key's endpoint, to put back after") as step:
                before = self.send("GET", "/webhook")
                previous = (
                    json_of(step.expect(before, 200))["url"] if before.status_code != 404 else None
                )
                step.status = before.status_code
            try:
                with self.run.step("PUT /webhook to the smoke's receiver (200 + secret)") as step:
                    answer = step.expect(self.send("PUT", "/webhook", json={"url": url}), 200)
                    secret = str(json_of(answer)["secret"])
                enrollment_id = self.check_enrollment()
                self.check_webhook(received, secret, enrollment_id)
            except SmokeError:
                # The first failure is the one reported; the restore's own is printed as its step.
                with suppress(SmokeError):
                    self.restore_webhook(previous)
                raise
            self.restore_webhook(previous)

    def check_webhook(self, received: Receiver, secret: str, enrollment_id: str) -> None:
        """Wait for the enrollment's event at the receiver; it must verify under `secret`."""
        margin = self.settings.smoke_margin
        with self.run.step(
            f"its enrollment.processed webhook arrives within {margin:g} s and verifies"
        ) as step:
            deadline = time.monotonic() + margin
            seen = 0
            while True:
                deliveries = received.wait_for(seen + 1, max(0.0, deadline - time.monotonic()))
                for delivery in deliveries[seen:]:
                    try:
                        event = delivery.verified_by(secret)
                    except WebhookVerificationError as exc:
                        raise SmokeError(
                            f"A delivery that does not verify ({exc}): {delivery.headers}"
                        ) from exc
                    data = event.get("data", {})
                    if (event.get("type"), data.get("enrollment_id")) == (
                        "enrollment.processed",
                        enrollment_id,
                    ):
                        step.status = 204
                        return
                seen = len(deliveries)
                if time.monotonic() >= deadline:
                    raise SmokeError(
                        f"No enrollment.processed event for {enrollment_id} within {margin:g} s "
                        f"({seen} other deliveries): is the notifier running?"
                    )

    def restore_webhook(self, previous: str | None) -> None:
        """Put the key's endpoint back: its URL again (its secret is kept), or none."""
        with self.run.step("put the key's webhook endpoint back as it was") as step:
            if previous is None:
                step.expect(self.send("DELETE", "/webhook"), 204)
            else:
                step.expect(self.send("PUT", "/webhook", json={"url": previous}), 200)

    def check_enrollment(self) -> str:
        """Request, replay, and poll an enrollment until it is processed; its id."""
        key = f"smoke-{uuid.uuid4()}"
        body = {"name": "Smoke Test", "age": SMOKE_AGE, "cpf": VALID_CPF}
        headers = {IDEMPOTENCY_KEY_HEADER: key}
        with self.run.step(
            "request an enrollment with an Idempotency-Key (202 + Location + Retry-After)"
        ) as step:
            first = step.expect(self.send("POST", "/enrollments", json=body, headers=headers), 202)
            accepted_at = time.monotonic()
            location = first.headers.get("location")
            if not location:
                raise SmokeError(f"No Location header\n{describe(first)}")
            enrollment_id = json_of(first)["enrollment_id"]
            expected = retry_after(first)
        with self.run.step("the same request again is replayed (same id)") as step:
            again = step.expect(self.send("POST", "/enrollments", json=body, headers=headers), 202)
            if json_of(again).get("enrollment_id") != enrollment_id:
                raise SmokeError(f"A second enrollment, not {enrollment_id}\n{describe(again)}")
            if again.headers.get(REPLAYED_HEADER) != "true":
                raise SmokeError(f"No '{REPLAYED_HEADER}: true'\n{describe(again)}")
        margin = self.settings.smoke_margin
        within = expected + margin
        with self.run.step(
            f"the enrollment is PROCESSED within {within:g} s "
            f"(its Retry-After, {expected:g} s, + {margin:g} s)"
        ) as step:
            # Location is an absolute path (with the stage's prefix): joined to the host.
            url = str(httpx.URL(self.target.api_url).join(location))
            deadline = accepted_at + within
            while True:
                response = step.expect(self.send("GET", url), 200)
                status = json_of(response).get("status")
                if status == "PROCESSED":
                    break
                if time.monotonic() >= deadline:
                    raise SmokeError(
                        f"Still {status} after {within:g} s: is the "
                        f"processor consuming the queue?\n{describe(response)}"
                    )
                time.sleep(POLL_INTERVAL_SECONDS)
        with self.run.step("GET /enrollments lists it (200)") as step:
            self.find_listed(step, json_of(response))
        return str(enrollment_id)

    def find_listed(self, step: "Step", enrollment: dict[str, Any]) -> None:
        """Page through the enrollments created since a second before `enrollment` until it is
        found: the list's indexes follow the table within about a second, so look again a few
        times before failing."""
        since = datetime.fromisoformat(enrollment["created_at"]) - timedelta(seconds=1)
        params = {"created_after": since.isoformat().replace("+00:00", "Z"), "limit": "100"}
        deadline = time.monotonic() + LIST_LAG_SECONDS
        while True:
            query = params
            for _ in range(MAX_LIST_PAGES):
                listed = self.send("GET", "/enrollments", params=query)
                page = json_of(step.expect(listed, 200))
                if any(
                    item["enrollment_id"] == enrollment["enrollment_id"] for item in page["items"]
                ):
                    return
                if page["next_cursor"] is None:
                    break
                query = params | {"cursor": page["next_cursor"]}
            if time.monotonic() >= deadline:
                raise SmokeError(
                    f"Enrollment {enrollment['enrollment_id']} is in no page of GET /enrollments "
                    f"created since {params['created_after']}"
                )
            time.sleep(POLL_INTERVAL_SECONDS)

    def delete_age_group(self, group_id: str) -> None:
        """Delete the smoke's age group (a step of its own, run whatever happened before)."""
        with self.run.step("delete the smoke's age group (200)") as step:
            step.expect(self.send("DELETE", f"/age-groups/{group_id}"), 200)


def smoke(settings: SmokeSettings, out: IO[str]) -> int:
    """Run the smoke; 0 if every step passed, 1 (with the reason on `out`) if not."""
    run = Run(out)
    started = time.monotonic()
    try:
        target = resolve_target(settings)
        mode = "reads only" if settings.smoke_read_only else "reads and writes"
        out.write(f"Smoke test of {target.api_url} ({mode})\n")
        checker = Smoke(target, settings, run)
        try:
            checker.check()
        finally:
            checker.close()
    except SmokeError as exc:
        failures = [s.name for s in run.steps if not s.ok]
        out.write(f"FAILED: {exc}\n")
        if len(failures) > 1:
            out.write(f"Failed steps: {', '.join(failures)}\n")
        return 1
    out.write(f"Passed: {len(run.steps)} steps in {time.monotonic() - started:.1f} s\n")
    return 0


def main() -> int:
    """`python -m ops.smoke`, with its settings from the environment."""
    return smoke(SmokeSettings(), sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
