"""The pipeline's jobs without network: training by option (on in staging and prod), transform always."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from config.tuning import ParameterRangeSettings
from sagemaker_constructs import TrainingJobOptions
from sagemaker_constructs.training_pipeline.tuning import TuningOptions
from tests.helpers import Platform, Synthesized, definition, make_pipeline

SUBNET, GROUP = "subnet-0123456789abcdef0", "sg-0123456789abcdef0"


def _states(stack: cdk.Stack, platform: Platform, training: TrainingJobOptions, **more: Any) -> dict[str, Any]:
    make_pipeline(stack, platform, training=training, **more)
    states: dict[str, Any] = definition(Template.from_stack(stack).to_json())["States"]
    return states


def test_an_isolated_training_job_in_a_vpc(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN training options with network isolation and a VPC
    WHEN the pipeline is synthesized
    THEN CreateTrainingJob has EnableNetworkIsolation and that VpcConfig; the hosts of a distributed job
    still reach each other (SageMaker allows traffic between peers of one job under isolation), encrypted."""
    options = TrainingJobOptions(
        "ml.m5.large", instance_count=2, network_isolation=True, vpc_subnet_ids=[SUBNET], vpc_security_group_ids=[GROUP]
    )
    train = _states(stack, platform, options)["Train"]["Parameters"]
    assert train["EnableNetworkIsolation"] is True
    assert train["VpcConfig"] == {"Subnets": [SUBNET], "SecurityGroupIds": [GROUP]}
    assert train["EnableInterContainerTrafficEncryption"] is True


def test_a_tuning_jobs_training_jobs_are_isolated_alike(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN isolated training in a VPC, and tuning
    WHEN the pipeline is synthesized
    THEN the tuning job's training job definition has the same isolation and VPC as the single job."""
    options = TrainingJobOptions(
        "ml.m5.large", network_isolation=True, vpc_subnet_ids=[SUBNET], vpc_security_group_ids=[GROUP]
    )
    width = ParameterRangeSettings(type="integer", min_value=8, max_value=64)
    tuning = TuningOptions("validation:score", "Maximize", {"width": width})
    states = _states(stack, platform, options, tuning=tuning)
    (definition,) = [
        state["Parameters"]["TrainingJobDefinition"]
        for state in states.values()
        if "TrainingJobDefinition" in state.get("Parameters", {})
    ]
    assert definition["EnableNetworkIsolation"] is True
    assert definition["VpcConfig"] == {"Subnets": [SUBNET], "SecurityGroupIds": [GROUP]}


def test_by_default_training_has_network_and_no_vpc(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN default training options WHEN synthesized THEN neither isolation nor a VPC is asked for."""
    train = _states(stack, platform, TrainingJobOptions("ml.m5.large"))["Train"]["Parameters"]
    assert "EnableNetworkIsolation" not in train and "VpcConfig" not in train


def test_the_transform_jobs_model_is_always_isolated(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN any pipeline WHEN synthesized THEN the model the transform job runs is network-isolated
    (a transform job's isolation is its model's)."""
    create_model = _states(stack, platform, TrainingJobOptions("ml.m5.large"))["CreateModel"]["Parameters"]
    assert create_model["EnableNetworkIsolation"] is True


@pytest.mark.parametrize(
    ("subnets", "groups"), [([SUBNET], []), ([], [GROUP])], ids=["subnets only", "security groups only"]
)
def test_half_a_vpc_is_rejected(stack: cdk.Stack, platform: Platform, subnets: list[str], groups: list[str]) -> None:
    """GIVEN subnets without security groups, or the reverse WHEN the pipeline is made THEN a ValueError says both."""
    options = TrainingJobOptions("ml.m5.large", vpc_subnet_ids=subnets, vpc_security_group_ids=groups)
    with pytest.raises(ValueError, match="give both or neither"):
        _states(stack, platform, options)


@pytest.mark.parametrize(("environment", "isolated"), [("dev", False), ("staging", True), ("prod", True)])
def test_staging_and_prod_train_without_network(synthesized: Synthesized, environment: str, isolated: bool) -> None:
    """GIVEN the shipped configuration WHEN each environment is synthesized THEN staging's and prod's training
    jobs run network-isolated, dev's (exploration, quick iterations) not."""
    train = definition(synthesized.template(environment, "Training"))["States"]["Train"]["Parameters"]
    assert train.get("EnableNetworkIsolation", False) is isolated
