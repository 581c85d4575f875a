"""The inference stack of each environment, and what a promotion (a new pin) changes."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import botocore.session
import pytest

from config import parse_config
from config.settings import DEFAULT_CONFIG_FILE
from sagemaker_constructs.endpoint_autoscaling import invocations_per_instance_target
from scripts.render_dashboard import dashboard_body
from tests.helpers import (
    ROOT,
    TEST_ACCOUNT,
    Synthesized,
    config_with_prod_pin,
    of_type,
    one_of_type,
    synthesize,
    synthesize_once,
)

ROLLBACK_ALARMS = ("ServerErrorRate", "ModelLatencyP99", "ContainerErrorRate")


def test_dev_hosts_an_inference_component_that_scales_to_zero_and_back(synthesized: Synthesized) -> None:
    """GIVEN dev's configuration (inference_component, min_instances = 0)
    WHEN the app is synthesized
    THEN the variant has no model, managed instance scaling from 0 and a routing strategy, and the endpoint config
    the execution role; the component serves the model; its copy count scales 0..max on invocations per copy,
    and back out from zero by a step policy run by an alarm on NoCapacityInvocationFailures (AWS's procedure);
    the endpoint has no canary, and the stack outputs the component's name for callers."""
    template = synthesized.template("dev", "Inference")
    settings = synthesized.config.environment("dev").endpoint.inference_component
    assert settings is not None
    config = one_of_type(template, "AWS::SageMaker::EndpointConfig")["Properties"]
    variant = config["ProductionVariants"][0]
    assert "ModelName" not in variant
    assert variant["ManagedInstanceScaling"] == {
        "Status": "ENABLED",
        "MinInstanceCount": 0,
        "MaxInstanceCount": settings.max_instances,
    }
    assert variant["RoutingConfig"] == {"RoutingStrategy": settings.routing_strategy}
    assert "ExecutionRoleArn" in config
    assert "DeploymentConfig" not in one_of_type(template, "AWS::SageMaker::Endpoint")["Properties"]
    component = one_of_type(template, "AWS::SageMaker::InferenceComponent")["Properties"]
    name = component["InferenceComponentName"]
    assert component["Specification"]["ModelName"] == {
        "Fn::GetAtt": [synthesized.logical_id("dev", "Inference", "Model/Model"), "ModelName"]
    }
    assert component["Specification"]["ComputeResourceRequirements"] == {
        "NumberOfCpuCoresRequired": settings.cpu_cores_per_copy,
        "MinMemoryRequiredInMb": settings.memory_mb_per_copy,
    }
    target = one_of_type(template, "AWS::ApplicationAutoScaling::ScalableTarget")["Properties"]
    assert (target["ResourceId"], target["ScalableDimension"], target["MinCapacity"]) == (
        f"inference-component/{name}",
        "sagemaker:inference-component:DesiredCopyCount",
        0,
    )
    policies = {
        p["Properties"]["PolicyType"]: p["Properties"]
        for p in of_type(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
    }
    tracking = policies["TargetTrackingScaling"]["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
        "SageMakerInferenceComponentInvocationsPerCopy"
    )
    assert tracking["TargetValue"] == invocations_per_instance_target(
        settings.max_requests_per_second, settings.safety_factor
    )
    step = policies["StepScaling"]["StepScalingPolicyConfiguration"]
    assert step["StepAdjustments"] == [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]
    wake = next(
        a["Properties"]
        for a in of_type(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "NoCapacityInvocationFailures"
    )
    assert wake["Dimensions"] == [{"Name": "InferenceComponentName", "Value": name}]
    assert wake["AlarmActions"] == [
        {"Ref": synthesized.logical_id("dev", "Inference", "ComponentAutoScaling/ScaleOutFromZero")}
    ]
    assert template["Outputs"]["InferenceComponentName"]["Value"] == name


def test_what_the_local_runner_cannot_check_of_the_component_botocore_does(synthesized: Synthesized) -> None:
    """GIVEN dev's component, its scalable target and policies (moto has no model of them: the local runner stores
    them unchecked, local_sagemaker/not_emulated.py)
    WHEN they are read against botocore's service models
    THEN the scalable dimension and the tracked metric are values Application Auto Scaling offers, and the
    component's name and resources are within SageMaker's CreateInferenceComponent shapes."""
    template = synthesized.template("dev", "Inference")
    session = botocore.session.get_session()
    scaling, sagemaker = session.get_service_model("application-autoscaling"), session.get_service_model("sagemaker")
    target = one_of_type(template, "AWS::ApplicationAutoScaling::ScalableTarget")["Properties"]
    assert target["ScalableDimension"] in scaling.shape_for("ScalableDimension").enum
    for policy in of_type(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values():
        tracking = policy["Properties"].get("TargetTrackingScalingPolicyConfiguration")
        if tracking:
            assert (
                tracking["PredefinedMetricSpecification"]["PredefinedMetricType"]
                in scaling.shape_for("MetricType").enum
            )
        else:
            step = policy["Properties"]["StepScalingPolicyConfiguration"]
            assert step["AdjustmentType"] in scaling.shape_for("AdjustmentType").enum
    component = one_of_type(template, "AWS::SageMaker::InferenceComponent")["Properties"]
    name = sagemaker.shape_for("InferenceComponentName").metadata
    assert re.fullmatch(name["pattern"], component["InferenceComponentName"])
    assert len(component["InferenceComponentName"]) <= name["max"]
    compute = component["Specification"]["ComputeResourceRequirements"]
    requirements = sagemaker.shape_for("InferenceComponentComputeResourceRequirements").members
    assert compute["NumberOfCpuCoresRequired"] >= requirements["NumberOfCpuCoresRequired"].metadata["min"]
    assert compute["MinMemoryRequiredInMb"] >= requirements["MinMemoryRequiredInMb"].metadata["min"]


def test_dev_at_zero_pages_nobody(synthesized: Synthesized) -> None:
    """GIVEN dev's endpoint, which scales to zero
    WHEN the app is synthesized
    THEN no alarm pages on silence or on missing instances: every paging alarm treats missing data as not
    breaching, none watches instances or invocations' absence, and the scale-out alarm notifies nobody."""
    alarms = [
        a["Properties"] for a in of_type(synthesized.template("dev", "Inference"), "AWS::CloudWatch::Alarm").values()
    ]
    names = {a["AlarmName"] for a in alarms}
    assert not {n for n in names if n.endswith(("no-invocations", "instances-below-minimum", "cpu-high"))}
    paging = [a for a in alarms if a.get("MetricName") != "NoCapacityInvocationFailures"]
    assert paging and all(a["TreatMissingData"] == "notBreaching" for a in paging)
    wake = [a for a in alarms if a.get("MetricName") == "NoCapacityInvocationFailures"]
    assert len(wake) == 1 and "OKActions" not in wake[0] and len(wake[0]["AlarmActions"]) == 1


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_staging_and_prod_deploy_by_canary_with_rollback_autoscale_and_capture(
    synthesized: Synthesized, environment: str
) -> None:
    """GIVEN staging's and prod's configuration
    WHEN the app is synthesized
    THEN the endpoint runs at least two encrypted instances, captures data, deploys by canary rolling back
    on the three monitoring alarms, keeps autoscaling's counts, and serves a network-isolated model."""
    template = synthesized.template(environment, "Inference")
    config = one_of_type(template, "AWS::SageMaker::EndpointConfig")["Properties"]
    endpoint = one_of_type(template, "AWS::SageMaker::Endpoint")["Properties"]
    assert config["ProductionVariants"][0]["InitialInstanceCount"] >= 2  # SageMaker spreads them across AZs
    assert "KmsKeyId" in config
    assert config["DataCaptureConfig"]["InitialSamplingPercentage"] > 0
    routing = endpoint["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == "CANARY"
    rollback = {a["AlarmName"]["Ref"] for a in endpoint["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]}
    assert rollback == {synthesized.logical_id(environment, "Inference", f"Monitoring/{a}") for a in ROLLBACK_ALARMS}
    assert endpoint["RetainAllVariantProperties"] is True
    target = one_of_type(template, "AWS::ApplicationAutoScaling::ScalableTarget")["Properties"]
    assert target["MinCapacity"] >= 2
    model = one_of_type(template, "AWS::SageMaker::Model")["Properties"]
    assert model["EnableNetworkIsolation"] is True


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_the_endpoint_name_is_fixed_and_exported(synthesized: Synthesized, environment: str) -> None:
    """GIVEN each environment
    WHEN the app is synthesized
    THEN the endpoint is named <app>-<env> and the name is exported for clients."""
    template = synthesized.template(environment, "Inference")
    name = f"sagemaker-gbdt-{environment}"
    assert one_of_type(template, "AWS::SageMaker::Endpoint")["Properties"]["EndpointName"] == name
    assert template["Outputs"]["EndpointName"]["Value"] == name
    assert template["Outputs"]["EndpointName"]["Export"] == {"Name": f"{name}-endpoint-name"}


def test_dev_serves_the_pinned_artifact_from_the_artifacts_bucket(synthesized: Synthesized) -> None:
    """GIVEN dev's artifact pin
    WHEN the app is synthesized
    THEN the model serves the image and s3://<artifacts bucket>/<pin>."""
    container = one_of_type(synthesized.template("dev", "Inference"), "AWS::SageMaker::Model")["Properties"][
        "PrimaryContainer"
    ]
    url = container["ModelDataUrl"]
    pin = synthesized.config.environment("dev").endpoint.model_artifact_key
    assert url["Fn::Join"][1][0] == "s3://"
    assert "ArtifactsBucket" in str(url["Fn::Join"][1][1])
    assert url["Fn::Join"][1][2] == f"/{pin}"
    assert "ModelPackageName" not in container


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_staging_and_prod_serve_the_pinned_package_version_which_names_image_and_artifact(
    synthesized: Synthesized, environment: str
) -> None:
    """GIVEN staging's and prod's package pins
    WHEN the app is synthesized
    THEN the model is created from that version of the environment's own group (SageMaker creates it only
    from an approved version), spelled as an ARN without any lookup; the image and artifact are the version's."""
    container = one_of_type(synthesized.template(environment, "Inference"), "AWS::SageMaker::Model")["Properties"][
        "PrimaryContainer"
    ]
    assert "Image" not in container
    assert "ModelDataUrl" not in container
    arn = container["ModelPackageName"]["Fn::Join"][1]
    assert arn[0] == "arn:"
    assert arn[-1] == f":model-package/{synthesized.config.environment(environment).endpoint.model_package}"
    assert {"Ref": "AWS::AccountId"} in arn


def test_no_pin_means_no_inference_stack(tmp_path: Path) -> None:
    """GIVEN dev without a model pin
    WHEN the app is synthesized
    THEN dev has no inference stack, and prod still has one."""
    raw = tomllib.loads(DEFAULT_CONFIG_FILE.read_text())
    del raw["environments"]["dev"]["endpoint"]["model_artifact_key"]
    synthesized = synthesize(parse_config(raw, default_account=TEST_ACCOUNT), tmp_path)
    assert set(synthesized.templates["dev"]) == {"Platform", "Training"}
    assert set(synthesized.templates["prod"]) == {"Platform", "Training", "Inference", "Drift"}


def test_a_new_pin_replaces_model_and_config_but_updates_the_endpoint_in_place(synthesized: Synthesized) -> None:
    """GIVEN the shipped configuration and the same with prod's pin moved to a new package version
    WHEN both are synthesized
    THEN only the Model and the container-error alarm differ (it reads the new model's version, and the
    endpoint refers to it, so it is updated before the deployment starts); Model and EndpointConfig are
    replaced, the Endpoint updated in place."""
    promoted = synthesize_once(config_with_prod_pin()).template("prod", "Inference")
    before = synthesized.template("prod", "Inference")
    changed = {
        logical_id
        for logical_id in before["Resources"].keys() | promoted["Resources"].keys()
        if before["Resources"].get(logical_id) != promoted["Resources"].get(logical_id)
    }
    models = set(of_type(before, "AWS::SageMaker::Model"))
    container_alarm = synthesized.logical_id("prod", "Inference", "Monitoring/ContainerErrorRate")
    assert changed == models | {container_alarm}
    version = one_of_type(promoted, "AWS::SageMaker::Model")["Properties"]["PrimaryContainer"]["Environment"][
        "METRICS_MODEL_VERSION"
    ]
    assert version in json.dumps(promoted["Resources"][container_alarm])
    assert version not in json.dumps(before["Resources"][container_alarm])
    # AND neither Model nor EndpointConfig has a fixed name, so CloudFormation replaces them (new
    # generated names), and the EndpointConfig refers to the Model by its generated name
    config = one_of_type(promoted, "AWS::SageMaker::EndpointConfig")["Properties"]
    assert "ModelName" not in one_of_type(promoted, "AWS::SageMaker::Model")["Properties"]
    assert "EndpointConfigName" not in config
    assert config["ProductionVariants"][0]["ModelName"] == {"Fn::GetAtt": [next(iter(models)), "ModelName"]}
    # AND the Endpoint keeps its logical id and name: it is updated in place to the new config
    endpoint_before = of_type(before, "AWS::SageMaker::Endpoint")
    endpoint_after = of_type(promoted, "AWS::SageMaker::Endpoint")
    assert endpoint_before.keys() == endpoint_after.keys()
    endpoint = next(iter(endpoint_after.values()))["Properties"]
    assert endpoint["EndpointName"] == "sagemaker-gbdt-prod"
    assert endpoint["EndpointConfigName"]["Fn::GetAtt"][1] == "EndpointConfigName"


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_every_alarm_notifies_the_topic_and_says_what_to_do(synthesized: Synthesized, environment: str) -> None:
    """GIVEN each environment
    WHEN the app is synthesized
    THEN every alarm but the scale out from zero is named <app>-<env>-<what>, notifies the topic on ALARM and OK,
    and its description names the endpoint, likely causes and a first action."""
    alarms = of_type(synthesized.template(environment, "Inference"), "AWS::CloudWatch::Alarm")
    assert alarms
    for logical_id, alarm in alarms.items():
        properties = alarm["Properties"]
        if properties.get("MetricName") == "NoCapacityInvocationFailures":
            continue  # not a page: it scales an inference component out from zero (test_dev_at_zero_pages_nobody)
        assert properties["AlarmActions"] == properties["OKActions"], logical_id
        assert "AlarmTopic" in str(properties["AlarmActions"]), logical_id
        assert properties["AlarmName"].startswith(f"sagemaker-gbdt-{environment}-"), logical_id
        description = properties["AlarmDescription"]
        assert description.startswith(f"sagemaker-gbdt-{environment}: ")
        assert "Likely causes:" in description
        assert "First action:" in description


def test_alarm_thresholds_come_from_the_configuration(synthesized: Synthesized) -> None:
    """GIVEN prod's monitoring settings
    WHEN the app is synthesized
    THEN each alarm's threshold and evaluation period is the configured one."""
    monitoring = synthesized.config.environment("prod").monitoring
    resources = synthesized.template("prod", "Inference")["Resources"]
    alarms = {
        name: resources[synthesized.logical_id("prod", "Inference", f"Monitoring/{name}")]["Properties"]
        for name in (*ROLLBACK_ALARMS, "CpuHigh", "MemoryHigh", "DiskHigh", "NoInvocations", "InstancesBelowMinimum")
    }
    assert alarms["ServerErrorRate"]["Threshold"] == monitoring.server_error_rate_percent
    assert alarms["ModelLatencyP99"]["Threshold"] == monitoring.model_latency_p99_ms * 1000
    assert alarms["ContainerErrorRate"]["Threshold"] == monitoring.container_error_rate_percent
    assert alarms["CpuHigh"]["Threshold"] == monitoring.cpu_utilization_percent
    assert alarms["MemoryHigh"]["Threshold"] == monitoring.memory_utilization_percent
    assert alarms["DiskHigh"]["Threshold"] == monitoring.disk_utilization_percent
    assert alarms["NoInvocations"]["EvaluationPeriods"] == monitoring.no_invocations_minutes
    assert alarms["InstancesBelowMinimum"]["Threshold"] == 2
    assert alarms["ServerErrorRate"]["EvaluationPeriods"] == monitoring.evaluation_minutes


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_autoscaling_tracks_what_an_instance_was_measured_to_serve(synthesized: Synthesized, environment: str) -> None:
    """GIVEN the configured requests/s per instance and safety factor
    WHEN the app is synthesized
    THEN the policy tracks their product per minute on the first variant, between the configured bounds."""
    scaling = synthesized.config.environment(environment).endpoint.autoscaling
    assert scaling is not None
    template = synthesized.template(environment, "Inference")
    policy = one_of_type(template, "AWS::ApplicationAutoScaling::ScalingPolicy")["Properties"]
    target_value = policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]
    assert target_value == invocations_per_instance_target(scaling.max_requests_per_second, scaling.safety_factor)
    target = one_of_type(template, "AWS::ApplicationAutoScaling::ScalableTarget")["Properties"]
    assert target["ResourceId"] == f"endpoint/sagemaker-gbdt-{environment}/variant/primary"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (scaling.min_capacity, scaling.max_capacity)


def test_the_shipped_targets_are_the_reviewed_ones(synthesized: Synthesized) -> None:
    """GIVEN the shipped configuration
    WHEN the app is synthesized
    THEN staging tracks 27000 and prod 54000 invocations per instance per minute (900 and 1800 requests/s x 0.5)."""
    targets = {
        environment: one_of_type(
            synthesized.template(environment, "Inference"), "AWS::ApplicationAutoScaling::ScalingPolicy"
        )["Properties"]["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]
        for environment in ("staging", "prod")
    }
    assert targets == {"staging": 27000, "prod": 54000}


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_the_endpoint_log_group_exists_first_with_retention_and_key(synthesized: Synthesized, environment: str) -> None:
    """GIVEN each environment
    WHEN the app is synthesized
    THEN the endpoint's log group exists before the endpoint, with the retention and the key."""
    template = synthesized.template(environment, "Inference")
    log_groups = of_type(template, "AWS::Logs::LogGroup")
    name = f"/aws/sagemaker/Endpoints/sagemaker-gbdt-{environment}"
    logical_id = synthesized.logical_id(environment, "Inference", "Endpoint/Logs")
    log_group = log_groups[logical_id]
    assert log_group["Properties"]["LogGroupName"] == name
    assert log_group["Properties"]["RetentionInDays"] == synthesized.config.environment(environment).log_retention_days
    assert "KmsKeyId" in log_group["Properties"]
    assert logical_id in one_of_type(template, "AWS::SageMaker::Endpoint")["DependsOn"]


def test_the_container_learns_where_to_report_its_metrics(synthesized: Synthesized) -> None:
    """GIVEN prod WHEN the app is synthesized THEN the model tells the container its metrics namespace and endpoint."""
    model = one_of_type(synthesized.template("prod", "Inference"), "AWS::SageMaker::Model")["Properties"]
    environment = model["PrimaryContainer"]["Environment"]
    assert environment["METRICS_NAMESPACE"] == "sagemaker-gbdt"
    assert environment["METRICS_ENDPOINT_NAME"] == "sagemaker-gbdt-prod"


def test_sagemaker_job_log_groups_are_managed_once_per_account(synthesized: Synthesized) -> None:
    """GIVEN manage_job_log_groups set in one environment per account
    WHEN the app is synthesized
    THEN only that environment's platform creates SageMaker's job log groups."""
    for environment in ("dev", "staging", "prod"):
        log_groups = {
            v["Properties"]["LogGroupName"]
            for v in of_type(synthesized.template(environment), "AWS::Logs::LogGroup").values()
            if isinstance(v["Properties"].get("LogGroupName"), str)
            and v["Properties"]["LogGroupName"].startswith("/aws/sagemaker/")  # not a state machine's own
        }
        managed = synthesized.config.environment(environment).monitoring.manage_job_log_groups
        expected = {"/aws/sagemaker/TrainingJobs", "/aws/sagemaker/TransformJobs", "/aws/sagemaker/ProcessingJobs"}
        expected = expected if managed else set()
        assert log_groups == expected, environment


def _widget_titles(synthesized: Synthesized, environment: str) -> set[str]:
    body = dashboard_body(synthesized.template(environment, "Inference"))
    return {w["properties"]["title"] for w in body["widgets"] if "title" in w["properties"]}


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_the_dashboard_shows_traffic_latency_errors_utilization_instances_and_capture(
    synthesized: Synthesized, environment: str
) -> None:
    """GIVEN staging and prod (instances, capture)
    WHEN the dashboard is rendered
    THEN it shows traffic, latency percentiles, errors, alarms, instances, utilization and capture."""
    assert _widget_titles(synthesized, environment) == {
        "Invocations per minute",
        "Model latency (ms)",
        "Overhead latency (ms)",
        "Errors per minute",
        "Container: requests, rows, rejections",
        "Alarms",
        "Instances serving",
        "CPU, memory, disk utilization (%)",
        "Data capture: objects and bytes written",
    }
    body = json.dumps(dashboard_body(synthesized.template(environment, "Inference")))
    for metric in ("ModelLatency", "OverheadLatency", "Invocation4XXErrors", "Invocation5XXErrors", "CPUUtilization"):
        assert metric in body
    assert '"p99"' in body and '"p90"' in body and '"p50"' in body


def test_dev_has_no_instance_or_capture_widgets(synthesized: Synthesized) -> None:
    """GIVEN dev (an inference component scaling to zero, no capture) WHEN the dashboard is rendered THEN it has
    no instance or capture widgets, and shows the refusals that scale the component out from zero."""
    titles = _widget_titles(synthesized, "dev")
    assert "Invocations per minute" in titles
    assert "Refused for no copy running (scale out from zero)" in titles
    assert (
        not {"Instances serving", "CPU, memory, disk utilization (%)", "Data capture: objects and bytes written"}
        & titles
    )


def test_every_alarm_is_documented_by_its_name(synthesized: Synthesized) -> None:
    """GIVEN prod's alarms (it has every kind)
    WHEN docs/observability.md is read
    THEN its alarm table names each of them by the part after <app>-<env>-."""
    documented = (ROOT / "docs" / "observability.md").read_text().split("| --- |", 1)[1].split("\n\n", 1)[0]
    for alarm in of_type(synthesized.template("prod", "Inference"), "AWS::CloudWatch::Alarm").values():
        what = alarm["Properties"]["AlarmName"].removeprefix("sagemaker-gbdt-prod-")
        assert f"`{what}`" in documented, what
