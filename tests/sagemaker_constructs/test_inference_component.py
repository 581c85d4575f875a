"""InferenceComponent and ComponentAutoScaling: the model as a component, its copies scaling to zero and back."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam

from sagemaker_constructs import (
    ComponentAutoScaling,
    InferenceComponent,
    InstanceVariant,
    ManagedVariant,
    RealtimeEndpoint,
    SageMakerModel,
    TrafficShifting,
)
from sagemaker_constructs.scalable_capacity import ScalingLimits
from tests.helpers import Platform, make_endpoint, make_model, of_type, one_of_type, template_of

SCALES_TO_ZERO = ManagedVariant("ml.m5.large", 0, 2)


def _endpoint(stack: cdk.Stack, platform: Platform, model: SageMakerModel, **kwargs: Any) -> RealtimeEndpoint:
    """make_endpoint's, on a variant that scales to zero; a component's endpoint config needs the role."""
    return make_endpoint(
        stack, platform, model, **{"variants": SCALES_TO_ZERO, "execution_role": platform.role.role} | kwargs
    )


def _component(
    stack: cdk.Stack, endpoint: RealtimeEndpoint, model: SageMakerModel, **kwargs: Any
) -> InferenceComponent:
    arguments: dict[str, Any] = {
        "endpoint": endpoint,
        "model": model,
        "component_name": "app-test-model",
        "cpu_cores": 1,
        "memory_mb": 1024,
    } | kwargs
    return InferenceComponent(stack, "Component", **arguments)


def test_the_variant_names_no_model_and_the_component_does(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN a managed variant that may scale to zero instances
    WHEN a component serves the model on it
    THEN the variant has managed instance scaling from 0, a routing strategy, one first instance and no model;
    the endpoint config has the execution role; the component names the model, its resources and one copy."""
    endpoint = _endpoint(stack, platform, model)
    _component(stack, endpoint, model)
    config = one_of_type(template_of(stack), "AWS::SageMaker::EndpointConfig")["Properties"]
    variant = config["ProductionVariants"][0]
    assert "ModelName" not in variant
    assert variant["InitialInstanceCount"] == 1
    assert variant["ManagedInstanceScaling"] == {"Status": "ENABLED", "MinInstanceCount": 0, "MaxInstanceCount": 2}
    assert variant["RoutingConfig"] == {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}
    assert "ExecutionRoleArn" in config
    component = one_of_type(template_of(stack), "AWS::SageMaker::InferenceComponent")["Properties"]
    assert component["InferenceComponentName"] == "app-test-model"
    assert component["RuntimeConfig"] == {"CopyCount": 1}
    assert component["Specification"]["ComputeResourceRequirements"] == {
        "NumberOfCpuCoresRequired": 1,
        "MinMemoryRequiredInMb": 1024,
    }


