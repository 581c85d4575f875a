"""Shared fixtures: the app configuration, every environment synthesized once per session, a stack.

Helpers that are not fixtures live in tests/helpers.py; the names below stay importable from here
for the modules that still do.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest

from config import AppConfig, load_config
from tests.helpers import ROOT, TEST_ACCOUNT, Synthesized, cdk_context, new_stack, synthesize

__all__ = ["ROOT", "TEST_ACCOUNT", "Synthesized", "cdk_context", "new_stack", "synthesize"]


@pytest.fixture(scope="session")
def app_config() -> AppConfig:
    return load_config(default_account=TEST_ACCOUNT)


@pytest.fixture(scope="session")
def synthesized(app_config: AppConfig, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(app_config, tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture
def stack() -> cdk.Stack:
    return new_stack()


@pytest.fixture
def container_directory(tmp_path: Path) -> Path:
    """A minimal Docker build context (construct tests need a Dockerfile, not the real image)."""
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    return tmp_path


# Tests that share a session's server or deployment run on one worker when `make app-test` spreads the
# suite over the machine's cores (pytest-xdist, --dist loadgroup): a directory of them is one group, any
# other file is a group of its own, so module fixtures are never built twice.
_ONE_WORKER_DIRECTORIES = ("e2e", "emulator")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests = Path(__file__).parent
    for item in items:
        relative = item.path.relative_to(tests)
        group = relative.parts[0] if relative.parts[0] in _ONE_WORKER_DIRECTORIES else relative.as_posix()
        item.add_marker(pytest.mark.xdist_group(group))
