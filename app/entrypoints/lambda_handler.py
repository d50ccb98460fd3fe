"""The Lambda entry point of the API: Mangum, running the app's blocking calls inline."""

from typing import Any

from mangum import Mangum

from app.api.concurrency import inline_blocking_calls


class LambdaHandler:
    """`handler(event, context)`: one API Gateway event through the app, as Mangum runs it."""

    def __init__(self, mangum: Mangum) -> None:
        self._mangum = mangum

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        # Mangum runs the app in a task created from this context, so the task sees the flag.
        with inline_blocking_calls():
            response: dict[str, Any] = self._mangum(event, context)
        return response
