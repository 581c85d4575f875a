"""The staging environment (quality gate, managed spot training) deployed into the local SageMaker, once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local_sagemaker.deploy import bootstrap, deploy, stack_artifacts
from local_sagemaker.server import start_moto_server
from tests.conftest import Synthesized
from tests.e2e.pipeline import Environment

ENVIRONMENT, STAGE = "staging", "Staging"


@pytest.fixture(scope="session")
def staging(synthesized: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    log = tmp_path_factory.mktemp("local-sagemaker") / "server.log"
    server = start_moto_server(module="local_sagemaker", log=log)
    try:
        artifacts = stack_artifacts(synthesized.outdir, STAGE)
        bootstrap(server, artifacts)
        outputs: dict[str, dict[str, str]] = {}
        stacks = {a.stack_name.split("-", 1)[1]: deploy(server, a, outputs) for a in artifacts}
        yield Environment(server, stacks, ENVIRONMENT, log, f"{synthesized.config.app_name}-{ENVIRONMENT}")
    finally:
        server.stop()
