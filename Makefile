# One command for each routine job, the same locally and in CI. Python >= 3.11 is the only
# prerequisite: Node.js 24 comes from PyPI into .venv, the CDK CLI from npm into node_modules.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
# The CDK CLI must not try to reach the internet for notices or telemetry during routine jobs.
CDK := cdk --no-notices

.PHONY: help setup demo synth test review lint typecheck format bench clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

setup: $(VENV)/.installed node_modules/.installed  ## create .venv and node_modules (idempotent)

$(VENV)/.installed: requirements.txt requirements-dev.txt container/requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required, found " + sys.version)'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

node_modules/.installed: package.json package-lock.json $(VENV)/.installed
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# checkov pins an old boto3, so it lives in a virtual environment of its own (tests/test_checkov.py).
CHECKOV_VENV := .checkov-venv
CHECKOV_VERSION := 3.3.30
$(CHECKOV_VENV)/.installed: Makefile
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check checkov==$(CHECKOV_VERSION)
	@touch $@

demo: setup  ## run the whole system on this machine (no AWS account): train, score, promote, serve (docs/demo.md)
	python -m scripts.demo

synth: setup  ## synthesize every environment into cdk.out/
	$(CDK) synth --quiet
	@ls -d cdk.out/assembly-*

test: lint typecheck $(CHECKOV_VENV)/.installed  ## lint, type-check and run every test, then review the change (cdk.out/review.md)
	pytest
	python -m review --output cdk.out/review.md

review: setup  ## what CloudFormation would add, change or replace per environment (BASE=<git ref or cdk.out dir>)
	python -m review $(if $(BASE),$(if $(wildcard $(BASE)/assembly-*),--base-dir,--base) $(BASE),)

lint: setup  ## ruff lint and format check
	ruff check .
	ruff format --check .

typecheck: setup  ## mypy
	mypy

format: setup  ## format and fix what ruff can
	ruff format .
	ruff check --fix .

bench: setup  ## run the benchmarks, write benchmarks/results.json and the table in benchmarks/README.md
	python benchmarks/platform_bench.py
	python benchmarks/container_bench.py
	python benchmarks/container_distributed.py

clean:  ## remove what setup and synth created
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache
