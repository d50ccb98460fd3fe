"""Each operation declared once, beside its route: who may call it, and what a call of it looks
like, with the AWS calls it makes and their answers.

A route's `openapi_extra` is its `Operation`: FastAPI puts what it holds (`x-scopes`, the scopes)
in the OpenAPI document, and `authorize` enforces them; its samples stay out of the document.
From the samples of every route come, without another list to keep in step:

- the SnapStart priming, which serves each sample with its answers stubbed
  (app/entrypoints/priming.py);
- the IAM test, which serves each sample on the emulated stack and holds every AWS call to the
  function's policy (tests/infra/test_iam_calls.py);
- the warm benchmark, which times each sample through the handler against the same calls made
  directly (bench/warm.py).

`create_app` refuses a route without one (`check_declared`).
"""

from collections.abc import Sequence
from typing import Any, NamedTuple

from fastapi import APIRouter
from fastapi.routing import APIRoute

from app.adapters.samples import AwsCall
from app.domain.clients import Scope

# An operation's OpenAPI entry names the scopes it needs: one declaration, which the document
# states and `authorize` enforces.
SCOPES_KEY = "x-scopes"


class Sample(NamedTuple):
    """A request of an operation, as the stack's own key sends it, and the AWS calls it makes."""

    method: str
    path: str
    body: Any = None
    headers: dict[str, str] = {}  # noqa: RUF012 (never mutated)
    calls: tuple[AwsCall, ...] = ()
    status: int = 200


class DeclaredSample(NamedTuple):
    """A sample, and the path of the route that declares it."""

    route: str
    sample: Sample

    @property
    def name(self) -> str:
        """How the priming's log and the benchmark's rows name it: `POST /enrollments with a
        key`, `GET /enrollments?status=PENDING`."""
        keyed = any(name.lower() == "idempotency-key" for name in self.sample.headers)
        _, mark, query = self.sample.path.partition("?")
        return f"{self.sample.method} {self.route}{mark}{query}" + (" with a key" if keyed else "")


class Operation(dict[str, Any]):
    """An operation's declaration: the scopes that may call it, as its OpenAPI extension, and
    one or more sample calls of it."""

    def __init__(self, *scopes: Scope, samples: Sequence[Sample]) -> None:
        super().__init__({SCOPES_KEY: list(scopes)})
        self.scopes = scopes
        self.samples = tuple(samples)


def operation_of(route: object) -> Operation | None:
    """The declaration of a route, if it has one."""
    extra = getattr(route, "openapi_extra", None)
    return extra if isinstance(extra, Operation) else None


def check_declared(router: APIRouter) -> None:
    """Raise `ValueError` if an operation of `router` has no declaration with scopes and samples.

    `create_app` calls it for each router: an operation added without its declaration stops the
    init, rather than be refused to every caller, primed by nothing and tested by nothing.
    """
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        declared = operation_of(route)
        if declared is None or not declared.scopes or not declared.samples:
            methods = ", ".join(sorted(route.methods or ()))
            raise ValueError(
                f"{methods} {route.path} has no Operation with its scopes and a sample: "
                "declare one (app/api/operations.py)"
            )


def declared_samples(routes: Sequence[object]) -> list[DeclaredSample]:
    """Every sample of every declared operation among `routes`, in their order."""
    return [
        DeclaredSample(str(getattr(route, "path", "")), sample)
        for route in routes
        if (declared := operation_of(route)) is not None
        for sample in declared.samples
    ]
