"""Shared fixtures: the app configuration, every environment synthesized once per session, a stack.

Helpers that are not fixtures live in tests/helpers.py; the names below stay importable from here
for the modules that still do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from xdist.scheduler import LoadFileScheduling

from config import AppConfig, load_config
from review.synth import synthesize as review_synthesize
from tests.helpers import ROOT, TEST_ACCOUNT, Synthesized, cdk_context, new_stack, synthesize

__all__ = ["ROOT", "TEST_ACCOUNT", "Synthesized", "cdk_context", "new_stack", "synthesize"]


@pytest.fixture(scope="session")
def app_config() -> AppConfig:
    return load_config(default_account=TEST_ACCOUNT)


@pytest.fixture(scope="session")
def synthesized(app_config: AppConfig, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(app_config, tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def cli_synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This working tree's cloud assembly, synthesized as `cdk synth` and the review CLI run app.py (a process of its
    own, the CLI's context, no credentials). Read it; a test that changes it works on a copy."""
    outdir = tmp_path_factory.mktemp("cli-synth") / "cdk.out"
    review_synthesize(ROOT, outdir, what="the working tree")
    return outdir


@pytest.fixture
def stack() -> cdk.Stack:
    return new_stack()


@pytest.fixture
def container_directory(tmp_path: Path) -> Path:
    """A minimal Docker build context (construct tests need a Dockerfile, not the real image)."""
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    return tmp_path


# `make app-test` spreads the suite over the machine's cores (pytest-xdist, `--dist loadfile`): each test file
# runs whole on one worker, so module fixtures are built once, and so do the directories whose tests share a
# session's server or deployment (one e2e environment, one emulated deployment), so those are built once too.
# pytest-xdist's own `--dist loadgroup` cannot express it: with pytest 9 its group suffix no longer reaches the
# test ids it schedules by (xdist 3.8.0 sets `Item._nodeid`, which pytest 9 derives `nodeid` without).
_ONE_WORKER_DIRECTORIES = ("tests/e2e/", "tests/emulator/")
# Files that share a session fixture costlier than the scheduling freedom they give up (cli_synth).
_ONE_WORKER_FILES = {"tests/test_determinism.py": "cli_synth", "tests/review/test_cli.py": "cli_synth"}


class _FileOrDirectoryScheduling(LoadFileScheduling):  # type: ignore[misc]  # xdist has no type hints
    def _split_scope(self, nodeid: str) -> str:
        scope = super()._split_scope(nodeid)
        return next((d for d in _ONE_WORKER_DIRECTORIES if nodeid.startswith(d)), _ONE_WORKER_FILES.get(scope, scope))


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadFileScheduling | None:
    return _FileOrDirectoryScheduling(config, log) if config.getvalue("dist") == "loadfile" else None
