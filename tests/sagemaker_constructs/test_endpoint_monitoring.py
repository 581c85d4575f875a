"""EndpointMonitoring: alarms that page and roll back, and a dashboard built from metric helpers."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sns as sns

from sagemaker_constructs import (
    AlarmDefaults,
    AlarmThresholds,
    EndpointMonitoring,
    InstanceVariant,
    RealtimeEndpoint,
    SageMakerModel,
    ServerlessVariant,
    TrafficShifting,
)
from tests.helpers import Platform, logical_id, make_endpoint, of_type, one_of_type, template_of

ALARMS = (
    "ServerErrorRate",
    "ModelLatencyP99",
    "ContainerErrorRate",
    "ClientErrorRate",
    "CpuHigh",
    "MemoryHigh",
    "DiskHigh",
    "NoInvocations",
    "InstancesBelowMinimum",
)


def _endpoint(stack: cdk.Stack, platform: Platform, model: SageMakerModel, variants: Any = None) -> RealtimeEndpoint:
    serverless = isinstance(variants, ServerlessVariant)
    shifting = None if serverless or (variants and len(variants) > 1) else TrafficShifting(mode="CANARY")
    return make_endpoint(stack, platform, model, variants, traffic_shifting=shifting)


def _monitoring(
    stack: cdk.Stack,
    endpoint: RealtimeEndpoint,
    *,
    name_prefix: str | None = None,
    evaluation: cdk.Duration = cdk.Duration.minutes(5),
    **kwargs: Any,
) -> EndpointMonitoring:
    """`endpoint` monitored with every alarm; `name_prefix` and `evaluation` go into the alarm defaults."""
    arguments: dict[str, Any] = {
        "endpoint": endpoint,
        "alarm_defaults": AlarmDefaults(sns.Topic(stack, "Topic"), name_prefix, evaluation),
        "thresholds": AlarmThresholds(no_invocations=cdk.Duration.minutes(30)),
        "dashboard_name": "app-test",
        "container_metrics_namespace": "app",
        "min_capacity": 2,
        "max_capacity": 4,
    } | kwargs
    return EndpointMonitoring(stack, "Monitoring", **arguments)


def _alarms(stack: cdk.Stack, names: tuple[str, ...] = ALARMS) -> dict[str, dict[str, Any]]:
    """The alarms' properties by construct id, found by construct path."""
    resources = template_of(stack)["Resources"]
    return {name: dict(resources[logical_id(stack, f"Monitoring/{name}")]["Properties"]) for name in names}


def _alarm_count(stack: cdk.Stack) -> int:
    return len(of_type(template_of(stack), "AWS::CloudWatch::Alarm"))


def test_it_creates_every_operational_alarm(stack: cdk.Stack, platform: Platform, model: SageMakerModel) -> None:
    """GIVEN an instance endpoint with min capacity and a no-invocations window
    WHEN it is monitored
    THEN every operational alarm exists, and no other."""
    _monitoring(stack, _endpoint(stack, platform, model))
    assert len(_alarms(stack)) == _alarm_count(stack) == len(ALARMS)


def test_alarm_names_say_which_endpoint_and_what(stack: cdk.Stack, platform: Platform, model: SageMakerModel) -> None:
    """GIVEN an endpoint named app-test
    WHEN it is monitored
    THEN each alarm is named app-test-<what>, deterministically, so a page says where and what."""
    _monitoring(stack, _endpoint(stack, platform, model))
    names = {name: alarm["AlarmName"] for name, alarm in _alarms(stack).items()}
    assert names["ServerErrorRate"] == "app-test-server-error-rate"
    assert names["ModelLatencyP99"] == "app-test-model-latency-p99"
    assert names["InstancesBelowMinimum"] == "app-test-instances-below-minimum"
    assert all(name.startswith("app-test-") for name in names.values())