def test_the_endpoint_metrics_become_the_components(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN an endpoint hosting a component
    WHEN its invocation metrics are read
    THEN they carry the InferenceComponentName dimension (SageMaker reports a component's requests per component)."""
    endpoint = _endpoint(stack, platform, model)
    _component(stack, endpoint, model)
    assert endpoint.metric_invocations().dimensions == {"InferenceComponentName": "app-test-model"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"variants": [InstanceVariant("ml.c5.large", 2)]}, r"endpoint must have a ManagedVariant"),
        ({"execution_role": None}, r"execution_role is required with inference components"),
        ({"data_capture_percentage": 10, "data_capture_uri": "s3://b/c"}, r"data_capture_percentage must be 0"),
        ({"traffic_shifting": TrafficShifting(mode="CANARY")}, r"traffic_shifting does not apply to inference comp"),
        ({"variants": ManagedVariant("ml.m5.large", 3, 2)}, r"needs 0 <= min_instances <= max_instances"),
    ],
)
def test_what_a_component_endpoint_cannot_have_is_refused(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel, kwargs: dict[str, Any], message: str
) -> None:
    """GIVEN an argument a component endpoint cannot take (each its worst case)
    WHEN the endpoint and component are built
    THEN a ValueError names it."""
    with pytest.raises(ValueError, match=message):
        _component(stack, _endpoint(stack, platform, model, **kwargs), model)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cpu_cores": 0.1}, r"cpu_cores must be at least 0\.25"),
        ({"memory_mb": 64}, r"memory_mb must be at least 128"),
        ({"component_name": "has space"}, r"component_name must be 1-63 letters"),
        ({"initial_copies": -1}, r"initial_copies must be at least 0"),
    ],
)
def test_a_component_argument_below_what_sagemaker_takes_is_refused(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel, kwargs: dict[str, Any], message: str
) -> None:
    """GIVEN a component argument below SageMaker's documented minimum (botocore's model)
    WHEN the component is built THEN a ValueError names it."""
    with pytest.raises(ValueError, match=message):
        _component(stack, _endpoint(stack, platform, model), model, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"container_startup_health_check_timeout": cdk.Duration.seconds(59)},
            r"container_startup_health_check_timeout must be 60-3600 s, got 59 s",
        ),
        (
            {"model_data_download_timeout": cdk.Duration.seconds(3601)},
            r"model_data_download_timeout must be 60-3600 s, got 3601 s",
        ),
    ],
)
def test_a_startup_timeout_outside_what_sagemaker_takes_is_refused(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel, kwargs: dict[str, Any], message: str
) -> None:
    """GIVEN a component's startup timeout a second outside SageMaker's bounds (botocore's
    InferenceComponentStartupParameters), its endpoint taking none
    WHEN the component is built THEN a ValueError names the timeout and the bounds."""
    with pytest.raises(ValueError, match=message):
        _component(stack, _endpoint(stack, platform, model), model, **kwargs)


