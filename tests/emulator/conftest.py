"""The emulator (moto in server mode), and every environment deployed into it once per session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from local_sagemaker import adaptations
from local_sagemaker.deploy import DeployedStack, bootstrap, deploy, stack_artifacts
from local_sagemaker.server import MotoServer, start_moto_server
from tests.conftest import Synthesized
from tests.helpers import register_approved_version

STAGES = {"dev": "Dev", "staging": "Staging", "prod": "Prod"}


@dataclass(frozen=True)
class DeployedApp:
    """The emulator and what was deployed into it, by environment and stack id."""

    server: MotoServer
    stacks: dict[str, dict[str, DeployedStack]]

    def stack(self, environment: str, stack_id: str) -> DeployedStack:
        return self.stacks[environment][stack_id]


def deploy_environment(
    server: MotoServer, synthesized: Synthesized, environment: str, outputs: dict[str, dict[str, str]]
) -> dict[str, DeployedStack]:
    artifacts = stack_artifacts(synthesized.outdir, STAGES[environment])
    bootstrap(server, artifacts)
    stacks: dict[str, DeployedStack] = {}
    for artifact in artifacts:
        stack_id = artifact.stack_name.split("-", 1)[1]
        if stack_id == "Inference" and synthesized.config.environment(environment).endpoint.package:
            register_approved_version(server, stacks["Platform"].outputs)  # the shipped pin's version 1
        stacks[stack_id] = deploy(server, artifact, outputs)
    return stacks


def _running_moto_server() -> Iterator[MotoServer]:
    # moto, and the inference components it lacks (dev hosts one): no container runs.
    server = start_moto_server(module="local_sagemaker.moto_with_components")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    yield from _running_moto_server()


@pytest.fixture(scope="session")
def deployed(moto_server: MotoServer, synthesized: Synthesized) -> DeployedApp:
    """Every environment's stacks, deployed once (the adaptations are printed with `pytest -s`)."""
    print(f"\nEmulated deployment adaptations (local_sagemaker/adaptations.py):\n{adaptations.summary()}")  # noqa: T201
    outputs: dict[str, dict[str, str]] = {}
    stacks = {env: deploy_environment(moto_server, synthesized, env, outputs) for env in STAGES}
    for env, by_id in stacks.items():
        for stack_id, stack in by_id.items():
            removed = ", ".join(f"{k} ({t})" for k, t in sorted(stack.adapted.removed.items()))
            print(f"{env} {stack_id}: removed from the copy: {removed or 'nothing'}")  # noqa: T201
    return DeployedApp(moto_server, stacks)


@pytest.fixture
def fresh_server() -> Iterator[MotoServer]:
    """A moto server of its own, for a test that changes or deletes what it deployed."""
    yield from _running_moto_server()
