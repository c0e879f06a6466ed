# tokengate: `make run` starts the local stack, `make test` runs every check.
# Both bootstrap what they need on a fresh machine (virtualenv, Python packages, the CDK CLI), each
# from a lockfile with hashes: requirements/run.txt (what running needs) and requirements/dev.txt
# (run + tests, linters, the CDK). `make lock` rewrites both from pyproject.toml.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
RUN_LOCK := requirements/run.txt
DEV_LOCK := requirements/dev.txt
RUN_STAMP := $(VENV)/.run-stamp
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp
#: Only to rewrite the lockfiles: uv resolves for every platform and Python version at once.
UV_VERSION := 0.13.9
LAMBDA_DEPS := build/lambda-deps/.installed-stamp
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install lambda-deps browser-deps run test lint typecheck unit pytest coverage deadcode infra-gates synth bootstrap deploy destroy bench docs lock clean console-vendor console-screenshots

# The exact pins of the run lock, then tokengate itself (editable, built with the locked setuptools).
$(RUN_STAMP): $(RUN_LOCK) pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) --require-hashes --no-deps -r $(RUN_LOCK)
	$(PIP) --no-deps --no-build-isolation -e .
	touch $@

$(STAMP): $(DEV_LOCK) $(RUN_STAMP)
	$(PIP) --require-hashes --no-deps -r $(DEV_LOCK)
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## Wheels a function needs beyond the runtime and the layer, for arm64 Lambda (infra/bundle.py).
$(LAMBDA_DEPS): $(STAMP) infra/bundle.py
	$(PY) -m infra.bundle
	touch $@

lambda-deps: $(LAMBDA_DEPS)

## Debian's chromium for the console's browser tests; Playwright drives it and downloads no browser.
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser-deps:
	@test -x $(CHROMIUM) || { $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y chromium chromium-driver; }

install: $(STAMP) $(NODE_STAMP) $(LAMBDA_DEPS)

## The local stack: the whole API on 127.0.0.1:$${TOKENGATE_PORT:-8080}/dev, no AWS account needed.
run: $(RUN_STAMP)
	$(BIN)/tokengate local

## Every check: lint, types, dead code, CDK gates, tests with the coverage floor.
test: install lint typecheck deadcode infra-gates pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy services tokengate infra tests bench

deadcode: $(STAMP)
	$(BIN)/vulture

pytest: $(STAMP) $(LAMBDA_DEPS) browser-deps
	$(BIN)/pytest -n 2 --dist loadgroup --cov --cov-report=term:skip-covered

## CDK: synth (offline, no Docker) with cdk-nag, then cfn-lint on the template.
infra-gates: install
	$(MAKE) --no-print-directory synth
	$(BIN)/cfn-lint cdk.out/*.template.json

synth: install
	PATH="$(abspath $(BIN)):$$PATH" npx cdk synth --quiet

## The CDK bootstrap stack, once per account and region, with the pinned CDK CLI and the venv's
## Python (the CLI runs the app to find its environment); BOOTSTRAP_ENV=aws://<account>/<region>
## names one other than the credentials' own.
bootstrap: install
	PATH="$(abspath $(BIN)):$$PATH" npx cdk bootstrap $(BOOTSTRAP_ENV)

deploy: install
	PATH="$(abspath $(BIN)):$$PATH" npx cdk deploy

destroy: install
	PATH="$(abspath $(BIN)):$$PATH" npx cdk destroy

bench: $(STAMP)
	$(PY) -m bench

## docs/scaling.md from the capacity model.
docs: $(RUN_STAMP)
	$(PY) -m tokengate.capacity.scaling_doc

## The console's browser libraries, from node_modules (package.json pins them) into its static/vendor.
console-vendor: $(STAMP) $(NODE_STAMP)
	$(PY) -m tokengate.console.vendor

## docs/console/*.png and their page outlines, from a local stack seeded the same way each time.
console-screenshots: $(STAMP) browser-deps
	$(PY) -m tests.e2e.console.screenshots

## Rewrite both lockfiles from pyproject.toml (the run lock takes the dev lock's versions).
lock: $(RUN_STAMP)
	$(PIP) uv==$(UV_VERSION)
	$(PY) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
	  | $(BIN)/uv pip compile pyproject.toml - --extra dev --extra infra $(LOCK_FLAGS) -o $(DEV_LOCK)
	$(PY) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
	  | $(BIN)/uv pip compile pyproject.toml - -c $(DEV_LOCK) $(LOCK_FLAGS) -o $(RUN_LOCK)

LOCK_FLAGS := --universal --generate-hashes --python-version 3.11 --quiet --custom-compile-command "make lock"

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache .coverage build
