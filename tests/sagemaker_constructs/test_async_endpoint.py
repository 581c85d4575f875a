"""An asynchronous endpoint: its AsyncInferenceConfig, its autoscaling to zero and back, its alarms and role."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sns as sns

# The same public names as test_endpoint_monitoring.py imports (duplicates pairs the lists): an import, not code.
from sagemaker_constructs import (
    AlarmDefaults,
    AlarmThresholds,
    AsyncEndpointAutoScaling,
    AsyncEndpointMonitoring,
    AsyncInference,
    EndpointMonitoring,
    InstanceVariant,
    ManagedVariant,
    RealtimeEndpoint,
    SageMakerModel,
    ServerlessVariant,
    TrafficShifting,
)
from sagemaker_constructs.scalable_capacity import ScalingLimits
from tests.helpers import Platform, logical_id, make_model, of_type, one_of_type, template_of

OUTPUT, FAILURES = "s3://artifacts-bucket/async-inference/output/", "s3://artifacts-bucket/async-inference/failures/"


def _endpoint(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel, *, topic: sns.ITopic | None = None, **kwargs: Any
) -> RealtimeEndpoint:
    arguments: dict[str, Any] = {
        "endpoint_name": "app-test",
        "model": model,
        "variants": [InstanceVariant("ml.m5.large", 1)],
        "encryption_key": platform.key,
        "async_inference": AsyncInference(OUTPUT, FAILURES, topic, 4),
    } | kwargs
    return RealtimeEndpoint(stack, "Endpoint", **arguments)


def _endpoint_monitoring(stack: cdk.Stack, endpoint: RealtimeEndpoint, defaults: AlarmDefaults) -> EndpointMonitoring:
    return EndpointMonitoring(
        stack,
        "Monitoring",
        endpoint=endpoint,
        alarm_defaults=defaults,
        thresholds=AlarmThresholds(),
        dashboard_name="app-test",
    )


def _monitoring(stack: cdk.Stack, endpoint: RealtimeEndpoint, defaults: AlarmDefaults) -> AsyncEndpointMonitoring:
    """The queue's monitoring beside the endpoint's own, whose alarm defaults and dashboard it takes."""
    return AsyncEndpointMonitoring(
        stack,
        "AsyncMonitoring",
        monitoring=_endpoint_monitoring(stack, endpoint, defaults),
        max_backlog_age=cdk.Duration.minutes(30),
        failure_rate_percent=1,
        backlog_per_instance=5,
    )


def test_results_and_failures_go_to_s3_encrypted_and_each_notifies_the_topic(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN an asynchronous endpoint with output and failure paths, a topic and a client concurrency
    WHEN synthesized
    THEN its config holds both paths, the endpoint's key for them, the topic for success and error, and the
    concurrency; the instance volume stays encrypted with the key."""
    topic = sns.Topic(stack, "Topic")
    _endpoint(stack, platform, model, topic=topic)
    config = one_of_type(template_of(stack), "AWS::SageMaker::EndpointConfig")["Properties"]
    output = config["AsyncInferenceConfig"]["OutputConfig"]
    key = {"Fn::GetAtt": [logical_id(stack, "Key"), "Arn"]}
    assert (output["S3OutputPath"], output["S3FailurePath"], output["KmsKeyId"]) == (OUTPUT, FAILURES, key)
    topic_ref = {"Ref": logical_id(stack, "Topic")}
    assert output["NotificationConfig"] == {"SuccessTopic": topic_ref, "ErrorTopic": topic_ref}
    assert config["AsyncInferenceConfig"]["ClientConfig"] == {"MaxConcurrentInvocationsPerInstance": 4}
    assert config["KmsKeyId"] == key


