# tokengate: `make run` starts the local stack, `make test` runs every check.
# Both bootstrap what they need on a fresh machine (virtualenv, Python packages, the CDK CLI).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp
LAMBDA_DEPS := build/lambda-deps/.installed-stamp
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install lambda-deps run test lint typecheck unit pytest infra-gates synth deploy destroy bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,infra]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## Wheels a function needs beyond the runtime and the layer, for arm64 Lambda (infra/bundle.py).
$(LAMBDA_DEPS): $(STAMP) infra/bundle.py
	$(PY) -m infra.bundle
	touch $@

lambda-deps: $(LAMBDA_DEPS)

install: $(STAMP) $(NODE_STAMP) $(LAMBDA_DEPS)

## The local stack: the whole API on 127.0.0.1:$${TOKENGATE_PORT:-8080}/dev, no AWS account needed.
run: $(STAMP)
	$(BIN)/tokengate local

## Every check: lint, types, CDK gates, tests.
test: install lint typecheck infra-gates pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy services tokengate infra tests bench

pytest: $(STAMP) $(LAMBDA_DEPS)
	$(BIN)/pytest -n 2 --dist loadgroup

## CDK: synth (offline, no Docker) with cdk-nag, then cfn-lint on the template.
infra-gates: install
	$(MAKE) --no-print-directory synth
	$(BIN)/cfn-lint cdk.out/*.template.json

synth: install
	PATH="$(abspath $(BIN)):$$PATH" npx cdk synth --quiet

deploy: install
	PATH="$(abspath $(BIN)):$$PATH" npx cdk deploy

destroy: install
	PATH="$(abspath $(BIN)):$$PATH" npx cdk destroy

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache build
