"""Events and the context object in the shape AWS gives them to a handler, from tests/events/."""

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

EVENTS = Path(__file__).parent / "events"


def load_event(name: str) -> dict[str, Any]:
    """A sample event from `tests/events/`, as AWS sends it."""
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def rest_event(
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    api_key_id: str | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy event for one request, from the caller with `api_key_id`."""
    event = load_event("apigw_rest_proxy.json")
    for name, value in (headers or {}).items():
        event["headers"][name] = value
        event["multiValueHeaders"][name] = [value]
    if api_key_id is not None:
        event["requestContext"]["identity"]["apiKeyId"] = api_key_id
    event["httpMethod"] = event["requestContext"]["httpMethod"] = method
    event["path"] = path
    event["pathParameters"] = {"proxy": path.lstrip("/")}
    event["requestContext"]["path"] = f"/{event['requestContext']['stage']}{path}"
    if body is not None:
        event["body"] = json.dumps(body)
        event["headers"]["Content-Type"] = "application/json"
        event["multiValueHeaders"]["Content-Type"] = ["application/json"]
    return event


def sqs_event(*bodies: str, queue_arn: str | None = None) -> dict[str, Any]:
    """An SQS event with one record per body, each with its own message id."""
    sample = load_event("sqs_event.json")["Records"][0]
    records = []
    for body in bodies:
        record = copy.deepcopy(sample)
        record["messageId"] = str(uuid4())
        record["body"] = body
        if queue_arn is not None:
            record["eventSourceARN"] = queue_arn
        records.append(record)
    return {"Records": records}


@dataclass
class LambdaContext:
    """A stand-in for the context object Lambda passes to a handler."""

    function_name: str = "enrollment-test"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:enrollment-test"
    memory_limit_in_mb: int = 512
    aws_request_id: str = "6f1c1a3e-4b8a-4f9e-9c6d-2a7e0b1d3c5f"
    log_group_name: str = "/aws/lambda/enrollment-test"
    log_stream_name: str = "2026/11/25/[$LATEST]0123456789abcdef"
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return 10_000
