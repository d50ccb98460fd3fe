# Every target sets up what it needs: on a fresh clone, `make run` and `make test` just work.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .uv/bin/uv
VENV := .venv
BIN := $(VENV)/bin
# uv never downloads a Python of its own: the machine's python3 (>= 3.11) is used.
export UV_PYTHON_DOWNLOADS := never

.PHONY: help install run test lint typecheck pytest clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --extra dev --python $(PYTHON)
	@touch $@

install: $(VENV)/.installed ## Create .venv with the project and its dev tools (from uv.lock)

run: install ## Start the whole service locally (API, AWS emulator, queue poller)
	@echo "make run is coming: see README"; exit 1

lint: install ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install ## mypy --strict
	$(BIN)/mypy

pytest: install ## The test suite
	$(BIN)/pytest

test: lint typecheck pytest ## Everything CI checks

clean: ## Remove the virtual environments and build output
	rm -rf .uv $(VENV) .aws-sam .mypy_cache .ruff_cache .pytest_cache
