"""Make an AWS call fail the way AWS fails, for fault-injection tests.

The SDK retries a failed call as on Lambda (`CLIENT_CONFIG`: three attempts in all) and waits
between attempts as it does there: up to 1 s, then up to 2 s, when AWS throttles. botocore has
no setting for that wait (a client's `retries` take a mode and a number of attempts), and its
backoff is not patched (no library is): a test that throttles every attempt takes 1.5 s more on
average.
"""

import json
from collections.abc import Callable
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from app.adapters.aws import get_dynamodb_client

THROTTLING = {
    "dynamodb": ("com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"),
    "sqs": "com.amazonaws.sqs#ThrottlingException",
}


class _RawBody:
    """The file-like body botocore reads a response from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def throttled_response(service: str, status: int = 400) -> AWSResponse:
    """An HTTP response in which AWS says the caller is throttled."""
    return error_response(THROTTLING[service], "Rate exceeded", status)


def error_response(error_type: str, message: str, status: int) -> AWSResponse:
    """An HTTP response in which AWS (its JSON protocol) answers with an error."""
    body = json.dumps({"__type": error_type, "message": message}).encode()
    headers = HTTPHeaders()
    headers["Content-Type"] = "application/x-amz-json-1.0"
    return AWSResponse("https://aws.invalid/", status, headers, _RawBody(body))


def unavailable(**kwargs: Any) -> None:
    """The endpoint cannot be reached at all."""
    raise EndpointConnectionError(endpoint_url="https://aws.invalid/")


def timed_out(**kwargs: Any) -> None:
    """The request was sent, but no answer came in time (it may or may not have taken effect)."""
    raise ReadTimeoutError(endpoint_url="https://aws.invalid/")


def applied_then_timed_out(apply: Callable[[dict[str, Any]], object]) -> Callable[..., None]:
    """A `before-send` hook: the first attempt takes effect, but its answer never comes.

    `apply` performs the request's parameters (its JSON body) out of band; the SDK then sees a
    read timeout and retries, and the retries reach the emulator as usual.
    """
    attempts: list[object] = []

    def hook(request: Any, **_: Any) -> None:
        if not attempts:
            attempts.append(apply(json.loads(request.body)))
            timed_out()

    return hook


def answering(response: Callable[[], AWSResponse], calls: list[str]) -> Callable[..., AWSResponse]:
    """A `before-send` hook that answers every attempt with `response()` and counts attempts.

    botocore calls every `before-send` hook and takes the first answer, so moto would still apply
    the request; pointing it elsewhere keeps moto from seeing it, as if AWS had refused it.
    """

    def hook(request: Any, **_: Any) -> AWSResponse:
        calls.append(request.url)
        request.url = "https://refused.invalid/"
        return response()

    return hook


def take_effect_then_time_out(operation: str) -> None:
    """The first attempt of the app's next DynamoDB `operation` takes effect; its answer is lost."""
    direct = boto3.client("dynamodb")
    calls: dict[str, Callable[..., object]] = {
        "PutItem": direct.put_item,
        "DeleteItem": direct.delete_item,
        "TransactWriteItems": direct.transact_write_items,
    }
    apply = calls[operation]
    get_dynamodb_client().meta.events.register_first(
        f"before-send.dynamodb.{operation}", applied_then_timed_out(lambda p: apply(**p))
    )
