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

.PHONY: help install run test test-fast lint typecheck pytest clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --extra dev --python $(PYTHON)
	@touch $@

install: $(VENV)/.installed ## Create .venv with the project and its dev tools (from uv.lock)

run: install ## Start the whole service locally (API, AWS emulator, queue poller)
	$(BIN)/python -m local

.PHONY: soak soak-retries soak-webhooks
soak: install ## Load the local stack: 1000 enrollments, 20 clients, the poller restarted midway
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

soak-retries: install ## The soak with faults injected: retries with an Idempotency-Key, no duplicate
	$(BIN)/python -m bench.soak --retries $(SOAK_ARGS)

soak-webhooks: install ## Webhooks under faults: 200 events, failing receiver, 60 s outage, 0 lost
	$(BIN)/python -m bench.soak_webhooks $(SOAK_ARGS)

# make smoke API_URL=https://... API_KEY=...   any deployment (a stack, a custom domain, make run)
# make smoke STACK=name                        a stack: URL and key from its outputs (AWS credentials)
# SMOKE_READ_ONLY=1: only the key check and reads. SMOKE_MARGIN (s): beyond the Retry-After of the
# enrollment's 202 for it to be PROCESSED. SMOKE_RECEIVER=host:port (and SMOKE_RECEIVER_URL): its
# webhook received there and verified.
.PHONY: smoke
smoke: install ## Check a running deployment end to end from outside (API_URL= API_KEY=, or STACK=)
	$(BIN)/python -m ops.smoke

.PHONY: bench
bench: install ## Measure cold start, warm overhead, processing, webhook latency and cost against floors
	$(BIN)/python -m bench

.PHONY: plan
plan: install ## What to set for RATE enrollments a second (make plan RATE=200), from make bench
	$(BIN)/python -m bench.plan "$(RATE)"

lint: install ## ruff lint and format check, the import contracts of the layers, actionlint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/actionlint

typecheck: install ## mypy --strict
	$(BIN)/mypy

pytest: install ## The test suite
	$(BIN)/pytest

test: lint typecheck pytest ## Everything CI checks

# The tests marked `process` start processes, servers or builds (pyproject.toml); the rest run in
# this process, against moto's in-process mock.
test-fast: install ## ruff and the tests that start no process, server or build
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -m "not process and not browser"

.PHONY: fuzz
fuzz: install ## The property tests (hostile bodies and events, list pages), with many more examples
	$(BIN)/pytest tests/app/test_properties.py tests/app/test_lambda_events.py \
		tests/app/test_list_pages_property.py --hypothesis-profile=fuzz --hypothesis-show-statistics

# Chromium comes from the system's packages: Playwright's own browser download is not used.
.PHONY: test-browser
test-browser: install ## Swagger UI in headless Chromium on the local stack (installs Chromium as root)
	@command -v chromium >/dev/null || { \
		if [[ $$(id -u) == 0 ]] && command -v apt-get >/dev/null; then \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
		else \
			echo "make test-browser needs Chromium: install it (Debian, Ubuntu: sudo apt-get install chromium), then run it again" >&2; \
			exit 1; \
		fi; }
	$(BIN)/pytest -m browser tests/browser -o log_cli=true --log-cli-level=INFO

clean: ## Remove the virtual environments and build output
	rm -rf .uv $(VENV) .aws-sam .mypy_cache .ruff_cache .pytest_cache test-output

# --- The AWS stack: Lambda artifacts and template checks (template.yaml) ---------------------------
# The SAM CLI and checkov pin dependencies that conflict with the project's: each runs from its own
# uv tool environment, pinned here and cached by uv after the first run.
SAM_CLI_VERSION := 1.170.0
CHECKOV_VERSION := 3.2.470
SAM := $(UV) tool run --from aws-sam-cli==$(SAM_CLI_VERSION) sam
CHECKOV := $(UV) tool run --from checkov==$(CHECKOV_VERSION) checkov
# Offline: no telemetry, no download of Prisma Cloud guidelines; the region is only for validation.
export SAM_CLI_TELEMETRY := 0
SAM_BUILD_DIR ?= .aws-sam/build
# Lambda's platform; the build smoke test overrides them to import an artifact on this machine.
LAMBDA_PLATFORM ?= aarch64-manylinux2014
LAMBDA_PYTHON ?= 3.13
BUILD_LAMBDA := UV=$(UV) LAMBDA_PLATFORM=$(LAMBDA_PLATFORM) LAMBDA_PYTHON=$(LAMBDA_PYTHON) \
	scripts/build-lambda.sh

