"""The HTTP API: the app factory, routers, dependencies, middleware, security, idempotency, docs,
and the one mapping of domain errors to HTTP."""