def test_an_asynchronous_request_may_take_the_hour_the_container_allows(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN a model whose server waits 3600 s (InvokeEndpointAsync's longest InvocationTimeoutSeconds)
    WHEN an asynchronous endpoint serves it THEN it synthesizes, the container told to wait that long."""
    patient = make_model(stack, platform, "Patient", server_timeout=cdk.Duration.seconds(3600))
    _endpoint(stack, platform, patient)
    environment = one_of_type(template_of(stack), "AWS::SageMaker::Model")["Properties"]["PrimaryContainer"]
    assert environment["Environment"]["SAGEMAKER_MODEL_SERVER_TIMEOUT"] == "3600"


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"variants": ServerlessVariant(2048, 5)}, "a serverless variant cannot serve asynchronously"),
        ({"variants": ManagedVariant("ml.m5.large", 0, 1)}, r"nor a ManagedVariant \(inference components\)"),
        ({"traffic_shifting": TrafficShifting(mode="CANARY")}, "traffic_shifting is not supported with async"),
        ({"data_capture_percentage": 10, "data_capture_uri": "s3://b/c/"}, "data_capture_percentage must be 0 with"),
        ({"async_inference": AsyncInference("https://example.com/out", FAILURES)}, r"output_uri must be s3://"),
        ({"async_inference": AsyncInference(OUTPUT, FAILURES, None, 0)}, r"must be 1-1000, got 0"),
        ({"async_inference": AsyncInference(OUTPUT, FAILURES, None, 1001)}, r"must be 1-1000, got 1001"),
    ],
)
def test_what_an_asynchronous_endpoint_cannot_have_is_refused(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel, arguments: dict[str, Any], error: str
) -> None:
    """GIVEN an asynchronous endpoint with one thing it cannot have WHEN constructed THEN a ValueError names it."""
    with pytest.raises(ValueError, match=error):
        _endpoint(stack, platform, model, **arguments)


def test_it_scales_on_its_backlog_to_zero_and_back_from_zero_as_aws_documents(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN an asynchronous endpoint scaled between 0 and 2 instances on 5 queued requests per instance, scaling in
    at most every 20 minutes
    WHEN synthesized
    THEN the target's floor is 0, target tracking follows ApproximateBacklogSizePerInstance of the endpoint, and an
    alarm on HasBacklogWithoutCapacity (two minutes) runs a step policy setting one instance: it scales, it never
    pages; the scale-out cooldown, the step's too, is the construct's default; each policy is named after the
    endpoint's variant and what it does."""
    endpoint = _endpoint(stack, platform, model)
    limits = ScalingLimits(0, 2, scale_in_cooldown=cdk.Duration.minutes(20))
    AsyncEndpointAutoScaling(stack, "Scaling", endpoint=endpoint, limits=limits)
    template = template_of(stack)
    target = one_of_type(template, "AWS::ApplicationAutoScaling::ScalableTarget")["Properties"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 2)
    assert target["ResourceId"] == "endpoint/app-test/variant/primary"
    policies = {
        p["Properties"]["PolicyType"]: p["Properties"]
        for p in of_type(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
    }
    assert {p["PolicyName"] for p in policies.values()} == {
        "app-test-primary-backlog-per-instance",
        "app-test-primary-from-zero",
    }
    tracking = policies["TargetTrackingScaling"]["TargetTrackingScalingPolicyConfiguration"]
    assert (tracking["TargetValue"], tracking["ScaleInCooldown"], tracking["ScaleOutCooldown"]) == (5, 1200, 300)
    assert tracking["CustomizedMetricSpecification"] == {
        "MetricName": "ApproximateBacklogSizePerInstance",
        "Namespace": "AWS/SageMaker",
        "Dimensions": [{"Name": "EndpointName", "Value": "app-test"}],
        "Statistic": "Average",
    }
    step = policies["StepScaling"]["StepScalingPolicyConfiguration"]
    assert step["StepAdjustments"] == [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]
    assert (step["AdjustmentType"], step["Cooldown"]) == ("ExactCapacity", 300)
    alarm = one_of_type(template, "AWS::CloudWatch::Alarm")["Properties"]
    assert (alarm["MetricName"], alarm["EvaluationPeriods"], alarm["Threshold"]) == ("HasBacklogWithoutCapacity", 2, 1)
    assert alarm["AlarmActions"] == [{"Ref": logical_id(stack, "Scaling/FromZero")}]
    assert "OKActions" not in alarm
    assert one_of_type(template, "AWS::SageMaker::Endpoint")["Properties"]["RetainAllVariantProperties"] is True


@pytest.mark.parametrize(
    ("limits", "error"),
    [
        (ScalingLimits(3, 2), r"min_capacity \(3\) must not exceed max_capacity \(2\)"),
        (ScalingLimits(-1, 2), r"min_capacity must be at least 0, got -1"),
        (ScalingLimits(0, 0), r"max_capacity must be at least 1, got 0"),
        (
            ScalingLimits(0, 2, scale_in_cooldown=cdk.Duration.millis(500)),
            r"scale_in_cooldown must be whole seconds, got 0\.5 seconds",
        ),
    ],
    ids=["min-above-max", "min-negative", "max-zero", "cooldown-part-seconds"],
)
def test_impossible_limits_are_refused(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel, limits: ScalingLimits, error: str
) -> None:
    """GIVEN an asynchronous endpoint WHEN scaled over an impossible range or cooldown THEN a ValueError names the
    construct and the field."""
    endpoint = _endpoint(stack, platform, model)
    with pytest.raises(ValueError, match=r"^AsyncEndpointAutoScaling Test/Scaling: " + error):
        AsyncEndpointAutoScaling(stack, "Scaling", endpoint=endpoint, limits=limits)


@pytest.mark.parametrize(
    ("make", "instead"),
    [
        (
            lambda stack, endpoint: AsyncEndpointAutoScaling(
                stack, "Scaling", endpoint=endpoint, limits=ScalingLimits(0, 2)
            ),
            "scale a real-time endpoint with EndpointAutoScaling",
        ),
        (
            lambda stack, endpoint: _monitoring(stack, endpoint, AlarmDefaults(sns.Topic(stack, "Alarms"))),
            "watch it with EndpointMonitoring alone",
        ),
    ],
    ids=["backlog scaling", "queue monitoring"],
)
def test_backlog_scaling_and_queue_monitoring_are_refused_on_a_real_time_endpoint(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel, make: Any, instead: str
) -> None:
    """GIVEN a real-time endpoint WHEN scaled on a backlog or its queue watched THEN refused, naming what to use
    instead: it has no queue."""
    endpoint = _endpoint(stack, platform, model, async_inference=None)
    with pytest.raises(ValueError, match=f"not asynchronous: {instead}"):
        make(stack, endpoint)


def test_its_alarms_page_on_age_failures_and_delivery_and_stay_quiet_at_zero(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN an asynchronous endpoint watched by AsyncEndpointMonitoring, beside EndpointMonitoring whose alarm
    defaults name alarms team-x-<what> and evaluate 10 minutes
    WHEN synthesized
    THEN three alarms notify the topic, named like the endpoint's own; each treats missing data (an endpoint idle at
    zero publishes none) as not breaching; the failure rate is evaluated over the 10 minutes, and a delivery failure
    pages at once; the dashboard shows the queue."""
    topic = sns.Topic(stack, "Alarms")
    defaults = AlarmDefaults(topic, "team-x", cdk.Duration.minutes(10))
    queue = _monitoring(stack, _endpoint(stack, platform, model, topic=topic), defaults)
    resources = template_of(stack)["Resources"]
    alarms = {
        a.node.id: resources[logical_id(stack, f"AsyncMonitoring/{a.node.id}")]["Properties"] for a in queue.alarms
    }
    assert [a["AlarmName"] for a in alarms.values()] == [
        "team-x-backlog-age",
        "team-x-invocation-failure-rate",
        "team-x-delivery-failures",
    ]
    assert all(a["TreatMissingData"] == "notBreaching" for a in alarms.values())
    assert all(a["AlarmActions"] == [{"Ref": logical_id(stack, "Alarms")}] for a in alarms.values())
    age = alarms["BacklogAge"]
    assert (age["MetricName"], age["Threshold"]) == ("ApproximateAgeOfOldestRequest", 1800)
    assert alarms["InvocationFailureRate"]["EvaluationPeriods"] == 10
    assert alarms["DeliveryFailures"]["EvaluationPeriods"] == 1
    body = str(one_of_type(template_of(stack), "AWS::CloudWatch::Dashboard")["Properties"]["DashboardBody"])
    assert "InvocationsProcesssed" in body and "ApproximateBacklogSize" in body


def test_endpoint_monitoring_leaves_out_what_an_asynchronous_endpoint_does_not_publish(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN an asynchronous endpoint watched by EndpointMonitoring
    WHEN synthesized
    THEN it has no 5XX-rate alarm (its denominator, Invocations, is not published) and no latency alarm (latency
    grows with bodies of up to 1 GB); the instance alarms remain."""
    _endpoint_monitoring(stack, _endpoint(stack, platform, model), AlarmDefaults(sns.Topic(stack, "Alarms")))
    names = {a["Properties"]["AlarmName"] for a in of_type(template_of(stack), "AWS::CloudWatch::Alarm").values()}
    assert names == {"app-test-cpu-high", "app-test-memory-high", "app-test-disk-high"}


def test_the_execution_role_may_publish_to_the_notification_topic_only(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN the execution role WHEN allowed an asynchronous endpoint's notifications to a topic
    THEN its policy allows sns:Publish on that topic, and on nothing else."""
    topic = sns.Topic(stack, "Notifications")
    platform.role.allow_async_notifications(topic)
    policy = template_of(stack)["Resources"][logical_id(stack, "ExecutionRole/Policy")]["Properties"]["PolicyDocument"]
    publish = [s for s in policy["Statement"] if "sns:Publish" in str(s["Action"])]
    assert publish == [
        {
            "Sid": "PublishAsyncNotifications",
            "Effect": "Allow",
            "Action": "sns:Publish",
            "Resource": {"Ref": logical_id(stack, "Notifications")},
        }
    ]
