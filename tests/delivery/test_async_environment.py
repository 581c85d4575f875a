"""An asynchronous environment as the app synthesizes it: the maximal configuration's dev (delivery/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from config.contract import ASYNC_INPUT_PREFIX, CONTAINER
from stacks.compliance import add_compliance_checks
from stacks.deployment_access_stack import add_deployment_access
from tests.delivery.conftest import maximal_config
from tests.helpers import TEST_ACCOUNT, Synthesized, cdk_context, grants, of_type, one_of_type


def _properties(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    properties: dict[str, Any] = one_of_type(template, resource_type)["Properties"]
    return properties


def test_dev_asynchronous_writes_to_its_artifacts_bucket_under_its_key_and_notifies_its_topic(
    maximal_synthesized: Synthesized,
) -> None:
    """GIVEN dev configured asynchronous (max_instances 2, the other settings defaulted)
    WHEN the whole app is synthesized
    THEN its endpoint config writes results and failures under their prefixes of the artifacts bucket, with the
    environment's key, and notifies the result topic of each success and error, a topic no one is subscribed to
    (not the alarm topic, which pages); the model asks the container for 100 MB bodies; the variant scales from 0
    to 2 instances; the execution role may publish to the topic; requests, results and failures expire after 30
    days, nothing else in the buckets does."""
    inference = maximal_synthesized.template("dev", "Inference")
    output = _properties(inference, "AWS::SageMaker::EndpointConfig")["AsyncInferenceConfig"]["OutputConfig"]
    outputs = {o["Fn::GetStackOutput"]["OutputName"] for o in _stack_outputs(output)}
    assert any("ArtifactsBucket" in name for name in outputs) and any("EncryptionKey" in n for n in outputs)
    topics = {o["Fn::GetStackOutput"]["OutputName"] for o in _stack_outputs(output["NotificationConfig"])}
    assert len(topics) == 1 and "AsyncResultTopic" in topics.pop()
    platform = maximal_synthesized.template("dev", "Platform")
    result_topic = [name for name in of_type(platform, "AWS::SNS::Topic") if name.startswith("AsyncResultTopic")]
    assert len(result_topic) == 1 and "KmsMasterKeyId" in platform["Resources"][result_topic[0]]["Properties"]
    assert all(
        subscription["Properties"]["TopicArn"] != {"Ref": result_topic[0]}
        for subscription in of_type(platform, "AWS::SNS::Subscription").values()
    )
    assert str(output["S3OutputPath"]).count("async-inference/output/") == 1
    assert str(output["S3FailurePath"]).count("async-inference/failures/") == 1
    environment = _properties(inference, "AWS::SageMaker::Model")["PrimaryContainer"]["Environment"]
    assert environment[CONTAINER.environment.max_payload_mb] == "100"
    target = _properties(inference, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 2)
    statements = [
        s
        for policy in of_type(platform, "AWS::IAM::ManagedPolicy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    buckets = of_type(platform, "AWS::S3::Bucket")
    expiring = {
        (rule["Prefix"], rule["ExpirationInDays"])
        for bucket in buckets.values()
        for rule in bucket["Properties"]["LifecycleConfiguration"]["Rules"]
        if "Prefix" in rule
    }
    assert expiring == {(ASYNC_INPUT_PREFIX, 30), ("async-inference/output/", 30), ("async-inference/failures/", 30)}
    publish = [s for s in statements if s.get("Sid") == "PublishAsyncNotifications"]
    assert [(s["Action"], s["Resource"]) for s in publish] == [("sns:Publish", {"Ref": result_topic[0]})]


def test_staging_and_prod_stay_real_time(maximal_synthesized: Synthesized) -> None:
    """GIVEN the maximal configuration WHEN synthesized THEN only dev is asynchronous: staging and prod keep their
    real-time endpoints (canary, capture), their roles publish no asynchronous notifications and their buckets expire
    nothing current."""
    for environment in ("staging", "prod"):
        config = _properties(maximal_synthesized.template(environment, "Inference"), "AWS::SageMaker::EndpointConfig")
        assert "AsyncInferenceConfig" not in config and "DataCaptureConfig" in config
        platform = maximal_synthesized.template(environment, "Platform")
        assert "PublishAsyncNotifications" not in str(platform) and "Expire-" not in str(platform)


def _stack_outputs(node: Any) -> list[dict[str, Any]]:
    """Every Fn::GetStackOutput below `node`."""
    if isinstance(node, dict):
        found = [node] if "Fn::GetStackOutput" in node else []
        return found + [o for value in node.values() for o in _stack_outputs(value)]
    if isinstance(node, list):
        return [o for item in node for o in _stack_outputs(item)]
    return []


def test_an_asynchronous_environments_smoke_test_may_put_its_request_and_read_its_answer(tmp_path: Path) -> None:
    """GIVEN the maximal configuration, whose dev is asynchronous
    WHEN its DeploymentAccess stacks are synthesized (the project's packs must pass)
    THEN dev's role may read the Platform stack's outputs, InvokeEndpointAsync its endpoint, put under the request
    prefix and get or list under the result prefixes, in its own account only, with the key whose alias is its own;
    no real-time environment's role may do any of it."""
    config = maximal_config()
    dev = config.environment("dev")
    assert dev.endpoint.asynchronous is not None
    app = cdk.App(context=cdk_context(), outdir=str(tmp_path))
    stacks = add_deployment_access(app, config)
    add_compliance_checks(app)
    assembly = app.synth()
    statements = {
        statement["Sid"]: statement
        for stack in stacks
        for policy in of_type(
            assembly.get_stack_artifact(stack.artifact_id).template, "AWS::IAM::ManagedPolicy"
        ).values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Sid", "").endswith(("Asynchronously", "AsynchronousRequest", "AsynchronousAnswer"))
        or statement.get("Sid") in {"ReadTheArtifactsBucketName", "SeeWhetherTheAnswerIsThere"}
    }
    assert set(statements) == {
        "ReadTheArtifactsBucketName",
        "SmokeTestAsynchronously",
        "PutTheAsynchronousRequest",
        "ReadTheAsynchronousAnswer",
        "SeeWhetherTheAnswerIsThere",
        "EncryptTheAsynchronousRequest",
    }, "one asynchronous environment: each statement once"
    account = dev.account or TEST_ACCOUNT
    assert grants(statements["SmokeTestAsynchronously"]) == {
        ("sagemaker:InvokeEndpointAsync", f"arn:aws:sagemaker:us-east-1:{account}:endpoint/sagemaker-gbdt-dev")
    }
    assert grants(statements["PutTheAsynchronousRequest"]) == {
        ("s3:PutObject", f"arn:aws:s3:::*/{ASYNC_INPUT_PREFIX}*")
    }
    results = (dev.endpoint.asynchronous.output_prefix, dev.endpoint.asynchronous.failure_prefix)
    assert grants(statements["ReadTheAsynchronousAnswer"]) == {
        ("s3:GetObject", f"arn:aws:s3:::*/{p}*") for p in results
    }
    for sid in ("PutTheAsynchronousRequest", "ReadTheAsynchronousAnswer", "SeeWhetherTheAnswerIsThere"):
        assert statements[sid]["Condition"]["StringEquals"] == {"aws:ResourceAccount": account}, sid
    assert statements["SeeWhetherTheAnswerIsThere"]["Condition"]["StringLike"] == {
        "s3:prefix": [f"{p}*" for p in results]
    }
    key = statements["EncryptTheAsynchronousRequest"]["Condition"]["ForAnyValue:StringEquals"]
    assert key == {"kms:ResourceAliases": "alias/sagemaker-gbdt-dev"}
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert all(plugin["violations"] == [] for plugin in report["pluginReports"])
