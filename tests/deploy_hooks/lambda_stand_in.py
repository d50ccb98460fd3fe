"""Lambda's Invoke, answered in this process by a handler, over a real botocore client.

The hook's own Lambda client sends the request (botocore builds and signs it as it would for
AWS); a `before-send` event hook answers it by running a handler in this process, and the
answer comes back in Lambda's HTTP shape (the payload as the body, a function error in
`X-Amz-Function-Error`), which botocore parses as it parses Lambda's.
"""

import io
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HTTPHeaders

from local.aws_shapes import LambdaContext

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

Function = Callable[[dict[str, Any], Any], Any]


class _RawBody(io.BytesIO):
    """The urllib3-like body botocore reads a response from (streamed, or read whole)."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


class InProcessLambda:
    """A `before-send` hook that answers each Invoke with `function(event, context)`."""

    def __init__(self, function: Function) -> None:
        self.function = function
        # Each invocation's FunctionName (the qualified ARN) and event, in order.
        self.invoked: list[str] = []
        self.events: list[dict[str, Any]] = []

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        # .../2015-03-31/functions/<FunctionName, percent-encoded>/invocations
        name = unquote(request.url.split("/functions/", 1)[1].split("/invocations", 1)[0])
        # botocore calls every `before-send` hook and takes the first answer; moving the URL keeps
        # moto's hook from serving the request too.
        request.url = "https://refused.invalid/"
        body = request.body
        event = json.loads(body if isinstance(body, bytes | str) else b"null")
        self.invoked.append(name)
        self.events.append(event)
        headers = HTTPHeaders()
        try:
            payload = json.dumps(self.function(event, LambdaContext())).encode()
        except Exception as exc:
            # What Lambda answers when a handler raises: 200, the error as the payload.
            error = {"errorMessage": str(exc), "errorType": type(exc).__name__}
            payload = json.dumps(error).encode()
            headers["X-Amz-Function-Error"] = "Unhandled"
        headers["Content-Type"] = "application/json"
        headers["Content-Length"] = str(len(payload))
        headers["X-Amz-Executed-Version"] = name.rsplit(":", 1)[-1]
        return AWSResponse(request.url, 200, headers, _RawBody(payload))


@contextmanager
def answering_invoke(client: "LambdaClient", function: Function) -> Iterator[InProcessLambda]:
    """While inside, `client`'s invocations run `function` here; yields what it was sent."""
    stand_in = InProcessLambda(function)
    # botocore's stubs type a hook as returning None; a `before-send` hook may return an answer.
    hook: Callable[..., Any] = stand_in
    client.meta.events.register_first("before-send.lambda.Invoke", hook)
    try:
        yield stand_in
    finally:
        client.meta.events.unregister("before-send.lambda.Invoke", hook)