def test_a_second_component_on_one_endpoint_is_refused(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN an endpoint hosting a component
    WHEN a second component is built on it
    THEN a ValueError names the first (the endpoint's metrics and invoke grant name one component)."""
    endpoint = _endpoint(stack, platform, model)
    _component(stack, endpoint, model)
    with pytest.raises(ValueError, match=r"the endpoint hosts app-test-model already: one inference component only"):
        InferenceComponent(
            stack,
            "Second",
            endpoint=endpoint,
            model=model,
            component_name="app-test-other",
            cpu_cores=1,
            memory_mb=1024,
        )


def test_a_component_refuses_a_model_that_would_wait_past_sagemakers_60_s(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN a model whose server waits 61 s, hosted as a component (its endpoint's own model is another)
    WHEN the component is built THEN a ValueError names the component and SageMaker's 60 s invocation limit."""
    slow = make_model(stack, platform, "Slow", server_timeout=cdk.Duration.seconds(61))
    with pytest.raises(ValueError, match=r"^InferenceComponent Test/Component: .*\(61 s\) must be at most 60 s"):
        _component(stack, _endpoint(stack, platform, model), slow)


def test_copies_scale_to_zero_and_out_again_on_the_first_refused_request(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN a component with a floor of 0 copies
    WHEN it autoscales
    THEN the scalable target is its DesiredCopyCount from 0, target tracking follows invocations per copy, and
    an alarm on NoCapacityInvocationFailures (Maximum over 30 s, missing data left missing) runs a step policy
    setting one copy (AWS's procedure to scale out from zero adds one; setting one cannot add a copy per minute the
    alarm stays in ALARM while an instance is provisioned). Each policy is named after the component and what it
    does."""
    component = _component(stack, _endpoint(stack, platform, model), model)
    scaling = ComponentAutoScaling(
        stack, "Scaling", component=component, limits=ScalingLimits(0, 3), max_requests_per_second=10
    )
    template = template_of(stack)
    target = one_of_type(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["Properties"]["ResourceId"] == "inference-component/app-test-model"
    assert target["Properties"]["MinCapacity"] == 0
    assert target["DependsOn"] == [stack.get_logical_id(component.component)]
    assert scaling.target_invocations_per_copy == 300
    assert {
        p["Properties"]["PolicyName"] for p in of_type(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
    } == {
        "app-test-model-invocations-per-copy",
        "app-test-model-scale-out-from-zero",
    }
    alarm = one_of_type(template, "AWS::CloudWatch::Alarm")["Properties"]
    assert (alarm["MetricName"], alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == (
        "NoCapacityInvocationFailures",
        "Maximum",
        30,
        1,
    )
    assert alarm["TreatMissingData"] == "missing"
    assert scaling.scale_out_from_zero is not None
    assert alarm["AlarmActions"] == [{"Ref": stack.get_logical_id(scaling.scale_out_from_zero)}]
    step = template["Resources"][stack.get_logical_id(scaling.scale_out_from_zero)]["Properties"]
    step = step["StepScalingPolicyConfiguration"]
    assert (step["AdjustmentType"], step["StepAdjustments"][0]["ScalingAdjustment"]) == ("ExactCapacity", 1)


def test_copies_that_never_reach_zero_need_no_scale_out_from_zero(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN a component with a floor of 1 copy WHEN it autoscales THEN there is no step policy and no alarm."""
    variant = ManagedVariant("ml.m5.large", 1, 2)
    component = _component(stack, _endpoint(stack, platform, model, variants=variant), model)
    ComponentAutoScaling(stack, "Scaling", component=component, limits=ScalingLimits(1, 2), max_requests_per_second=5)
    assert len(of_type(template_of(stack), "AWS::ApplicationAutoScaling::ScalingPolicy")) == 1
    assert not of_type(template_of(stack), "AWS::CloudWatch::Alarm")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limits": ScalingLimits(3, 2)}, r"min_capacity \(3\) must not exceed max_capacity \(2\)"),
        ({"limits": ScalingLimits(-1, 2)}, r"min_capacity must be at least 0, got -1"),
        ({"limits": ScalingLimits(0, 0)}, r"max_capacity must be at least 1, got 0"),
        (
            {"limits": ScalingLimits(0, 2, scale_out_cooldown=cdk.Duration.millis(61_500))},
            r"scale_out_cooldown must be whole seconds, got 61\.5 seconds",
        ),
        ({"max_requests_per_second": 0}, r"max_requests_per_second must be above 0"),
        ({"safety_factor": 1.5}, r"safety_factor must be above 0 and at most 1"),
    ],
    ids=["min-above-max", "min-negative", "max-zero", "cooldown-part-seconds", "requests-per-second", "safety"],
)
def test_a_copy_range_or_target_out_of_bounds_is_refused(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel, kwargs: dict[str, Any], message: str
) -> None:
    """GIVEN a copy range, cooldown or target that cannot scale WHEN autoscaling is built THEN a ValueError names the
    construct and the field."""
    component = _component(stack, _endpoint(stack, platform, model), model)
    arguments: dict[str, Any] = {"limits": ScalingLimits(0, 2), "max_requests_per_second": 5} | kwargs
    with pytest.raises(ValueError, match=r"^ComponentAutoScaling Test/Scaling: " + message):
        ComponentAutoScaling(stack, "Scaling", component=component, **arguments)


def test_invoking_is_granted_on_the_endpoint_and_its_component(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN an endpoint hosting a component WHEN a role is granted invoke THEN on both ARNs, nothing else."""
    endpoint = _endpoint(stack, platform, model)
    _component(stack, endpoint, model)
    role = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())
    endpoint.grant_invoke(role)
    (statement,) = one_of_type(template_of(stack), "AWS::IAM::Policy")["Properties"]["PolicyDocument"]["Statement"]
    assert sorted(statement["Resource"], key=json.dumps) == [
        "arn:aws:sagemaker:us-east-1:123456789012:inference-component/app-test-model",
        {"Ref": stack.get_logical_id(endpoint.endpoint)},
    ]