def test_the_alarm_name_prefix_can_be_given(stack: cdk.Stack, platform: Platform, model: SageMakerModel) -> None:
    """GIVEN alarm defaults with a name prefix
    WHEN the endpoint is monitored
    THEN the alarm names start with it instead of the endpoint name."""
    _monitoring(stack, _endpoint(stack, platform, model), name_prefix="team-x")
    assert _alarms(stack, ("CpuHigh",))["CpuHigh"]["AlarmName"] == "team-x-cpu-high"


def test_error_rate_latency_and_container_alarms_roll_deployments_back(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN an endpoint with traffic shifting
    WHEN it is monitored
    THEN the 5XX-rate, latency and container-error alarms, and only those, roll a deployment back."""
    _monitoring(stack, _endpoint(stack, platform, model))
    endpoint = one_of_type(template_of(stack), "AWS::SageMaker::Endpoint")
    rollback = endpoint["Properties"]["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    assert sorted(a["AlarmName"]["Ref"] for a in rollback) == sorted(
        logical_id(stack, f"Monitoring/{name}") for name in ("ContainerErrorRate", "ModelLatencyP99", "ServerErrorRate")
    )


def _container_metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """The container metrics an alarm's expression reads: namespace, name and dimensions of each."""
    return [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]


def test_the_container_error_alarm_reads_the_deployed_models_fleet_and_no_client_errors(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN a monitored endpoint and the model version being deployed
    WHEN the container-error alarm is synthesized
    THEN it reads ModelErrors, ServerErrors and Requests of that model version only, never ClientErrors."""
    _monitoring(stack, _endpoint(stack, platform, model), model_version="v-new")
    alarm = _alarms(stack, ("ContainerErrorRate",))["ContainerErrorRate"]
    metrics = _container_metrics(alarm)
    assert sorted(m["MetricName"] for m in metrics) == ["ModelErrors", "Requests", "ServerErrors"]
    for metric in metrics:
        assert metric["Namespace"] == "app"
        assert {d["Name"]: d["Value"] for d in metric["Dimensions"]}["ModelVersion"] == "v-new"
    assert "v-new" in alarm["AlarmDescription"]


def test_a_flood_of_client_errors_warns_and_rolls_nothing_back(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN a monitored endpoint with traffic shifting
    WHEN the alarms are synthesized
    THEN ClientErrors feed one warning alarm, which says it is the callers and is no rollback alarm,
    and no rollback alarm reads ClientErrors."""
    _monitoring(stack, _endpoint(stack, platform, model), model_version="v-new")
    alarms = _alarms(stack)
    client = alarms["ClientErrorRate"]
    assert sorted(m["MetricName"] for m in _container_metrics(client)) == ["ClientErrors", "Requests"]
    assert "the callers" in client["AlarmDescription"] and "no deployment is rolled back" in client["AlarmDescription"]
    endpoint = one_of_type(template_of(stack), "AWS::SageMaker::Endpoint")
    rollback = {
        a["AlarmName"]["Ref"] for a in endpoint["Properties"]["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    }
    assert logical_id(stack, "Monitoring/ClientErrorRate") not in rollback
    for name in ("ServerErrorRate", "ModelLatencyP99", "ContainerErrorRate"):
        read = [m.get("MetricStat", {}).get("Metric", {}).get("MetricName") for m in alarms[name].get("Metrics", [])]
        assert "ClientErrors" not in [*read, alarms[name].get("MetricName")], name


def test_the_error_rate_is_a_percentage_of_invocations(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN a 2.5 % server-error threshold
    WHEN the endpoint is monitored
    THEN the alarm divides 5XX by invocations and fires after 5 of 5 breaching minutes."""
    _monitoring(stack, _endpoint(stack, platform, model), thresholds=AlarmThresholds(server_error_rate_percent=2.5))
    alarm = _alarms(stack, ("ServerErrorRate",))["ServerErrorRate"]
    expression = next(m for m in alarm["Metrics"] if "Expression" in m)
    assert expression["Expression"] == "100 * errors / MAX([errors, invocations])"
    assert alarm["Threshold"] == 2.5
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 5


def test_silence_counts_as_breaching_for_the_no_invocations_alarm(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN a 30-minute no-invocations window
    WHEN the endpoint is monitored
    THEN missing data breaches, over 30 one-minute periods."""
    _monitoring(stack, _endpoint(stack, platform, model))
    alarm = _alarms(stack, ("NoInvocations",))["NoInvocations"]
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["EvaluationPeriods"] == 30


def test_alarms_notify_on_alarm_and_ok_with_a_runbook_description(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN a monitored endpoint
    WHEN any alarm changes state
    THEN the topic hears of ALARM and of OK, and the description names causes and a first action."""
    _monitoring(stack, _endpoint(stack, platform, model))
    topic = {"Ref": logical_id(stack, "Topic")}
    for name, alarm in _alarms(stack).items():
        assert alarm["AlarmActions"] == alarm["OKActions"] == [topic], name
        assert "Likely causes:" in alarm["AlarmDescription"] and "First action:" in alarm["AlarmDescription"]


def test_a_serverless_endpoint_gets_no_instance_alarms(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN a serverless endpoint
    WHEN it is monitored
    THEN only the error-rate, latency, container and client alarms exist (there are no instances)."""
    _monitoring(
        stack, _endpoint(stack, platform, model, ServerlessVariant(2048, 5)), min_capacity=None, max_capacity=None
    )
    names = ("ServerErrorRate", "ModelLatencyP99", "ContainerErrorRate", "ClientErrorRate")
    assert len(_alarms(stack, names)) == _alarm_count(stack)


def test_without_the_container_namespace_there_is_no_container_alarm(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN no container metrics namespace
    WHEN the endpoint is monitored
    THEN there is no container alarm, and asking for a container metric says why."""
    monitoring = _monitoring(stack, _endpoint(stack, platform, model), container_metrics_namespace=None)
    assert monitoring.node.try_find_child("ContainerErrorRate") is None
    with pytest.raises(ValueError, match="container_metrics_namespace was not given"):
        monitoring.metric_container("Requests")


def test_metric_options_override_the_defaults(stack: cdk.Stack, platform: Platform, model: SageMakerModel) -> None:
    """GIVEN a monitored endpoint
    WHEN a metric helper gets keyword options
    THEN they replace the defaults (Sum per minute) and the rest stays."""
    monitoring = _monitoring(stack, _endpoint(stack, platform, model))
    metric = monitoring.metric_container("Requests", period=cdk.Duration.minutes(5), label="requests")
    assert (metric.statistic, metric.period.to_minutes(), metric.label) == ("Sum", 5, "requests")
    latency = monitoring.endpoint.metric_model_latency(statistic="p50")
    assert (latency.statistic, latency.period.to_minutes()) == ("p50", 1)


def test_the_watched_variant_is_explicit_when_there_are_several(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN an endpoint with variants blue and green
    WHEN it is monitored with variant_name green
    THEN every alarm metric is green's."""
    variants = [InstanceVariant("ml.c5.large", 2, "blue", 0.5), InstanceVariant("ml.c5.large", 2, "green", 0.5)]
    _monitoring(stack, _endpoint(stack, platform, model, variants), variant_name="green")
    latency = _alarms(stack, ("ModelLatencyP99",))["ModelLatencyP99"]
    assert {"Name": "VariantName", "Value": "green"} in latency["Dimensions"]


def test_several_variants_without_a_variant_name_are_rejected(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN an endpoint with two variants
    WHEN it is monitored without variant_name
    THEN construction fails: it would watch one of them silently."""
    variants = [InstanceVariant("ml.c5.large", 2, "blue", 0.5), InstanceVariant("ml.c5.large", 2, "green", 0.5)]
    endpoint = _endpoint(stack, platform, model, variants)
    with pytest.raises(ValueError, match=r"variant_name must be one of \['blue', 'green'\] \(required"):
        _monitoring(stack, endpoint)
    with pytest.raises(ValueError, match=r"variant_name is required"):
        endpoint.metric_invocations()


def test_gpu_instances_get_gpu_widgets(stack: cdk.Stack, platform: Platform, model: SageMakerModel) -> None:
    """GIVEN an endpoint on ml.g5 instances
    WHEN it is monitored
    THEN the dashboard graphs GPU utilization."""
    _monitoring(stack, _endpoint(stack, platform, model, [InstanceVariant("ml.g5.xlarge", 2)]))
    dashboard = one_of_type(template_of(stack), "AWS::CloudWatch::Dashboard")
    assert "GPUUtilization" in str(dashboard["Properties"]["DashboardBody"])


def test_cpu_instances_get_no_gpu_widgets(stack: cdk.Stack, platform: Platform, model: SageMakerModel) -> None:
    """GIVEN an endpoint on CPU instances
    WHEN it is monitored
    THEN the dashboard (with the given name) has no GPU graphs."""
    _monitoring(stack, _endpoint(stack, platform, model))
    dashboard = one_of_type(template_of(stack), "AWS::CloudWatch::Dashboard")
    assert "GPUUtilization" not in str(dashboard["Properties"]["DashboardBody"])
    assert dashboard["Properties"]["DashboardName"] == "app-test"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"thresholds": AlarmThresholds(server_error_rate_percent=0)}, r"thresholds\.server_error_rate_percent must"),
        (
            {"thresholds": AlarmThresholds(container_error_rate_percent=150)},
            r"thresholds\.container_error_rate_percent",
        ),
        (
            {"evaluation": cdk.Duration.hours(2)},
            r"alarm_defaults\.evaluation must be 1-60 whole minutes, got 120",
        ),
        ({"evaluation": cdk.Duration.seconds(90)}, r"alarm_defaults\.evaluation must be 1-60 whole minutes, got 1\.5"),
        (
            {"thresholds": AlarmThresholds(no_invocations=cdk.Duration.minutes(0))},
            r"thresholds\.no_invocations must be whole minutes, at least 1, got 0 minutes",
        ),
        (
            {"thresholds": AlarmThresholds(no_invocations=cdk.Duration.seconds(90))},
            r"thresholds\.no_invocations must be whole minutes, at least 1, got 1\.5 minutes",
        ),
        ({"name_prefix": ""}, r"alarm_defaults\.name_prefix must be letters, digits, '\.', '_' or '-', got ''"),
        ({"min_capacity": 5, "max_capacity": 4}, r"min_capacity \(5\) must not exceed max_capacity \(4\)"),
        ({"variant_name": "blue"}, r"variant_name must be one of \['primary'\] \(got 'blue'\)"),
    ],
    ids=[
        "error-rate",
        "container-rate",
        "evaluation",
        "evaluation-part-minute",
        "no-invocations-zero",
        "no-invocations-part-minute",
        "name-prefix",
        "capacity",
        "variant",
    ],
)
def test_bad_settings_are_rejected(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel, kwargs: dict[str, Any], message: str
) -> None:
    """GIVEN one bad argument
    WHEN the endpoint is monitored
    THEN a ValueError names the field and what is allowed."""
    with pytest.raises(ValueError, match=message):
        _monitoring(stack, _endpoint(stack, platform, model), **kwargs)


def test_every_problem_is_reported_at_once(stack: cdk.Stack, platform: Platform, model: SageMakerModel) -> None:
    """GIVEN three bad arguments
    WHEN the endpoint is monitored
    THEN one ValueError names the construct and all three."""
    thresholds = AlarmThresholds(server_error_rate_percent=0)
    with pytest.raises(ValueError, match=r"^EndpointMonitoring Test/Monitoring: 3 problems: ") as raised:
        _monitoring(
            stack,
            _endpoint(stack, platform, model),
            thresholds=thresholds,
            evaluation=cdk.Duration.hours(2),
            min_capacity=5,
        )
    for field in ("server_error_rate_percent", "evaluation", "min_capacity"):
        assert field in str(raised.value)


def test_traffic_shifting_without_any_rollback_alarm_fails_synthesis(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN an endpoint with traffic shifting and no monitoring
    WHEN the stack is synthesized
    THEN synthesis fails: a shift without rollback alarms would be blind."""
    _endpoint(stack, platform, model)
    with pytest.raises(RuntimeError, match="traffic_shifting needs at least one rollback alarm"):
        template_of(stack)
