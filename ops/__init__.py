"""Operator tools that ship with the service as console scripts: `enrollment-clients` and the
smoke test. They run against deployed stacks from an installed wheel, so they import neither the
development stack (`local`), nor the benchmarks, nor the emulator: the contract in
pyproject.toml and tests/ops check it."""
