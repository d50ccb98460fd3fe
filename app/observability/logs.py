"""The ids every log line of a request or of a record carries: its request id, and what it concerns.

The ids live in a context variable, so they follow the work wherever it runs: into worker threads
(Starlette's `run_in_threadpool` and `asyncio.to_thread` copy the context), while concurrent
requests and records (each an asyncio task, with its own copy of the context) keep theirs apart.
A log record factory copies them onto every record as attributes. On Lambda the runtime's JSON
formatter writes a record's extra attributes as fields; locally `local.process` appends them to
each line.

A bound id is an attribute of every record, so it must not also be passed in `extra`: `logging`
refuses to overwrite an attribute.
"""

import logging
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

# The fields, in the order the local log lines show them.
CONTEXT_FIELDS = ("request_id", "enrollment_id", "message_id")

# Read-only: each `bind` sets a new mapping, so a copied context never sees later bindings.
_context: ContextVar[MappingProxyType[str, str]] = ContextVar(
    "log_context", default=MappingProxyType({})
)


def bind(**ids: str) -> None:
    """Add ids to the log lines of the current request or record, from here on."""
    _context.set(MappingProxyType({**_context.get(), **ids}))


def current_request_id() -> str | None:
    """The request id bound to the current request or record, if any."""
    return _context.get().get("request_id")


class _ContextRecordFactory:
    """Wraps the record factory in place (the runtime's or another library's) and adds the ids."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self.wrapped(*args, **kwargs)
        for name, value in _context.get().items():
            setattr(record, name, value)
        return record


def install_log_context() -> None:
    """Put the bound ids on every log record of this process (once, however often it is called)."""
    factory = logging.getLogRecordFactory()
    if not isinstance(factory, _ContextRecordFactory):
        logging.setLogRecordFactory(_ContextRecordFactory(factory))
