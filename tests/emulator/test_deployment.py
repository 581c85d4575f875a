"""Every environment deployed into the emulator: created, and reading back what the templates intend."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local_sagemaker.adaptations import SKIPPED_BY_MOTO
from local_sagemaker.deploy import DeployedStack
from sagemaker_constructs.endpoint_autoscaling import invocations_per_instance_target
from tests.conftest import Synthesized
from tests.emulator.conftest import DeployedApp

ENVIRONMENTS = ["dev", "staging", "prod"]


def _of_type(stack: DeployedStack, resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in stack.artifact.template()["Resources"].items() if v["Type"] == resource_type}


def _physical(stack: DeployedStack, resource_type: str) -> str:
    (logical_id,) = _of_type(stack, resource_type)
    return stack.physical_ids[logical_id].split("/")[-1]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_stack_is_created_with_every_resource_of_its_copy(deployed: DeployedApp, environment: str) -> None:
    # GIVEN the environment's stacks deployed from their adapted copies
    for stack in deployed.stacks[environment].values():
        # WHEN CloudFormation (moto) lists what it created
        cloudformation = deployed.server.client("cloudformation")
        status = cloudformation.describe_stacks(StackName=stack.artifact.stack_name)["Stacks"][0]["StackStatus"]
        # THEN the stack is complete, nothing of the copy was silently skipped, and only custom
        # resources and the listed skipped types were taken out (they are created through boto3)
        assert status == "CREATE_COMPLETE"
        assert set(stack.physical_ids) == set(stack.adapted.template["Resources"]), stack.artifact.stack_name
        assert all(t.startswith("Custom::") or t in SKIPPED_BY_MOTO for t in stack.adapted.removed.values())
        assert set(stack.created_by_boto3) == {k for k, t in stack.adapted.removed.items() if t in SKIPPED_BY_MOTO}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_file_assets_are_published_where_the_lambda_functions_load_their_code(
    deployed: DeployedApp, environment: str
) -> None:
    # GIVEN the Platform stack, whose Lambda functions load their code from the bootstrap bucket
    stack = deployed.stack(environment, "Platform")
    s3 = deployed.server.client("s3")
    # WHEN their code locations are looked up
    for function in _of_type(stack, "AWS::Lambda::Function").values():
        code = function["Properties"]["Code"]
        # THEN the asset is there, as cdk-assets would have uploaded it
        assert s3.head_object(Bucket=code["S3Bucket"], Key=code["S3Key"])["ContentLength"] > 0


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_buckets_are_encrypted_versioned_private_and_tls_only(deployed: DeployedApp, environment: str) -> None:
    # GIVEN the deployed Platform stack and its key
    stack = deployed.stack(environment, "Platform")
    s3, kms = deployed.server.client("s3"), deployed.server.client("kms")
    key_arn = kms.describe_key(KeyId=_physical(stack, "AWS::KMS::Key"))["KeyMetadata"]["Arn"]
    for logical_id in _of_type(stack, "AWS::S3::Bucket"):
        bucket = stack.physical_ids[logical_id]
        # WHEN its settings are read back
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        default = rule["ApplyServerSideEncryptionByDefault"]
        # THEN data and artifacts use the key, access logs SSE-S3 (moto drops BucketKeyEnabled: a gap)
        if logical_id.startswith("AccessLogs"):
            assert default == {"SSEAlgorithm": "AES256"}
        else:
            assert default == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values())
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        assert any(s["Effect"] == "Deny" and "aws:SecureTransport" in str(s["Condition"]) for s in policy["Statement"])


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_key_rotates_and_the_role_trusts_only_sagemaker_with_one_scoped_policy(
    deployed: DeployedApp, environment: str
) -> None:
    # GIVEN the deployed Platform stack
    stack = deployed.stack(environment, "Platform")
    kms, iam = deployed.server.client("kms"), deployed.server.client("iam")
    # WHEN the key and the execution role are read back
    rotation = kms.get_key_rotation_status(KeyId=_physical(stack, "AWS::KMS::Key"))["KeyRotationEnabled"]
    role_name = stack.outputs["ExecutionRoleArn"].split("/")[-1]
    role = iam.get_role(RoleName=role_name)["Role"]
    attached = iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
    # THEN the key rotates; SageMaker of this account only may assume the role; one policy of ours
    assert rotation is True
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert [p["PolicyArn"].split("/")[-1] for p in attached] == [
        stack.physical_ids["ExecutionRolePolicy79A7F477"].split("/")[-1]
    ]
    version = iam.get_policy(PolicyArn=attached[0]["PolicyArn"])["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=attached[0]["PolicyArn"], VersionId=version)["PolicyVersion"]
    for statement in document["Document"]["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any(a in {"*", "s3:*"} for a in actions) or statement["Resource"] != "*"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_model_config_and_endpoint_serve_the_pinned_artifact_as_configured(
    deployed: DeployedApp, synthesized: Synthesized, environment: str
) -> None:
    # GIVEN the deployed stacks and the environment's configuration
    platform, inference = deployed.stack(environment, "Platform"), deployed.stack(environment, "Inference")
    settings = synthesized.config.environment(environment).endpoint
    sagemaker = deployed.server.client("sagemaker")
    # WHEN the endpoint, its config and model are read back
    endpoint = sagemaker.describe_endpoint(EndpointName=inference.outputs["EndpointName"])
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    (variant,) = config["ProductionVariants"]
    # An endpoint of inference components names its model in the component, not the variant.
    component_name = inference.outputs.get("InferenceComponentName")
    component = (
        sagemaker.describe_inference_component(InferenceComponentName=component_name) if component_name else None
    )
    model = sagemaker.describe_model(
        ModelName=component["Specification"]["ModelName"] if component else variant["ModelName"]
    )
    # THEN the endpoint runs the stack's config, which serves the pin: a version of the environment's group,
    # or (dev) an object of the artifacts bucket
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == _physical(inference, "AWS::SageMaker::EndpointConfig")
    container = model["PrimaryContainer"]
    if settings.model_package is not None:
        assert container["ModelPackageName"] == (
            f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{settings.model_package}"
        )
    else:
        bucket = platform.outputs["ArtifactsBucketName"]
        assert container["ModelDataUrl"] == f"s3://{bucket}/{settings.model_artifact_key}"
        assert container["Image"] == platform.outputs["ImageUri"]
    assert model["ExecutionRoleArn"] == platform.outputs["ExecutionRoleArn"]
    if settings.inference_component:
        assert component is not None and component["EndpointName"] == endpoint["EndpointName"]
        assert "ModelName" not in variant
        assert variant["InstanceType"] == settings.inference_component.instance_type
    elif settings.serverless:
        assert variant["ServerlessConfig"] == {
            "MemorySizeInMB": settings.serverless.memory_size_mb,
            "MaxConcurrency": settings.serverless.max_concurrency,
        }
    else:
        assert (variant["InstanceType"], variant["InitialInstanceCount"]) == (
            settings.variants[0].instance_type,
            settings.variants[0].initial_instance_count,
        )
        assert config["KmsKeyId"].endswith(_physical(platform, "AWS::KMS::Key"))
    capture = config.get("DataCaptureConfig") or {}
    assert capture.get("InitialSamplingPercentage", 0) == settings.data_capture_percentage


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_log_groups_exist_before_sagemaker_writes_with_retention_and_key(
    deployed: DeployedApp, synthesized: Synthesized, environment: str
) -> None:
    # GIVEN the deployed stacks
    settings = synthesized.config.environment(environment)
    logs = deployed.server.client("logs")
    expected = [f"/aws/sagemaker/Endpoints/sagemaker-gbdt-{environment}"]
    if settings.monitoring.manage_job_log_groups:
        expected += ["/aws/sagemaker/TrainingJobs", "/aws/sagemaker/TransformJobs", "/aws/sagemaker/ProcessingJobs"]
    for name in expected:
        # WHEN the log group is read back
        (group,) = [
            g for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] if g["logGroupName"] == name
        ]
        # THEN it keeps logs as configured (moto drops the log group's key: a listed gap)
        assert group["retentionInDays"] == settings.log_retention_days


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_alarms_notify_the_topic_and_the_dashboard_shows_them(deployed: DeployedApp, environment: str) -> None:
    # GIVEN the Inference stack's alarms, created through boto3 with the template's properties
    platform, inference = deployed.stack(environment, "Platform"), deployed.stack(environment, "Inference")
    cloudwatch = deployed.server.client("cloudwatch")
    names = [inference.created_by_boto3[k] for k in _of_type(inference, "AWS::CloudWatch::Alarm")]
    # WHEN the alarms and the dashboard are read back
    alarms = cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
    dashboard = cloudwatch.get_dashboard(DashboardName=f"sagemaker-gbdt-{environment}")
    # THEN each alarm notifies the topic on ALARM and OK, and the dashboard shows every one; but the scale out
    # from zero of an inference component, which runs its step scaling policy (deployed, by ARN) and pages nobody
    assert sorted(a["AlarmName"] for a in alarms) == sorted(names)
    wake = [a for a in alarms if a.get("MetricName") == "NoCapacityInvocationFailures"]
    assert len(wake) == (environment == "dev")
    scaling = deployed.server.client("application-autoscaling")
    for alarm in wake:
        resource = f"inference-component/{inference.outputs['InferenceComponentName']}"
        policies = scaling.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=resource)
        steps = [p["PolicyARN"] for p in policies["ScalingPolicies"] if p["PolicyType"] == "StepScaling"]
        assert alarm["AlarmActions"] == steps and not alarm["OKActions"]
    paging = [a for a in alarms if a not in wake]
    for alarm in paging:
        assert alarm["AlarmActions"] == [platform.outputs["AlarmTopicArn"]]
        assert alarm["OKActions"] == [platform.outputs["AlarmTopicArn"]]
    body = dashboard["DashboardBody"]
    assert json.loads(body)["widgets"]
    assert all(a["AlarmArn"] in body for a in paging)


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_autoscaling_and_the_alarm_subscription_are_accepted_as_configured(
    deployed: DeployedApp, synthesized: Synthesized, environment: str
) -> None:
    # GIVEN staging or prod, with autoscaling and an e-mail on the alarm topic
    settings = synthesized.config.environment(environment)
    scaling = settings.endpoint.autoscaling
    assert scaling is not None
    autoscaling = deployed.server.client("application-autoscaling")
    # WHEN the scalable target, its policy and the topic's subscriptions are read back
    resource_id = f"endpoint/sagemaker-gbdt-{environment}/variant/primary"
    (target,) = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[resource_id])[
        "ScalableTargets"
    ]
    (policy,) = autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=target["ResourceId"])[
        "ScalingPolicies"
    ]
    topic = deployed.stack(environment, "Platform").outputs["AlarmTopicArn"]
    subscriptions = deployed.server.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    # THEN the range, the target and the subscriber are those configured
    assert (target["MinCapacity"], target["MaxCapacity"]) == (scaling.min_capacity, scaling.max_capacity)
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    target_value = invocations_per_instance_target(scaling.max_requests_per_second, scaling.safety_factor)
    assert tracking["TargetValue"] == target_value
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", settings.alarm_email)]
