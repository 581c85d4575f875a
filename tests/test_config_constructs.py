"""A rule only a construct knows still stops synthesis as a ConfigError naming the environment (app.py)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from app import build
from config import AppConfig, ConfigError, EnvironmentName, ServerlessSettings, parse_config
from config.settings import DEFAULT_CONFIG_FILE
from tests.conftest import TEST_ACCOUNT, cdk_context
from tests.helpers import cases, serverless_endpoint, set_at


def test_a_construct_error_names_the_environment_and_the_construct(app_config: AppConfig, tmp_path: Path) -> None:
    # GIVEN dev's settings with a serverless memory size the endpoint construct refuses, slipped past
    # the configuration's validation (model_copy does not validate), as a rule it lacks would
    dev = app_config.environment("dev")
    serverless = ServerlessSettings(memory_size_mb=2048, max_concurrency=5).model_copy(update={"memory_size_mb": 1500})
    endpoint = dev.endpoint.model_copy(update={"serverless": serverless, "inference_component": None})
    broken = dev.model_copy(update={"endpoint": endpoint})
    config = app_config.model_copy(update={"environments": {EnvironmentName.DEV: broken}})
    # WHEN app.py builds the stacks
    with pytest.raises(ConfigError) as error:
        build(config, context=cdk_context(), outdir=str(tmp_path))
    # THEN the construct's ValueError comes out as a ConfigError naming the environment, the construct
    # and the field, with the original error chained
    message = str(error.value)
    assert re.match(r"environment 'dev': (\w+ )?Dev/Inference/", message), message
    assert "serverless memory_size_mb must be one of 1024, 2048" in message
    assert isinstance(error.value.__cause__, ValueError)


# Mistakes the configuration's validation leaves to the constructs (their rules are written once, there).
# One row a mistake: its id, the environment, the field it sets there, the value, and the error it must give.
CONSTRUCT_RULES = [
    (
        "capture-on-serverless",
        "dev",
        "endpoint",
        {**serverless_endpoint(), "data_capture_percentage": 10},
        r"environment 'dev': (\w+ )?Dev/Inference/Endpoint: data_capture_percentage must be 0 with a serverless",
    ),
    (
        "autoscaling-on-serverless",
        "dev",
        "endpoint",
        {
            **serverless_endpoint(),
            "autoscaling": {"min_capacity": 1, "max_capacity": 2, "max_requests_per_second": 100},
        },
        r"environment 'dev': (\w+ )?Dev/Inference/AutoScaling: autoscaling is not supported on a serverless variant",
    ),
    (
        "weights",
        "staging",
        "endpoint.variants.0.weight",
        0.5,
        r"environment 'staging': (\w+ )?Staging/Inference/Endpoint: variant weights must add up to 1\.0, got 0\.5",
    ),
    (
        "autoscaling-on-burstable",
        "staging",
        "endpoint.variants.0.instance_type",
        "ml.t2.medium",
        r"environment 'staging': (\w+ )?Staging/Inference/AutoScaling: autoscaling is not supported on burstable",
    ),
    (
        "canary-step-too-large",
        "staging",
        "endpoint.deployment.step_value",
        2,
        r"environment 'staging': (\w+ )?Staging/Inference/Endpoint: traffic_shifting: a canary step of 2 instance\(s\)",
    ),
]


@pytest.mark.parametrize(("environment", "path", "value", "message"), cases(*CONSTRUCT_RULES))
def test_a_mistake_only_a_construct_knows_names_the_environment(
    environment: str, path: str, value: Any, message: str, tmp_path: Path
) -> None:
    # GIVEN the shipped configuration with a mistake it accepts, for one environment
    raw: dict[str, Any] = tomllib.loads(DEFAULT_CONFIG_FILE.read_text())
    set_at(raw["environments"][environment], path, value)
    config = parse_config(raw, default_account=TEST_ACCOUNT)
    name = EnvironmentName(environment)
    config = config.model_copy(update={"environments": {name: config.environments[name]}})
    # WHEN app.py builds its stacks THEN the construct's error names the environment and the construct
    with pytest.raises(ConfigError, match=message):
        build(config, context=cdk_context(), outdir=str(tmp_path))
