"""The inference stack of each environment, and what a promotion (a new pin) changes."""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from config import parse_config
from config.settings import DEFAULT_CONFIG_FILE
from scripts.render_dashboard import dashboard_body
from tests.conftest import TEST_ACCOUNT, Synthesized, synthesize


def _resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def _one(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    resources = _resources(template, resource_type)
    assert len(resources) == 1, resource_type
    return next(iter(resources.values()))


def test_dev_serves_from_a_serverless_variant_without_canary_or_autoscaling(synthesized: Synthesized) -> None:
    template = synthesized.template("dev", "Inference")
    variant = _one(template, "AWS::SageMaker::EndpointConfig")["Properties"]["ProductionVariants"][0]
    assert "ServerlessConfig" in variant
    assert "DeploymentConfig" not in _one(template, "AWS::SageMaker::Endpoint")["Properties"]
    assert not _resources(template, "AWS::ApplicationAutoScaling::ScalableTarget")


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_staging_and_prod_deploy_by_canary_with_rollback_autoscale_and_capture(
    synthesized: Synthesized, environment: str
) -> None:
    template = synthesized.template(environment, "Inference")
    config = _one(template, "AWS::SageMaker::EndpointConfig")["Properties"]
    endpoint = _one(template, "AWS::SageMaker::Endpoint")["Properties"]
    assert config["ProductionVariants"][0]["InitialInstanceCount"] >= 2  # SageMaker spreads them across AZs
    assert "KmsKeyId" in config
    assert config["DataCaptureConfig"]["InitialSamplingPercentage"] > 0
    routing = endpoint["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == "CANARY"
    rollback = {a["AlarmName"]["Ref"] for a in endpoint["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]}
    assert {r.split("Monitoring")[1][:-8] for r in rollback} == {
        "ServerErrorRate",
        "ModelLatencyP99",
        "ContainerErrorRate",
    }
    assert endpoint["RetainAllVariantProperties"] is True
    target = _one(template, "AWS::ApplicationAutoScaling::ScalableTarget")["Properties"]
    assert target["MinCapacity"] >= 2
    model = _one(template, "AWS::SageMaker::Model")["Properties"]
    assert model["EnableNetworkIsolation"] is True


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_the_endpoint_name_is_fixed_and_exported(synthesized: Synthesized, environment: str) -> None:
    template = synthesized.template(environment, "Inference")
    name = f"sagemaker-gbdt-{environment}"
    assert _one(template, "AWS::SageMaker::Endpoint")["Properties"]["EndpointName"] == name
    assert template["Outputs"]["EndpointName"]["Value"] == name
    assert template["Outputs"]["EndpointName"]["Export"] == {"Name": f"{name}-endpoint-name"}


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_the_model_serves_the_pinned_artifact_from_the_artifacts_bucket(
    synthesized: Synthesized, environment: str
) -> None:
    template = synthesized.template(environment, "Inference")
    url = _one(template, "AWS::SageMaker::Model")["Properties"]["PrimaryContainer"]["ModelDataUrl"]
    pin = synthesized.config.environment(environment).endpoint.model_artifact_key
    assert url["Fn::Join"][1][0] == "s3://"
    assert "ArtifactsBucket" in str(url["Fn::Join"][1][1])
    assert url["Fn::Join"][1][2] == f"/{pin}"


def test_no_pin_means_no_inference_stack(tmp_path: Path) -> None:
    raw = tomllib.loads(DEFAULT_CONFIG_FILE.read_text())
    del raw["environments"]["dev"]["endpoint"]["model_artifact_key"]
    synthesized = synthesize(parse_config(raw, default_account=TEST_ACCOUNT), tmp_path)
    assert set(synthesized.templates["dev"]) == {"Platform", "Training"}
    assert set(synthesized.templates["prod"]) == {"Platform", "Training", "Inference", "Drift"}


def test_a_new_pin_replaces_model_and_config_but_updates_the_endpoint_in_place(
    synthesized: Synthesized, tmp_path: Path
) -> None:
    # GIVEN the shipped configuration and the same with prod's pin moved to a new model
    raw = copy.deepcopy(tomllib.loads(DEFAULT_CONFIG_FILE.read_text()))
    raw["environments"]["prod"]["endpoint"]["model_artifact_key"] = "models/2026-11-27/model.tar.gz"
    promoted = synthesize(parse_config(raw, default_account=TEST_ACCOUNT), tmp_path).template("prod", "Inference")
    before = synthesized.template("prod", "Inference")
    # THEN only the Model's properties differ
    changed = {
        logical_id
        for logical_id in before["Resources"].keys() | promoted["Resources"].keys()
        if before["Resources"].get(logical_id) != promoted["Resources"].get(logical_id)
    }
    models = set(_resources(before, "AWS::SageMaker::Model"))
    assert changed == models
    # AND neither Model nor EndpointConfig has a fixed name, so CloudFormation replaces them (new
    # generated names), and the EndpointConfig refers to the Model by its generated name
    config = _one(promoted, "AWS::SageMaker::EndpointConfig")["Properties"]
    assert "ModelName" not in _one(promoted, "AWS::SageMaker::Model")["Properties"]
    assert "EndpointConfigName" not in config
    assert config["ProductionVariants"][0]["ModelName"] == {"Fn::GetAtt": [next(iter(models)), "ModelName"]}
    # AND the Endpoint keeps its logical id and name: it is updated in place to the new config
    endpoint_before = _resources(before, "AWS::SageMaker::Endpoint")
    endpoint_after = _resources(promoted, "AWS::SageMaker::Endpoint")
    assert endpoint_before.keys() == endpoint_after.keys()
    endpoint = next(iter(endpoint_after.values()))["Properties"]
    assert endpoint["EndpointName"] == "sagemaker-gbdt-prod"
    assert endpoint["EndpointConfigName"]["Fn::GetAtt"][1] == "EndpointConfigName"


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_every_alarm_notifies_the_topic_and_says_what_to_do(synthesized: Synthesized, environment: str) -> None:
    alarms = _resources(synthesized.template(environment, "Inference"), "AWS::CloudWatch::Alarm")
    assert alarms
    for logical_id, alarm in alarms.items():
        properties = alarm["Properties"]
        assert properties["AlarmActions"] == properties["OKActions"], logical_id
        assert "AlarmTopic" in str(properties["AlarmActions"]), logical_id
        description = properties["AlarmDescription"]
        assert description.startswith(f"sagemaker-gbdt-{environment}: ")
        assert "Likely causes:" in description
        assert "First action:" in description


def test_alarm_thresholds_come_from_the_configuration(synthesized: Synthesized) -> None:
    monitoring = synthesized.config.environment("prod").monitoring
    alarms = {
        k.removeprefix("Monitoring")[:-8]: v["Properties"]
        for k, v in _resources(synthesized.template("prod", "Inference"), "AWS::CloudWatch::Alarm").items()
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


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_the_endpoint_log_group_exists_first_with_retention_and_key(synthesized: Synthesized, environment: str) -> None:
    template = synthesized.template(environment, "Inference")
    log_groups = _resources(template, "AWS::Logs::LogGroup")
    name = f"/aws/sagemaker/Endpoints/sagemaker-gbdt-{environment}"
    (logical_id, log_group), *_ = [(k, v) for k, v in log_groups.items() if v["Properties"]["LogGroupName"] == name]
    assert log_group["Properties"]["RetentionInDays"] == synthesized.config.environment(environment).log_retention_days
    assert "KmsKeyId" in log_group["Properties"]
    assert logical_id in _one(template, "AWS::SageMaker::Endpoint")["DependsOn"]


def test_the_container_learns_where_to_report_its_metrics(synthesized: Synthesized) -> None:
    model = _one(synthesized.template("prod", "Inference"), "AWS::SageMaker::Model")["Properties"]
    environment = model["PrimaryContainer"]["Environment"]
    assert environment["METRICS_NAMESPACE"] == "sagemaker-gbdt"
    assert environment["METRICS_ENDPOINT_NAME"] == "sagemaker-gbdt-prod"


def test_sagemaker_job_log_groups_are_managed_once_per_account(synthesized: Synthesized) -> None:
    for environment in ("dev", "staging", "prod"):
        log_groups = {
            v["Properties"]["LogGroupName"]
            for v in _resources(synthesized.template(environment), "AWS::Logs::LogGroup").values()
            if isinstance(v["Properties"].get("LogGroupName"), str)
        }
        managed = synthesized.config.environment(environment).monitoring.manage_job_log_groups
        expected = {"/aws/sagemaker/TrainingJobs", "/aws/sagemaker/TransformJobs"} if managed else set()
        assert log_groups == expected, environment


def _widget_titles(synthesized: Synthesized, environment: str) -> set[str]:
    body = dashboard_body(synthesized.template(environment, "Inference"))
    return {w["properties"]["title"] for w in body["widgets"] if "title" in w["properties"]}


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_the_dashboard_shows_traffic_latency_errors_utilization_instances_and_capture(
    synthesized: Synthesized, environment: str
) -> None:
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
    titles = _widget_titles(synthesized, "dev")
    assert "Invocations per minute" in titles
    assert (
        not {"Instances serving", "CPU, memory, disk utilization (%)", "Data capture: objects and bytes written"}
        & titles
    )
