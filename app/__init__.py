"""The service: its domain, the adapters to AWS, the HTTP API, and the Lambda entry points.

Layers, outermost first (each imports only those below it; `make test` checks it, see
`[tool.importlinter]` in pyproject.toml): `main` and `entrypoints`, `api`, `adapters`, `domain`,
`observability`, `config`.
"""
