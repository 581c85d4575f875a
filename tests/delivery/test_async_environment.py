"""An asynchronous environment as the app synthesizes it: the maximal configuration's dev (delivery/conftest.py)."""

from __future__ import annotations

from typing import Any

from config.contract import CONTAINER
from tests.helpers import Synthesized, of_type, one_of_type


def _properties(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    properties: dict[str, Any] = one_of_type(template, resource_type)["Properties"]
    return properties


def test_dev_asynchronous_writes_to_its_artifacts_bucket_under_its_key_and_notifies_its_topic(
    maximal_synthesized: Synthesized,
) -> None:
    """GIVEN dev configured asynchronous (max_instances 2, the other settings defaulted)
    WHEN the whole app is synthesized
    THEN its endpoint config writes results and failures under their prefixes of the artifacts bucket, with the
    environment's key, and notifies the alarm topic; the model asks the container for 100 MB bodies; the variant
    scales from 0 to 2 instances; the execution role may publish to the topic."""
    inference = maximal_synthesized.template("dev", "Inference")
    output = _properties(inference, "AWS::SageMaker::EndpointConfig")["AsyncInferenceConfig"]["OutputConfig"]
    outputs = {o["Fn::GetStackOutput"]["OutputName"] for o in _stack_outputs(output)}
    assert any("ArtifactsBucket" in name for name in outputs) and any("EncryptionKey" in n for n in outputs)
    assert any("AlarmTopic" in name for name in outputs)
    assert str(output["S3OutputPath"]).count("async-inference/output/") == 1
    assert str(output["S3FailurePath"]).count("async-inference/failures/") == 1
    environment = _properties(inference, "AWS::SageMaker::Model")["PrimaryContainer"]["Environment"]
    assert environment[CONTAINER.environment.max_payload_mb] == "100"
    target = _properties(inference, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 2)
    platform = maximal_synthesized.template("dev", "Platform")
    statements = [
        s
        for policy in of_type(platform, "AWS::IAM::ManagedPolicy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert [s["Action"] for s in statements if s.get("Sid") == "PublishAsyncNotifications"] == ["sns:Publish"]


def test_staging_and_prod_stay_real_time(maximal_synthesized: Synthesized) -> None:
    """GIVEN the maximal configuration WHEN synthesized THEN only dev is asynchronous: staging and prod keep their
    real-time endpoints (canary, capture), and their roles publish no asynchronous notifications."""
    for environment in ("staging", "prod"):
        config = _properties(maximal_synthesized.template(environment, "Inference"), "AWS::SageMaker::EndpointConfig")
        assert "AsyncInferenceConfig" not in config and "DataCaptureConfig" in config
        assert "PublishAsyncNotifications" not in str(maximal_synthesized.template(environment, "Platform"))


def _stack_outputs(node: Any) -> list[dict[str, Any]]:
    """Every Fn::GetStackOutput below `node`."""
    if isinstance(node, dict):
        found = [node] if "Fn::GetStackOutput" in node else []
        return found + [o for value in node.values() for o in _stack_outputs(value)]
    if isinstance(node, list):
        return [o for item in node for o in _stack_outputs(item)]
    return []
