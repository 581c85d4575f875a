"""The staging environment (quality gate, managed spot training) deployed into the local SageMaker, once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local_sagemaker.deploy import DeployedStack, bootstrap, deploy, stack_artifacts
from local_sagemaker.server import start_moto_server
from tests.conftest import Synthesized
from tests.declared import EXAMPLE
from tests.e2e.pipeline import Environment
from tests.helpers import register_approved_version

ENVIRONMENT, STAGE = "staging", "Staging"


@pytest.fixture(scope="session")
def staging(synthesized: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    log = tmp_path_factory.mktemp("local-sagemaker") / "server.log"
    server = start_moto_server(module="local_sagemaker", log=log)
    try:
        artifacts = stack_artifacts(synthesized.outdir, STAGE)
        bootstrap(server, artifacts)
        outputs: dict[str, dict[str, str]] = {}
        stacks: dict[str, DeployedStack] = {}
        for artifact in artifacts:
            stack_id = artifact.stack_name.split("-", 1)[1]
            if stack_id == "Inference":  # the shipped pin names version 1: it must exist, approved
                register_approved_version(server, stacks["Platform"].outputs)
            stacks[stack_id] = deploy(server, artifact, outputs)
        environment = Environment(server, stacks, ENVIRONMENT, log, f"{synthesized.config.app_name}-{ENVIRONMENT}")
        # The pinned version names a trained model, as it does once deployed: the pipeline scores with it.
        pin = synthesized.config.environment(ENVIRONMENT).endpoint.package
        if pin is not None:
            data = environment.upload("e2e/pinned", rows=300, seed=21)
            environment.serve_version(pin.version, environment.train_directly("e2e-pinned-model", data, EXAMPLE))
        yield environment
    finally:
        server.stop()