.PHONY: build build-ApiFunction build-ProcessorFunction build-NotifierFunction build-PreTrafficHook \
	check-template deploy deploy-built

build: | $(UV) ## Build the Lambda artifacts (python3.13, arm64) into .aws-sam/build, no Docker
	$(SAM) build --build-in-source --build-dir $(SAM_BUILD_DIR)

# Called by `sam build` (BuildMethod: makefile), which sets ARTIFACTS_DIR.
build-ApiFunction: | $(UV)
	LAMBDA_EXTRAS=api LAMBDA_AWS_SERVICES="dynamodb sqs secretsmanager" \
		$(BUILD_LAMBDA) "$(ARTIFACTS_DIR)" app.main

build-ProcessorFunction: | $(UV)
	LAMBDA_EXTRAS=processor LAMBDA_AWS_SERVICES=dynamodb \
		$(BUILD_LAMBDA) "$(ARTIFACTS_DIR)" processor.handler

build-NotifierFunction: | $(UV)
	LAMBDA_EXTRAS=notifier LAMBDA_AWS_SERVICES="dynamodb sqs" \
		$(BUILD_LAMBDA) "$(ARTIFACTS_DIR)" notifier.handler

# The common dependencies only (no extra): botocore, to invoke the API's new version and report to
# CodeDeploy, and pydantic-settings for its settings.
build-PreTrafficHook: | $(UV)
	LAMBDA_AWS_SERVICES="lambda codedeploy" $(BUILD_LAMBDA) "$(ARTIFACTS_DIR)" deploy_hooks.pre_traffic

# samconfig.toml holds one section per environment: default (a developer's own stack), staging,
# production. The pipeline builds once and deploys that build to each (docs/deploy-pipeline.md).
SAM_CONFIG_ENV ?= default

deploy: build ## sam deploy with samconfig.toml's SAM_CONFIG_ENV section (default, staging, production)
	$(MAKE) --no-print-directory deploy-built

deploy-built: | $(UV) ## sam deploy of .aws-sam/build as it is, to SAM_CONFIG_ENV
	$(SAM) deploy --template-file $(SAM_BUILD_DIR)/template.yaml --config-env $(SAM_CONFIG_ENV)

# Production in two steps, approved in between (docs/deploy-pipeline.md): `change-set` makes the
# change set of the build for SAM_CONFIG_ENV without executing it, writes its id (ARN) to
# CHANGE_SET_ID_FILE, empty when nothing changes, and shows it, appending it to CHANGE_SET_SUMMARY
# if that names a file; `execute-change-set` executes the change set CHANGE_SET, no other, and
# waits for the stack. SAM's JSON output (--output json) names the change set it made.
CHANGE_SET_ID_FILE ?= .aws-sam/change-set-id
CHANGE_SET_SUMMARY ?=

.PHONY: change-set execute-change-set
change-set: install ## Make (not execute) the change set of .aws-sam/build for SAM_CONFIG_ENV; show it
	set -o pipefail; $(SAM) deploy --template-file $(SAM_BUILD_DIR)/template.yaml \
		--config-env $(SAM_CONFIG_ENV) --no-execute-changeset --output json \
		| $(BIN)/python -m scripts.change_set created > "$(CHANGE_SET_ID_FILE)"
	$(BIN)/python -m scripts.change_set describe "$$(cat "$(CHANGE_SET_ID_FILE)")" \
		$(if $(CHANGE_SET_SUMMARY),--markdown-to "$(CHANGE_SET_SUMMARY)")

execute-change-set: install ## Execute the change set CHANGE_SET (its ARN) and wait for its stack
	$(BIN)/python -m scripts.change_set execute "$(CHANGE_SET)"

check-template: | $(UV) ## sam validate --lint and checkov on template.yaml
	AWS_DEFAULT_REGION=us-east-1 $(SAM) validate --lint --template-file template.yaml
	$(CHECKOV) --file template.yaml --framework cloudformation --skip-download --compact --quiet
