"""SageMakerModel: the image and a pinned artifact, never created before its permissions."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from sagemaker_constructs import VpcPlacement
from tests.helpers import MODEL_DATA_URL, Platform, logical_id, make_model, resource_at


def _model(stack: cdk.Stack, platform: Platform, **kwargs: Any) -> dict[str, Any]:
    make_model(stack, platform, "Under", **kwargs)
    return resource_at(stack, "Under/Model")


def test_it_serves_the_image_and_the_pinned_artifact_with_the_execution_role(
    stack: cdk.Stack, platform: Platform
) -> None:
    """GIVEN the project image, a pinned model.tar.gz and the execution role
    WHEN a model is made
    THEN its container serves that image and artifact, and it runs as that role."""
    model = _model(stack, platform)
    container = model["Properties"]["PrimaryContainer"]
    assert container["ModelDataUrl"] == MODEL_DATA_URL
    assert platform.image.image_tag in str(container["Image"])
    role = logical_id(stack, "ExecutionRole/Role")
    assert model["Properties"]["ExecutionRoleArn"] == {"Fn::GetAtt": [role, "Arn"]}


def test_it_has_no_physical_name_so_changes_can_replace_it(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN a model WHEN it is synthesized THEN it has no name, so a change can replace it."""
    assert "ModelName" not in _model(stack, platform)["Properties"]


def test_it_waits_for_the_execution_roles_policy(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN a model WHEN it is synthesized THEN it is created after the role and its policy."""
    model = _model(stack, platform)
    policy = logical_id(stack, "ExecutionRole/Policy")
    role = logical_id(stack, "ExecutionRole/Role")
    assert {policy, role} <= set(model["DependsOn"])


def _version(stack: cdk.Stack, platform: Platform, data_url: str, id_: str = "Under", **kwargs: Any) -> str:
    return make_model(stack, platform, id_, model_data_url=data_url, **kwargs).model_version


def test_the_model_version_names_the_image_and_artifact_deterministically(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN two models of the same image and artifact, and one of another artifact
    WHEN they are made
    THEN the container's METRICS_MODEL_VERSION is the same digest for the first two (no timestamp, no
    random part) and another one for the third."""
    first = _version(stack, platform, MODEL_DATA_URL, "First")
    again = _version(stack, platform, MODEL_DATA_URL, "Again")
    other = _version(stack, platform, "s3://artifacts-bucket/models/v2/model.tar.gz", "Other")
    assert first == again != other
    assert len(first) == 64 and int(first, 16) >= 0
    environment = resource_at(stack, "First/Model")["Properties"]["PrimaryContainer"]["Environment"]
    assert environment["METRICS_MODEL_VERSION"] == first


@pytest.mark.parametrize("version", ["", "   ", "x" * 1025])
def test_a_model_version_no_dimension_can_hold_is_rejected(stack: cdk.Stack, platform: Platform, version: str) -> None:
    """GIVEN a blank or too long model version WHEN the model is made THEN a ValueError names model_version."""
    with pytest.raises(ValueError, match="model_version must be 1-1024 characters"):
        _version(stack, platform, MODEL_DATA_URL, model_version=version)


def test_the_environment_cannot_override_the_model_version(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN METRICS_MODEL_VERSION in `environment` WHEN the model is made THEN it is refused: the alarms
    read model_version, and the two would disagree."""
    with pytest.raises(ValueError, match="must not set METRICS_MODEL_VERSION"):
        _version(stack, platform, MODEL_DATA_URL, environment={"METRICS_MODEL_VERSION": "mine"})


def test_server_settings_reach_the_container(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN workers, a timeout and an extra variable
    WHEN the model is synthesized
    THEN the container's environment carries all three."""
    model = _model(
        stack, platform, server_workers=3, server_timeout=cdk.Duration.seconds(30), environment={"LOG_LEVEL": "INFO"}
    )
    environment = model["Properties"]["PrimaryContainer"]["Environment"]
    assert environment == {
        "LOG_LEVEL": "INFO",
        "METRICS_MODEL_VERSION": environment["METRICS_MODEL_VERSION"],
        "SAGEMAKER_MODEL_SERVER_TIMEOUT": "30",
        "SAGEMAKER_MODEL_SERVER_WORKERS": "3",
    }


def test_vpc_and_network_isolation(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN a subnet, a security group and network isolation
    WHEN the model is synthesized
    THEN it runs isolated in that VPC placement."""
    model = _model(
        stack,
        platform,
        vpc=VpcPlacement(["subnet-0123456789abcdef0"], ["sg-0123456789abcdef0"]),
        network_isolation=True,
    )
    assert model["Properties"]["EnableNetworkIsolation"] is True
    assert model["Properties"]["VpcConfig"] == {
        "Subnets": ["subnet-0123456789abcdef0"],
        "SecurityGroupIds": ["sg-0123456789abcdef0"],
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"server_timeout": cdk.Duration.seconds(3601)},
            r"server_timeout must be 1-3600 s \(the container's limit\), got 3601 s",
        ),
        ({"server_workers": 0}, r"server_workers must be at least 1, got 0"),
        ({"model_data_url": "models/model.tar.gz"}, r"model_data_url must be s3://<bucket>/<key>\.tar\.gz"),
        ({"vpc": VpcPlacement([], ["sg-0123456789abcdef0"])}, r"vpc needs at least one subnet id"),
        ({"environment": {"BAD-NAME": "x"}}, r"environment variable name 'BAD-NAME' is not valid"),
    ],
    ids=["timeout", "workers", "data-url", "vpc", "env-name"],
)
def test_bad_settings_are_rejected(stack: cdk.Stack, platform: Platform, kwargs: dict[str, Any], message: str) -> None:
    """GIVEN one bad argument WHEN a model is made THEN a ValueError names the field and what is allowed."""
    with pytest.raises(ValueError, match=message):
        make_model(stack, platform, "Bad", **kwargs)
