"""RealtimeEndpoint: immutable configs, a named endpoint, encryption, capture and safe updates."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam

from sagemaker_constructs import InstanceVariant, RealtimeEndpoint, SageMakerModel, ServerlessVariant, TrafficShifting
from sagemaker_constructs.endpoint_config import ManagedVariant, has_instance_store
from tests.helpers import Platform, logical_id, make_endpoint, make_model, of_type, one_of_type, template_of

TWO = [InstanceVariant("ml.c5.large", 2)]
CANARY = TrafficShifting(mode="CANARY", step_type="INSTANCE_COUNT", step_value=1)


def _endpoint(stack: cdk.Stack, platform: Platform, model: SageMakerModel, **kwargs: Any) -> RealtimeEndpoint:
    return make_endpoint(stack, platform, model, **{"variants": TWO} | kwargs)


def _one(stack: cdk.Stack, resource_type: str) -> dict[str, Any]:
    return one_of_type(template_of(stack), resource_type)


def test_the_config_has_no_name_and_the_endpoint_the_given_one(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN an endpoint named app-test
    WHEN it is synthesized
    THEN its config has no physical name (every change is a new one) and the endpoint refers to it."""
    _endpoint(stack, platform, model)
    assert "EndpointConfigName" not in _one(stack, "AWS::SageMaker::EndpointConfig")["Properties"]
    endpoint = _one(stack, "AWS::SageMaker::Endpoint")["Properties"]
    assert endpoint["EndpointName"] == "app-test"
    config = logical_id(stack, "Endpoint/Config")
    assert endpoint["EndpointConfigName"] == {"Fn::GetAtt": [config, "EndpointConfigName"]}


