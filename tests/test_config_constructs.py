"""A rule only a construct knows still stops synthesis as a ConfigError naming the environment (app.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import build
from config import AppConfig, ConfigError, EnvironmentName
from tests.conftest import cdk_context


def test_a_construct_error_names_the_environment_and_the_construct(app_config: AppConfig, tmp_path: Path) -> None:
    # GIVEN dev's settings with a serverless memory size the endpoint construct refuses, slipped past
    # the configuration's validation (model_copy does not validate), as a rule it lacks would
    dev = app_config.environment("dev")
    assert dev.endpoint.serverless is not None
    serverless = dev.endpoint.serverless.model_copy(update={"memory_size_mb": 1500})
    broken = dev.model_copy(update={"endpoint": dev.endpoint.model_copy(update={"serverless": serverless})})
    config = app_config.model_copy(update={"environments": {EnvironmentName.DEV: broken}})
    # WHEN app.py builds the stacks
    with pytest.raises(ConfigError) as error:
        build(config, context=cdk_context(), outdir=str(tmp_path))
    # THEN the construct's ValueError comes out as a ConfigError naming the environment, the construct
    # and the field, with the original error chained
    message = str(error.value)
    assert message.startswith("environment 'dev': Dev/Inference/")
    assert "serverless memory_size_mb must be one of 1024, 2048" in message
    assert isinstance(error.value.__cause__, ValueError)
