"""RealtimeEndpoint: immutable configs, a named endpoint, encryption, capture and safe updates."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from sagemaker_constructs import InstanceVariant, RealtimeEndpoint, SageMakerModel, ServerlessVariant, TrafficShifting
from sagemaker_constructs.realtime_endpoint import has_instance_store
from tests.sagemaker_constructs.conftest import Platform

TWO = [InstanceVariant("ml.c5.large", 2)]
CANARY = TrafficShifting(mode="CANARY", step_type="INSTANCE_COUNT", step_value=1)


def _endpoint(stack: cdk.Stack, platform: Platform, model: SageMakerModel, **kwargs: Any) -> RealtimeEndpoint:
    arguments: dict[str, Any] = {
        "endpoint_name": "app-test",
        "model": model,
        "variants": TWO,
        "encryption_key": platform.key,
    } | kwargs
    return RealtimeEndpoint(stack, "Endpoint", **arguments)


def _one(stack: cdk.Stack, resource_type: str) -> dict[str, Any]:
    resources = Template.from_stack(stack).find_resources(resource_type)
    assert len(resources) == 1
    return dict(next(iter(resources.values())))


def test_the_config_has_no_name_and_the_endpoint_the_given_one(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    construct = _endpoint(stack, platform, model)
    assert "EndpointConfigName" not in _one(stack, "AWS::SageMaker::EndpointConfig")["Properties"]
    endpoint = _one(stack, "AWS::SageMaker::Endpoint")["Properties"]
    assert endpoint["EndpointName"] == "app-test"
    config = stack.get_logical_id(construct.endpoint_config)
    assert endpoint["EndpointConfigName"] == {"Fn::GetAtt": [config, "EndpointConfigName"]}


def test_instance_variants_carry_type_count_weight_and_timeouts(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    _endpoint(
        stack,
        platform,
        model,
        variants=[InstanceVariant("ml.c5.large", 2, "blue", 0.75), InstanceVariant("ml.c5.xlarge", 1, "green", 0.25)],
        container_startup_health_check_timeout=cdk.Duration.minutes(5),
        model_data_download_timeout=cdk.Duration.minutes(10),
    )
    variants = _one(stack, "AWS::SageMaker::EndpointConfig")["Properties"]["ProductionVariants"]
    assert [
        (v["VariantName"], v["InstanceType"], v["InitialInstanceCount"], v["InitialVariantWeight"]) for v in variants
    ] == [
        ("blue", "ml.c5.large", 2, 0.75),
        ("green", "ml.c5.xlarge", 1, 0.25),
    ]
    assert {v["ContainerStartupHealthCheckTimeoutInSeconds"] for v in variants} == {300}
    assert {v["ModelDataDownloadTimeoutInSeconds"] for v in variants} == {600}


def test_ebs_backed_instances_get_the_volume_key(stack: cdk.Stack, platform: Platform, model: SageMakerModel) -> None:
    _endpoint(stack, platform, model)
    assert "KmsKeyId" in _one(stack, "AWS::SageMaker::EndpointConfig")["Properties"]


@pytest.mark.parametrize("instance_type", ["ml.m5d.large", "ml.g4dn.xlarge", "ml.g5.2xlarge", "ml.p4d.24xlarge"])
def test_instance_store_types_get_no_volume_key(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel, instance_type: str
) -> None:
    _endpoint(stack, platform, model, variants=[InstanceVariant(instance_type, 1)])
    assert "KmsKeyId" not in _one(stack, "AWS::SageMaker::EndpointConfig")["Properties"]


def test_instance_store_detection() -> None:
    assert [has_instance_store(t) for t in ("ml.m5.large", "ml.c5.xlarge", "ml.m5d.large", "ml.g4dn.xlarge")] == [
        False,
        False,
        True,
        True,
    ]


def test_serverless_variant_has_memory_and_concurrency_and_no_volume_key(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    _endpoint(stack, platform, model, variants=ServerlessVariant(memory_size_mb=2048, max_concurrency=5))
    config = _one(stack, "AWS::SageMaker::EndpointConfig")["Properties"]
    assert config["ProductionVariants"][0]["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    assert "InstanceType" not in config["ProductionVariants"][0]
    assert "KmsKeyId" not in config


def test_data_capture_goes_to_the_uri_encrypted(stack: cdk.Stack, platform: Platform, model: SageMakerModel) -> None:
    _endpoint(stack, platform, model, data_capture_uri="s3://artifacts/data-capture/", data_capture_percentage=20)
    capture = _one(stack, "AWS::SageMaker::EndpointConfig")["Properties"]["DataCaptureConfig"]
    assert capture["EnableCapture"] is True
    assert capture["InitialSamplingPercentage"] == 20
    assert capture["DestinationS3Uri"] == "s3://artifacts/data-capture/"
    assert "KmsKeyId" in capture
    assert capture["CaptureOptions"] == [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]


def test_no_capture_by_default(stack: cdk.Stack, platform: Platform, model: SageMakerModel) -> None:
    _endpoint(stack, platform, model)
    assert "DataCaptureConfig" not in _one(stack, "AWS::SageMaker::EndpointConfig")["Properties"]


def test_canary_deployment_rolls_back_on_errors_and_latency(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    # GIVEN canary traffic shifting and an alarm action
    topic = sns.Topic(stack, "Topic")
    _endpoint(
        stack,
        platform,
        model,
        traffic_shifting=TrafficShifting(
            mode="CANARY",
            step_value=1,
            wait_interval=cdk.Duration.minutes(10),
            termination_wait=cdk.Duration.minutes(5),
            maximum_execution_timeout=cdk.Duration.hours(1),
            rollback_p99_model_latency=cdk.Duration.millis(250),
        ),
        alarm_action=actions.SnsAction(topic),
    )
    template = Template.from_stack(stack)
    # THEN the endpoint deploys blue/green with a one-instance canary
    config = _one(stack, "AWS::SageMaker::Endpoint")["Properties"]["DeploymentConfig"]
    assert config["BlueGreenUpdatePolicy"] == {
        "TrafficRoutingConfiguration": {
            "Type": "CANARY",
            "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
            "WaitIntervalInSeconds": 600,
        },
        "TerminationWaitInSeconds": 300,
        "MaximumExecutionTimeoutInSeconds": 3600,
    }
    # AND it rolls back on both alarms, which watch this endpoint and notify the topic
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert sorted(a["AlarmName"]["Ref"] for a in config["AutoRollbackConfiguration"]["Alarms"]) == sorted(alarms)
    metrics = {a["Properties"]["MetricName"]: a["Properties"] for a in alarms.values()}
    assert set(metrics) == {"Invocation5XXErrors", "ModelLatency"}
    assert metrics["ModelLatency"]["Threshold"] == 250_000  # microseconds
    for alarm in metrics.values():
        assert alarm["Dimensions"] == [
            {"Name": "EndpointName", "Value": "app-test"},
            {"Name": "VariantName", "Value": "primary"},
        ]
        topic_ref = {"Ref": stack.get_logical_id(topic.node.default_child)}  # type: ignore[arg-type]
        assert alarm["AlarmActions"] == alarm["OKActions"] == [topic_ref]
        assert alarm["AlarmDescription"]


def test_linear_deployment_uses_linear_steps(stack: cdk.Stack, platform: Platform, model: SageMakerModel) -> None:
    _endpoint(
        stack,
        platform,
        model,
        variants=[InstanceVariant("ml.c5.large", 4)],
        traffic_shifting=TrafficShifting(mode="LINEAR", step_type="CAPACITY_PERCENT", step_value=25),
    )
    routing = _one(stack, "AWS::SageMaker::Endpoint")["Properties"]["DeploymentConfig"]["BlueGreenUpdatePolicy"][
        "TrafficRoutingConfiguration"
    ]
    assert routing["Type"] == "LINEAR"
    assert routing["LinearStepSize"] == {"Type": "CAPACITY_PERCENT", "Value": 25}
    assert "CanarySize" not in routing


def test_added_rollback_alarms_are_rendered(stack: cdk.Stack, platform: Platform, model: SageMakerModel) -> None:
    endpoint = _endpoint(stack, platform, model, traffic_shifting=CANARY)
    extra = endpoint.metric_client_errors().create_alarm(stack, "Extra", threshold=100, evaluation_periods=1)
    endpoint.add_rollback_alarm(extra)
    alarms = _one(stack, "AWS::SageMaker::Endpoint")["Properties"]["DeploymentConfig"]["AutoRollbackConfiguration"][
        "Alarms"
    ]
    assert {"AlarmName": {"Ref": stack.get_logical_id(extra.node.default_child)}} in alarms  # type: ignore[arg-type]
    assert len(alarms) == 3


def test_without_traffic_shifting_there_is_no_deployment_config(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    _endpoint(stack, platform, model)
    endpoint = _one(stack, "AWS::SageMaker::Endpoint")["Properties"]
    assert "DeploymentConfig" not in endpoint
    assert "RetainAllVariantProperties" not in endpoint


def test_retaining_instance_counts_keeps_weights_and_capture_following_the_config(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    _endpoint(stack, platform, model).retain_variant_instance_counts()
    endpoint = _one(stack, "AWS::SageMaker::Endpoint")["Properties"]
    assert endpoint["RetainAllVariantProperties"] is True
    assert endpoint["ExcludeRetainedVariantProperties"] == [
        {"VariantPropertyType": "DesiredWeight"},
        {"VariantPropertyType": "DataCaptureConfig"},
    ]


def test_grant_invoke_allows_invoking_this_endpoint_only(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    endpoint = _endpoint(stack, platform, model)
    client = iam.Role(stack, "Client", assumed_by=iam.AccountRootPrincipal())
    endpoint.grant_invoke(client)
    statement = _one(stack, "AWS::IAM::Policy")["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Action"] == [
        "sagemaker:InvokeEndpoint",
        "sagemaker:InvokeEndpointAsync",
        "sagemaker:InvokeEndpointWithResponseStream",
    ]
    assert statement["Resource"] == {"Ref": stack.get_logical_id(endpoint.endpoint)}


def test_metric_helpers_name_the_endpoint_and_variant(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    endpoint = _endpoint(stack, platform, model)
    metrics = {
        "Invocations": endpoint.metric_invocations(),
        "InvocationsPerInstance": endpoint.metric_invocations_per_instance(),
        "Invocation4XXErrors": endpoint.metric_client_errors(),
        "Invocation5XXErrors": endpoint.metric_server_errors(),
        "ModelLatency": endpoint.metric_model_latency(),
        "OverheadLatency": endpoint.metric_overhead_latency(statistic="p50"),
        "CPUUtilization": endpoint.metric_cpu_utilization(),
        "MemoryUtilization": endpoint.metric_memory_utilization(),
        "DiskUtilization": endpoint.metric_disk_utilization(),
    }
    for name, metric in metrics.items():
        assert metric.metric_name == name
        assert metric.dimensions == {"EndpointName": "app-test", "VariantName": "primary"}
    assert metrics["Invocations"].namespace == "AWS/SageMaker"
    assert metrics["CPUUtilization"].namespace == "/aws/sagemaker/Endpoints"
    assert metrics["OverheadLatency"].statistic == "p50"
    with pytest.raises(ValueError, match=r"variant_name must be one of \['primary'\], got 'blue'"):
        endpoint.metric_invocations(variant_name="blue")


SERVERLESS = ServerlessVariant(memory_size_mb=2048, max_concurrency=5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"endpoint_name": "bad_name"}, r"endpoint_name must be 1-63 letters, digits or '-', got 'bad_name'"),
        ({"variants": []}, r"variants must name at least one production variant"),
        (
            {"variants": [InstanceVariant("ml.c5.large", 1, "a", 0.5), InstanceVariant("ml.c5.large", 1, "b", 0.4)]},
            r"variant weights must add up to 1\.0, got 0\.9 \(a=0\.5, b=0\.4\)",
        ),
        (
            {"variants": [InstanceVariant("ml.c5.large", 1, "a", 0.5), InstanceVariant("ml.c5.large", 1, "a", 0.5)]},
            r"variant names must be unique, got \['a', 'a'\]",
        ),
        (
            {"variants": [InstanceVariant("c5.large", 1)]},
            r"variant primary: instance_type must look like ml\.m5\.large",
        ),
        (
            {"variants": [InstanceVariant("ml.c5.large", 0)]},
            r"variant primary: initial_instance_count must be at least 1",
        ),
        (
            {"variants": SERVERLESS, "traffic_shifting": CANARY},
            r"traffic_shifting \(canary/linear/blue-green\) is not supported with a serverless variant",
        ),
        (
            {"variants": SERVERLESS, "data_capture_uri": "s3://b/c/", "data_capture_percentage": 10},
            r"data_capture_percentage must be 0 with a serverless variant",
        ),
        (
            {"variants": ServerlessVariant(memory_size_mb=1500, max_concurrency=5)},
            r"serverless memory_size_mb must be one of 1024, 2048, 3072, 4096, 5120, 6144, got 1500",
        ),
        (
            {"variants": ServerlessVariant(memory_size_mb=1024, max_concurrency=500)},
            r"serverless max_concurrency must be 1-200, got 500",
        ),
        (
            {"variants": [InstanceVariant("ml.c5.large", 1)], "traffic_shifting": CANARY},
            r"a canary step of 1 instance\(s\) needs a fleet of at least 2 .*variant has 1",
        ),
        (
            {"traffic_shifting": TrafficShifting(mode="LINEAR", step_type="CAPACITY_PERCENT", step_value=25)},
            r"25% of 2 instance\(s\) is less than one instance",
        ),
        (
            {"traffic_shifting": TrafficShifting(mode="CANARY", step_type="CAPACITY_PERCENT", step_value=60)},
            r"step_value must be 1-50 percent, got 60",
        ),
        (
            {
                "variants": [InstanceVariant("ml.c5.large", 2, "a", 0.5), InstanceVariant("ml.c5.large", 2, "b", 0.5)],
                "traffic_shifting": CANARY,
            },
            r"traffic_shifting needs exactly one instance variant, got 2",
        ),
        (
            {"traffic_shifting": TrafficShifting(mode="CANARY", wait_interval=cdk.Duration.hours(2))},
            r"wait_interval must be 0-3600 s, got 7200 s",
        ),
        (
            {"traffic_shifting": TrafficShifting(mode="CANARY", maximum_execution_timeout=cdk.Duration.minutes(5))},
            r"maximum_execution_timeout must be 600-28800 s, got 300 s",
        ),
        (
            {
                "traffic_shifting": TrafficShifting(
                    mode="CANARY",
                    wait_interval=cdk.Duration.minutes(30),
                    termination_wait=cdk.Duration.minutes(30),
                    maximum_execution_timeout=cdk.Duration.minutes(30),
                )
            },
            r"maximum_execution_timeout \(1800 s\) must exceed the waits of the shift \(3600 s\)",
        ),
        (
            {"container_startup_health_check_timeout": cdk.Duration.seconds(30)},
            r"container_startup_health_check_timeout must be 60-3600 s, got 30 s",
        ),
        ({"model_data_download_timeout": cdk.Duration.hours(2)}, r"model_data_download_timeout must be 60-3600 s"),
        ({"data_capture_percentage": 101, "data_capture_uri": "s3://b/c/"}, r"data_capture_percentage must be 0-100"),
        ({"data_capture_percentage": 10}, r"data_capture_uri is required when data_capture_percentage > 0"),
    ],
    ids=[
        "name",
        "no-variants",
        "weights",
        "duplicate-variants",
        "instance-type",
        "zero-instances",
        "serverless-canary",
        "serverless-capture",
        "serverless-memory",
        "serverless-concurrency",
        "canary-too-few-instances",
        "percent-below-one-instance",
        "percent-above-half",
        "shifting-several-variants",
        "wait-interval",
        "execution-timeout-range",
        "execution-timeout-too-short",
        "health-check-timeout",
        "download-timeout",
        "capture-percentage",
        "capture-without-uri",
    ],
)
def test_bad_settings_are_rejected_naming_the_field(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _endpoint(stack, platform, model, **kwargs)


def test_a_serverless_variant_cannot_serve_an_isolated_model(stack: cdk.Stack, platform: Platform) -> None:
    isolated = SageMakerModel(
        stack,
        "Isolated",
        image_uri=platform.image.image_uri,
        model_data_url="s3://b/model.tar.gz",
        execution_role=platform.role,
        network_isolation=True,
    )
    with pytest.raises(ValueError, match="a serverless variant cannot serve a model with a VPC or network isolation"):
        _endpoint(stack, platform, isolated, variants=SERVERLESS)