def test_instance_variants_carry_type_count_weight_and_timeouts(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN two weighted instance variants and both timeouts
    WHEN the endpoint is synthesized
    THEN each production variant carries its type, count and weight, and the timeouts in seconds."""
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
    """GIVEN EBS-backed instances WHEN the endpoint is synthesized THEN the config encrypts volumes with the key."""
    _endpoint(stack, platform, model)
    assert "KmsKeyId" in _one(stack, "AWS::SageMaker::EndpointConfig")["Properties"]


@pytest.mark.parametrize("instance_type", ["ml.m5d.large", "ml.g4dn.xlarge", "ml.g5.2xlarge", "ml.p4d.24xlarge"])
def test_instance_store_types_get_no_volume_key(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel, instance_type: str
) -> None:
    """GIVEN an instance-store (NVMe) type WHEN the endpoint is synthesized THEN no volume key (SageMaker
    rejects it)."""
    _endpoint(stack, platform, model, variants=[InstanceVariant(instance_type, 1)])
    assert "KmsKeyId" not in _one(stack, "AWS::SageMaker::EndpointConfig")["Properties"]


def test_instance_store_detection() -> None:
    """GIVEN instance types with and without NVMe WHEN classified THEN only d/dn families have an instance store."""
    assert [has_instance_store(t) for t in ("ml.m5.large", "ml.c5.xlarge", "ml.m5d.large", "ml.g4dn.xlarge")] == [
        False,
        False,
        True,
        True,
    ]


def test_serverless_variant_has_memory_and_concurrency_and_no_volume_key(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN a serverless variant
    WHEN the endpoint is synthesized
    THEN the variant has its memory and concurrency, no instance type, and the config no volume key."""
    _endpoint(stack, platform, model, variants=ServerlessVariant(memory_size_mb=2048, max_concurrency=5))
    config = _one(stack, "AWS::SageMaker::EndpointConfig")["Properties"]
    assert config["ProductionVariants"][0]["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    assert "InstanceType" not in config["ProductionVariants"][0]
    assert "KmsKeyId" not in config


def test_data_capture_goes_to_the_uri_encrypted(stack: cdk.Stack, platform: Platform, model: SageMakerModel) -> None:
    """GIVEN 20 % data capture to a URI
    WHEN the endpoint is synthesized
    THEN requests and responses are captured there at 20 %, encrypted with the key."""
    _endpoint(stack, platform, model, data_capture_uri="s3://artifacts/data-capture/", data_capture_percentage=20)
    capture = _one(stack, "AWS::SageMaker::EndpointConfig")["Properties"]["DataCaptureConfig"]
    assert capture["EnableCapture"] is True
    assert capture["InitialSamplingPercentage"] == 20
    assert capture["DestinationS3Uri"] == "s3://artifacts/data-capture/"
    assert "KmsKeyId" in capture
    assert capture["CaptureOptions"] == [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]


def test_no_capture_by_default(stack: cdk.Stack, platform: Platform, model: SageMakerModel) -> None:
    """GIVEN no capture settings WHEN the endpoint is synthesized THEN it captures nothing."""
    _endpoint(stack, platform, model)
    assert "DataCaptureConfig" not in _one(stack, "AWS::SageMaker::EndpointConfig")["Properties"]


def test_canary_deployment_shifts_one_instance_then_the_rest(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN canary traffic shifting of one instance and a rollback alarm
    WHEN the endpoint is synthesized
    THEN it deploys blue/green with a one-instance canary, the waits in seconds, and rolls back on the alarm."""
    endpoint = _endpoint(
        stack,
        platform,
        model,
        traffic_shifting=TrafficShifting(
            mode="CANARY",
            step_value=1,
            wait_interval=cdk.Duration.minutes(10),
            termination_wait=cdk.Duration.minutes(5),
            maximum_execution_timeout=cdk.Duration.hours(1),
        ),
    )
    endpoint.add_rollback_alarm(
        endpoint.metric_server_errors().create_alarm(stack, "Errors", threshold=1, evaluation_periods=1)
    )
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
    assert config["AutoRollbackConfiguration"] == {"Alarms": [{"AlarmName": {"Ref": logical_id(stack, "Errors")}}]}


def test_the_endpoint_creates_no_alarms_of_its_own(stack: cdk.Stack, platform: Platform, model: SageMakerModel) -> None:
    """GIVEN traffic shifting and one rollback alarm made outside
    WHEN the endpoint is synthesized
    THEN that is the only alarm: rollback alarms come from the caller (EndpointMonitoring)."""
    endpoint = _endpoint(stack, platform, model, traffic_shifting=CANARY)
    endpoint.add_rollback_alarm(
        endpoint.metric_server_errors().create_alarm(stack, "Errors", threshold=1, evaluation_periods=1)
    )
    assert list(of_type(template_of(stack), "AWS::CloudWatch::Alarm")) == [logical_id(stack, "Errors")]


def test_linear_deployment_uses_linear_steps(stack: cdk.Stack, platform: Platform, model: SageMakerModel) -> None:
    """GIVEN linear shifting in steps of 25 % of four instances
    WHEN the endpoint is synthesized
    THEN the routing is LINEAR with that step, and no canary size."""
    endpoint = _endpoint(
        stack,
        platform,
        model,
        variants=[InstanceVariant("ml.c5.large", 4)],
        traffic_shifting=TrafficShifting(mode="LINEAR", step_type="CAPACITY_PERCENT", step_value=25),
    )
    endpoint.add_rollback_alarm(
        endpoint.metric_server_errors().create_alarm(stack, "Errors", threshold=1, evaluation_periods=1)
    )
    routing = _one(stack, "AWS::SageMaker::Endpoint")["Properties"]["DeploymentConfig"]["BlueGreenUpdatePolicy"][
        "TrafficRoutingConfiguration"
    ]
    assert routing["Type"] == "LINEAR"
    assert routing["LinearStepSize"] == {"Type": "CAPACITY_PERCENT", "Value": 25}
    assert "CanarySize" not in routing


def test_added_rollback_alarms_are_rendered(stack: cdk.Stack, platform: Platform, model: SageMakerModel) -> None:
    """GIVEN traffic shifting
    WHEN two alarms are added after construction
    THEN both are rendered as rollback alarms, in order."""
    endpoint = _endpoint(stack, platform, model, traffic_shifting=CANARY)
    for name in ("First", "Second"):
        endpoint.add_rollback_alarm(
            endpoint.metric_client_errors().create_alarm(stack, name, threshold=100, evaluation_periods=1)
        )
    alarms = _one(stack, "AWS::SageMaker::Endpoint")["Properties"]["DeploymentConfig"]["AutoRollbackConfiguration"][
        "Alarms"
    ]
    assert alarms == [{"AlarmName": {"Ref": logical_id(stack, name)}} for name in ("First", "Second")]


def test_without_traffic_shifting_there_is_no_deployment_config(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN no traffic shifting WHEN the endpoint is synthesized THEN updates have no deployment config."""
    _endpoint(stack, platform, model)
    endpoint = _one(stack, "AWS::SageMaker::Endpoint")["Properties"]
    assert "DeploymentConfig" not in endpoint
    assert "RetainAllVariantProperties" not in endpoint


def test_retaining_instance_counts_keeps_weights_and_capture_following_the_config(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN an endpoint
    WHEN it is told to retain variant instance counts
    THEN updates keep the counts but take weights and data capture from the new config."""
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
    """GIVEN a client role
    WHEN it is granted invoke
    THEN it may call the three InvokeEndpoint actions on this endpoint only."""
    endpoint = _endpoint(stack, platform, model)
    client = iam.Role(stack, "Client", assumed_by=iam.AccountRootPrincipal())
    endpoint.grant_invoke(client)
    statement = _one(stack, "AWS::IAM::Policy")["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Action"] == [
        "sagemaker:InvokeEndpoint",
        "sagemaker:InvokeEndpointAsync",
        "sagemaker:InvokeEndpointWithResponseStream",
    ]
    assert statement["Resource"] == {"Ref": logical_id(stack, "Endpoint/Endpoint")}


def test_metric_helpers_name_the_endpoint_and_variant(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN a one-variant endpoint
    WHEN each metric helper is called
    THEN every metric names the endpoint and its variant, in the right namespace, with overrides applied."""
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
    assert (metrics["ModelLatency"].statistic, metrics["CPUUtilization"].statistic) == ("p99", "Average")
    assert metrics["Invocations"].statistic == "Sum"
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
    """GIVEN one bad argument WHEN the endpoint is built THEN a ValueError names the field and what is allowed."""
    with pytest.raises(ValueError, match=message):
        _endpoint(stack, platform, model, **kwargs)


def test_every_problem_is_reported_at_once(stack: cdk.Stack, platform: Platform, model: SageMakerModel) -> None:
    """GIVEN a bad name, a bad variant and capture without a URI
    WHEN the endpoint is built
    THEN one ValueError names the construct and all of them."""
    with pytest.raises(ValueError, match=r"^RealtimeEndpoint Test/Endpoint: 4 problems: ") as raised:
        _endpoint(
            stack,
            platform,
            model,
            endpoint_name="bad_name",
            variants=[InstanceVariant("c5.large", 0)],
            data_capture_percentage=10,
        )
    for problem in ("endpoint_name", "instance_type", "initial_instance_count", "data_capture_uri"):
        assert problem in str(raised.value)


def test_a_serverless_variant_cannot_serve_an_isolated_model(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN a network-isolated model WHEN a serverless endpoint serves it THEN construction fails."""
    isolated = make_model(stack, platform, "Isolated", network_isolation=True)
    with pytest.raises(ValueError, match="a serverless variant cannot serve a model with a VPC or network isolation"):
        _endpoint(stack, platform, isolated, variants=SERVERLESS)


@pytest.mark.parametrize(
    "variants",
    [TWO, ServerlessVariant(memory_size_mb=2048, max_concurrency=5), ManagedVariant("ml.m5.large", 0, 1)],
    ids=["instances", "serverless", "inference-components"],
)
def test_a_real_time_endpoint_refuses_a_model_that_would_wait_past_sagemakers_60_s(
    stack: cdk.Stack, platform: Platform, variants: Any
) -> None:
    """GIVEN a model whose server waits 61 s (the container allows an hour, for asynchronous requests)
    WHEN a real-time endpoint of any kind serves it
    THEN construction fails naming the endpoint and SageMaker's 60 s invocation limit."""
    slow = make_model(stack, platform, "Slow", server_timeout=cdk.Duration.seconds(61))
    with pytest.raises(
        ValueError,
        match=r"^RealtimeEndpoint Test/Endpoint: .*model's server_timeout \(61 s\) must be at most 60 s in real "
        r"time: .*API_runtime_InvokeEndpoint\.html",
    ):
        _endpoint(stack, platform, slow, variants=variants, execution_role=platform.role.role)
