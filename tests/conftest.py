"""Shared fixtures: the cdk.json context, and every environment synthesized once per test session."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from config import AppConfig, load_config
from stacks import build_app

ROOT = Path(__file__).resolve().parent.parent
# A fixed, obviously fake account, so that templates do not depend on whoever runs the tests.
TEST_ACCOUNT = "123456789012"


def cdk_context() -> dict[str, Any]:
    """The feature flags of cdk.json, which the CDK CLI passes to app.py: tests synthesize alike."""
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


@dataclass(frozen=True)
class Synthesized:
    """The app as `cdk synth` builds it, and its templates by environment and stack id."""

    config: AppConfig
    outdir: Path
    templates: dict[str, dict[str, dict[str, Any]]]

    def template(self, environment: str, stack: str = "Platform") -> dict[str, Any]:
        return self.templates[environment][stack]


def synthesize(config: AppConfig, outdir: Path) -> Synthesized:
    """Build and synthesize the whole app (cdk-nag included) into `outdir`."""
    app, stages = build_app(config, context=cdk_context(), outdir=str(outdir))
    app.synth()
    templates: dict[str, dict[str, dict[str, Any]]] = {}
    for name, stage in stages.items():
        assembly = stage.synth()
        templates[name] = {
            stack.node.id: assembly.get_stack_artifact(stack.artifact_id).template
            for stack in stage.node.children
            if isinstance(stack, cdk.Stack)
        }
    return Synthesized(config=config, outdir=outdir, templates=templates)


@pytest.fixture(scope="session")
def app_config() -> AppConfig:
    return load_config(default_account=TEST_ACCOUNT)


@pytest.fixture(scope="session")
def synthesized(app_config: AppConfig, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(app_config, tmp_path_factory.mktemp("cdk.out"))


def new_stack(account: str = TEST_ACCOUNT, region: str = "us-east-1") -> cdk.Stack:
    """An empty stack in an app with the project's feature flags, for testing one construct."""
    app = cdk.App(context=cdk_context())
    return cdk.Stack(app, "Test", env=cdk.Environment(account=account, region=region))


@pytest.fixture
def stack() -> cdk.Stack:
    return new_stack()


@pytest.fixture
def container_directory(tmp_path: Path) -> Path:
    """A minimal Docker build context (construct tests need a Dockerfile, not the real image)."""
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    return tmp_path
