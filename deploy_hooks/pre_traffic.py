"""CodeDeploy's PreTraffic hook for the API: the new version answers as `make smoke` expects, or
the deployment fails before the version takes a single request.

CodeDeploy invokes this function (asynchronously) once CloudFormation has published the API
function's new version, before the `live` alias sends it any traffic. The hook invokes that
version directly (`NEW_VERSION`, its ARN) with the REST proxy events API Gateway would send
(`app.entrypoints.events`), for the read-only steps of `make smoke`:

- a request whose event names no API key is refused: 403 `{"message": "Forbidden"}`;
- `GET /age-groups` as the stack's own key (`STACK_API_KEY_ID`) answers 200 with a JSON list;
- an unknown enrollment is a 404.

It stops at the first check that fails and reports `Failed` to CodeDeploy, which stops the
deployment: the alias stays on the old version and CloudFormation rolls the stack back.
Otherwise it reports `Succeeded` and traffic starts to shift. It writes nothing: every request
is a read, of the stack's real tables, through the new version's own role.

A hook that never reports holds the deployment for an hour before CodeDeploy gives up, so any
failure here, a missing setting or an AWS error included, is reported as `Failed`.
"""

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from app.entrypoints.events import rest_event
from deploy_hooks.clients import get_codedeploy_client, get_lambda_client
from deploy_hooks.config import get_settings

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

logger = logging.getLogger(__name__)

# The two verdicts a hook may give CodeDeploy.
Verdict = Literal["Succeeded", "Failed"]
SUCCEEDED: Verdict = "Succeeded"
FAILED: Verdict = "Failed"
# What a failure shows of an answer: enough to see the error, not a whole page.
SHOWN_CHARACTERS = 500


class CheckFailedError(Exception):
    """The new version did not answer a check as expected: the message says how."""


@dataclass(frozen=True)
class Check:
    """One request through the new version, and the answer it must get."""

    name: str
    method: str
    path: str
    # The API key API Gateway names in the event; None: a request that carried no key.
    api_key_id: str | None
    status: int
    body_is_right: Callable[[Any], bool]


def checks(stack_api_key_id: str) -> list[Check]:
    """The read-only steps of `make smoke` (ops/smoke.py), as events of the stack's key."""
    return [
        Check(
            "a request without the key is refused (403)",
            "GET",
            "/age-groups",
            None,
            403,
            lambda body: body == {"message": "Forbidden"},
        ),
        Check(
            "GET /age-groups answers 200 with a list, with the stack's key",
            "GET",
            "/age-groups",
            stack_api_key_id,
            200,
            lambda body: isinstance(body, list),
        ),
        Check(
            "an unknown enrollment is a 404",
            "GET",
            f"/enrollments/{uuid.uuid4()}",
            stack_api_key_id,
            404,
            lambda body: isinstance(body, dict),
        ),
    ]


def shown(text: bytes | str) -> str:
    """The start of an answer, for a failure's message."""
    decoded = text.decode(errors="replace") if isinstance(text, bytes) else text
    return decoded[:SHOWN_CHARACTERS]


def invoke(lambda_client: "LambdaClient", version: str, event: dict[str, Any]) -> tuple[int, Any]:
    """The status and JSON body of the version's answer to `event`, or `CheckFailedError`."""
    response = lambda_client.invoke(
        FunctionName=version,
        InvocationType="RequestResponse",
        Payload=json.dumps(event).encode(),
    )
    payload = response["Payload"].read()
    # The handler answers its own bugs with a JSON 500; Lambda reports a crash at init, a
    # timeout or exhausted memory as a function error instead.
    if "FunctionError" in response:
        raise CheckFailedError(
            f"the function failed ({response['FunctionError']}): {shown(payload)}"
        )
    try:
        answer = json.loads(payload)
        return int(answer["statusCode"]), json.loads(answer["body"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckFailedError(
            f"not an API Gateway proxy answer with a JSON body: {shown(payload)}"
        ) from exc


def run_checks(lambda_client: "LambdaClient", version: str, stack_api_key_id: str) -> None:
    """Send each check through `version`; `CheckFailedError` at the first wrong answer."""
    for check in checks(stack_api_key_id):
        # The API's log lines for this request carry this id: the hook's own lines name it.
        request_id = f"pre-traffic-{uuid.uuid4()}"
        event = rest_event(
            check.method, check.path, api_key_id=check.api_key_id, request_id=request_id
        )
        try:
            status, body = invoke(lambda_client, version, event)
        except CheckFailedError as exc:
            raise CheckFailedError(f"{check.name}: {exc} (request_id {request_id})") from exc
        if status != check.status or not check.body_is_right(body):
            raise CheckFailedError(
                f"{check.name}: expected {check.status}, got {status} "
                f"{shown(json.dumps(body))} (request_id {request_id})"
            )
        logger.info("Passed: %s (request_id %s)", check.name, request_id)


def handler(event: dict[str, Any], context: Any) -> Verdict:
    """Check the new version, then report `Succeeded` or `Failed` to CodeDeploy; return it."""
    status: Verdict = SUCCEEDED
    try:
        settings = get_settings()
        logger.info("Checking the new version %s before it takes traffic", settings.new_version)
        run_checks(get_lambda_client(), settings.new_version, settings.stack_api_key_id)
    except Exception:
        # Whatever went wrong, the deployment must hear of it now rather than in an hour.
        logger.exception("The new version failed its pre-traffic checks")
        status = FAILED
    # If this call fails, the hook raises: Lambda runs an asynchronous invocation again (twice),
    # and the checks with it.
    get_codedeploy_client().put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"],
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status=status,
    )
    logger.info("Reported %s to CodeDeploy (deployment %s)", status, event["DeploymentId"])
    return status
