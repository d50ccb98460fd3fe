"""A stand-in for the context object Lambda passes to a handler."""

from dataclasses import dataclass
from typing import Any


@dataclass
class LambdaContext:
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
