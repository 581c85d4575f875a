"""DriftMonitor: the schedule, the state machine (executed in moto), the processing job request, alarms, IAM."""

from __future__ import annotations

import json
import time
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import boto3
import pytest
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template
from botocore.session import get_session
from botocore.validate import ParamValidator
from moto import mock_aws

from config import parse_config
from config.settings import DEFAULT_CONFIG_FILE
from sagemaker_constructs.drift_monitor import DriftJobOptions, DriftMonitor, Retraining
from tests.helpers import TEST_ACCOUNT, Platform, Synthesized, synthesize

BUCKET = "artifacts-bucket"
ROLE_ARN = f"arn:aws:iam::{TEST_ACCOUNT}:role/execution"
KEY_ARN = f"arn:aws:kms:us-east-1:{TEST_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
# A CreateProcessingJob request's values that the state machine fills in at run time, as one run would.
RUN_VALUES = {
    "$.window.job_name": "app-dev-drift-7ac52150",
    "$.window.label": "2026-12-01T10",
    "$.locations.capture_uri": f"s3://{BUCKET}/data-capture/app-dev/primary/2026/12/01/10/",
    "$.locations.report_uri": f"s3://{BUCKET}/drift-reports/app-dev/2026/12/01/10/",
}


VERSION_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/app-dev/4"


def _monitor(stack: cdk.Stack, platform: Platform, **overrides: Any) -> DriftMonitor:
    arguments: dict[str, Any] = {
        "name_prefix": "app-dev",
        "endpoint_name": "app-dev",
        "variant_name": "primary",
        "image_uri": platform.image.image_uri,
        "execution_role": platform.role,
        "artifacts_bucket": platform.artifacts,
        "baseline_key": "models/v1/model.tar.gz",
        "capture_prefix": "data-capture/",
        "encryption_key": platform.key,
        "alarm_topic": sns.Topic(stack, "Topic"),
        "metrics_namespace": "app",
        "logs": platform.logs,
        **overrides,
    }
    return DriftMonitor(stack, "Drift", **arguments)


def _render(token: Any) -> str:
    """A CloudFormation reference in the definition as the value it has once deployed (here: in moto)."""
    text = json.dumps(token)
    for marker, value in (
        ("AWS::Partition", "aws"),
        ("AWS::URLSuffix", "amazonaws.com"),
        ("AWS::Region", "us-east-1"),
        ("Artifacts", BUCKET),
        ("ExecutionRole", ROLE_ARN),
        ("Key", KEY_ARN),
    ):
        if marker in text:
            return value
    return "token"


def _definition(template: Mapping[str, Any]) -> dict[str, Any]:
    (machine,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    body = machine["Properties"]["DefinitionString"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    definition: dict[str, Any] = json.loads("".join(p if isinstance(p, str) else _render(p) for p in parts))
    return definition


def _states(stack: cdk.Stack) -> dict[str, Any]:
    states: dict[str, Any] = _definition(Template.from_stack(stack).to_json())["States"]
    return states


def _as_run(value: Any) -> Any:
    """The request with each `Key.$` path replaced by `Key` and the value a run gives it."""
    if isinstance(value, dict):
        return {
            key.removesuffix(".$"): RUN_VALUES[item] if key.endswith(".$") else _as_run(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_as_run(item) for item in value]
    return value


# -- the processing job ------------------------------------------------------------------------------


def test_the_processing_job_request_is_valid_for_the_sagemaker_api(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN a monitor WHEN synthesized THEN its CreateProcessingJob request passes botocore's model of the API."""
    _monitor(stack, platform)
    request = _as_run(_states(stack)["Monitor"]["Parameters"])
    shape = get_session().get_service_model("sagemaker").operation_model("CreateProcessingJob").input_shape
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()


def test_the_job_runs_the_images_monitor_on_the_model_and_the_window(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN a monitor with job options WHEN synthesized THEN the job runs `monitor`, as the execution role, isolated,
    encrypted, sized and stopped as given, on both inputs, with the drift settings in its environment."""
    _monitor(stack, platform, job=DriftJobOptions("ml.c5.xlarge", 50, cdk.Duration.minutes(30)))
    monitor = _states(stack)["Monitor"]
    assert monitor["Resource"] == "arn:aws:states:::sagemaker:createProcessingJob.sync"
    request = monitor["Parameters"]
    assert request["AppSpecification"]["ContainerArguments"] == ["monitor"]
    assert request["RoleArn"] == ROLE_ARN
    assert request["ProcessingResources"]["ClusterConfig"] == {
        "InstanceCount": 1,
        "InstanceType": "ml.c5.xlarge",
        "VolumeSizeInGB": 50,
        "VolumeKmsKeyId": KEY_ARN,
    }
    inputs = {i["InputName"]: i["S3Input"] for i in request["ProcessingInputs"]}
    assert inputs["baseline"]["S3Uri"] == f"s3://{BUCKET}/models/v1/model.tar.gz"
    assert inputs["capture"]["S3Uri.$"] == "$.locations.capture_uri"
    assert request["ProcessingOutputConfig"]["KmsKeyId"] == KEY_ARN
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 1800}
    assert request["NetworkConfig"] == {"EnableNetworkIsolation": True, "EnableInterContainerTrafficEncryption": True}
    assert request["Environment"] == {
        "METRICS_NAMESPACE": "app",
        "METRICS_ENDPOINT_NAME": "app-dev",
        "DRIFT_PSI_THRESHOLD": "0.2",
        "DRIFT_MIN_ROWS": "500",
        "DRIFT_WINDOW.$": "$.window.label",
    }


# -- the schedule and the window ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "expression", "path", "label"),
    [
        ("hourly", "cron(55 * * * ? *)", "States.Format('{}/{}/{}/{}', ", "States.Format('{}T{}', "),
        ("daily", "cron(55 23 * * ? *)", "States.Format('{}/{}/{}', ", "$.split.date"),
    ],
)
def test_the_schedule_starts_the_check_near_the_end_of_the_window_in_utc(
    stack: cdk.Stack, platform: Platform, frequency: str, expression: str, path: str, label: str
) -> None:
    """GIVEN an hourly or daily monitor WHEN synthesized THEN the enabled schedule fires at :55 of the window in UTC
    with the scheduled time as input, and the window's path and label are formatted for that frequency."""
    _monitor(stack, platform, frequency=frequency)
    schedule = next(iter(Template.from_stack(stack).find_resources("AWS::Scheduler::Schedule").values()))
    properties = schedule["Properties"]
    assert properties["ScheduleExpression"] == expression
    assert properties["ScheduleExpressionTimezone"] == "Etc/UTC"
    assert properties["State"] == "ENABLED"
    assert json.loads(properties["Target"]["Input"]) == {"scheduled_time": "<aws.scheduler.scheduled-time>"}
    window = _states(stack)["Window"]["Parameters"]
    assert window["path.$"].startswith(path)
    assert window["label.$"].startswith(label)


def test_a_disabled_schedule_keeps_the_state_machine_for_runs_by_hand(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN a monitor with its schedule disabled WHEN synthesized THEN the schedule is DISABLED and the state
    machine is still there."""
    _monitor(stack, platform, schedule_enabled=False)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::Scheduler::Schedule", {"State": "DISABLED"})
    template.resource_count_is("AWS::StepFunctions::StateMachine", 1)


def _execute(definition: dict[str, Any], runs: dict[str, dict[str, Any]], captured: list[str]) -> dict[str, Any]:
    """Run `definition` in moto's Step Functions interpreter; `captured` keys exist in the bucket.

    moto runs SageMaker integrations as request-response calls (not `.sync`), so the Monitor task's copy calls
    CreateProcessingJob and goes on; boto3 validates the request against the API model as it sends it.
    """
    monitor = definition["States"]["Monitor"]
    monitor["Resource"] = monitor["Resource"].removesuffix(".sync")
    monitor.pop("ResultSelector")
    results: dict[str, Any] = {}
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        for key in captured:
            s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}\n")
        role = boto3.client("iam", region_name="us-east-1").create_role(
            RoleName="drift", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        states = boto3.client("stepfunctions", region_name="us-east-1")
        machine = states.create_state_machine(name="drift", definition=json.dumps(definition), roleArn=role)
        for name, execution_input in runs.items():
            execution = states.start_execution(
                stateMachineArn=machine["stateMachineArn"], name=name, input=json.dumps(execution_input)
            )
            for _ in range(200):
                described = states.describe_execution(executionArn=execution["executionArn"])
                if described["status"] != "RUNNING":
                    break
                time.sleep(0.05)
            results[name] = described
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        results["jobs"] = [
            sagemaker.describe_processing_job(ProcessingJobName=job["ProcessingJobName"])
            for job in sagemaker.list_processing_jobs()["ProcessingJobSummaries"]
        ]
    return results


def test_the_state_machine_runs_the_job_on_the_windows_capture_and_skips_an_empty_window(
    stack: cdk.Stack, platform: Platform
) -> None:
    """GIVEN requests captured at 10:xx only WHEN the 10:55 and 11:55 runs execute THEN one job, on hour 10."""
    _monitor(stack, platform)
    results = _execute(
        _definition(Template.from_stack(stack).to_json()),
        {
            "at-10": {"scheduled_time": "2026-12-01T10:55:00Z", "settle_seconds": 0},
            "at-11": {"scheduled_time": "2026-12-01T11:55:00Z", "settle_seconds": 0},
            "bad": {"scheduled_time": 5},
        },
        captured=["data-capture/app-dev/primary/2026/12/01/10/12-00-00-000-abc.jsonl"],
    )
    assert results["at-10"]["status"] == "SUCCEEDED"
    output = json.loads(results["at-10"]["output"])
    assert output["window"]["label"] == "2026-12-01T10"
    assert output["capture"] == {"count": 1}
    assert results["at-11"]["status"] == "SUCCEEDED"
    assert json.loads(results["at-11"]["output"])["capture"] == {"count": 0}
    assert results["bad"]["status"] == "FAILED"
    assert results["bad"]["error"] == "InvalidInput"
    (job,) = results["jobs"]
    assert job["ProcessingJobName"] == output["window"]["job_name"]
    assert job["ProcessingJobName"].startswith("app-dev-drift-")
    assert len(job["ProcessingJobName"]) == len("app-dev-drift-") + 8
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in job["ProcessingInputs"]}
    assert inputs == {
        "baseline": f"s3://{BUCKET}/models/v1/model.tar.gz",
        "capture": f"s3://{BUCKET}/data-capture/app-dev/primary/2026/12/01/10/",
    }
    report = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]
    assert report["S3Uri"] == f"s3://{BUCKET}/drift-reports/app-dev/2026/12/01/10/"


def test_without_input_the_window_is_the_hour_the_execution_started(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN a settle of 5 minutes WHEN synthesized THEN the defaults are the execution's start time and 300 s, merged
    under the given input, and the wait reads the merged settle. (moto's context object holds a datetime, not
    AWS's string: not run here.)"""
    _monitor(stack, platform, settle=cdk.Duration.minutes(5))
    states = _states(stack)
    assert states["Defaults"]["Parameters"] == {"scheduled_time.$": "$$.Execution.StartTime", "settle_seconds": 300}
    merge = states["MergeInput"]["Parameters"]
    assert merge == {"args.$": "States.JsonMerge($.defaults, $$.Execution.Input, false)"}
    assert states["Settle"]["SecondsPath"] == "$.args.settle_seconds"


# -- alarms and dashboard ----------------------------------------------------------------------------


def test_the_drift_alarm_reads_the_highest_feature_drift_per_window_and_notifies(
    stack: cdk.Stack, platform: Platform
) -> None:
    """GIVEN a PSI threshold of 0.3 WHEN synthesized THEN the drift alarm is on the endpoint's hourly maximum
    OverallDrift above 0.3, keeps its state between windows, notifies one topic on alarm and OK, and a failed
    execution alarms to the same topic."""
    _monitor(stack, platform, psi_threshold=0.3)
    alarms = Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm")
    drift = next(a["Properties"] for a in alarms.values() if a["Properties"].get("MetricName") == "OverallDrift")
    assert drift["Namespace"] == "app"
    assert drift["Dimensions"] == [{"Name": "EndpointName", "Value": "app-dev"}]
    assert drift["Statistic"] == "Maximum"
    assert drift["Period"] == 3600
    assert drift["Threshold"] == 0.3
    assert drift["ComparisonOperator"] == "GreaterThanThreshold"
    assert drift["TreatMissingData"] == "ignore"  # one datapoint per window: keep the state in between
    assert drift["AlarmActions"] == drift["OKActions"]
    assert len(drift["AlarmActions"]) == 1
    failed = next(a["Properties"] for a in alarms.values() if a["Properties"].get("MetricName") == "ExecutionsFailed")
    assert failed["Threshold"] == 1
    assert failed["AlarmActions"] == drift["AlarmActions"]


def test_a_daily_check_alarms_on_daily_periods(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN a daily monitor WHEN synthesized THEN every alarm's period is one day."""
    _monitor(stack, platform, frequency="daily")
    alarms = Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm")
    assert {a["Properties"]["Period"] for a in alarms.values()} == {86400}


def test_the_dashboard_widgets_show_drift_and_missing_rates_of_every_feature(
    stack: cdk.Stack, platform: Platform
) -> None:
    """GIVEN a monitor's widgets on a dashboard WHEN synthesized THEN they show the overall metrics and search
    FeatureDrift and MissingRate of every feature."""
    monitor = _monitor(stack, platform)
    dashboard = cdk.aws_cloudwatch.Dashboard(stack, "Dashboard")
    dashboard.add_widgets(*monitor.dashboard_widgets())
    body = json.dumps(Template.from_stack(stack).to_json()["Resources"])
    for text in ("OverallDrift", "PredictionDrift", "MissingRateMax", "RowsAnalyzed", "CorruptRecords"):
        assert text in body
    assert 'SEARCH(\'{app,EndpointName,Feature} MetricName=\\\\\\"FeatureDrift\\\\\\"' in body
    assert 'MetricName=\\\\\\"MissingRate\\\\\\"' in body


# -- permissions -------------------------------------------------------------------------------------


def _statements(stack: cdk.Stack, description: str) -> dict[str, dict[str, Any]]:
    policies = Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy")
    (policy,) = [p for p in policies.values() if description in json.dumps(p["Properties"].get("Description", ""))]
    return {s.get("Sid", str(i)): s for i, s in enumerate(policy["Properties"]["PolicyDocument"]["Statement"])}


def test_the_state_machine_may_run_only_this_environments_drift_jobs(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN a monitor WHEN synthesized THEN the state machine's managed policy runs only this prefix's drift jobs
    (no wildcard action), lists only the variant's capture, passes the role only to SageMaker, reads and writes no
    object, and there is no inline policy."""
    _monitor(stack, platform)
    statements = _statements(stack, "drift checks may do")
    jobs = statements["RunProcessingJobs"]
    assert "processing-job/app-dev-drift-*" in json.dumps(jobs["Resource"])
    assert all(action.startswith("sagemaker:") and "*" not in action for action in jobs["Action"])
    listing = statements["FindCapturedRequests"]
    assert listing["Action"] == "s3:ListBucket"
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["data-capture/app-dev/primary/*"]}}
    assert statements["PassExecutionRoleToSageMaker"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    every_action = json.dumps([s["Action"] for s in statements.values()])
    assert "s3:GetObject" not in every_action and "s3:PutObject" not in every_action
    inline = Template.from_stack(stack).find_resources("AWS::IAM::Policy")
    assert not [p for p in inline if "Drift" in p]


def test_the_scheduler_may_start_only_this_state_machine(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN a monitor WHEN synthesized THEN the scheduler's policy may only start this state machine, and its role
    trusts only the scheduler of this account."""
    _monitor(stack, platform)
    policies = Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy")
    starter = next(p for k, p in policies.items() if k.startswith("DriftSchedulerPolicy"))
    assert starter["Properties"]["PolicyDocument"]["Statement"] == [
        {"Action": "states:StartExecution", "Effect": "Allow", "Resource": {"Ref": _logical_id(stack, "StateMachine")}}
    ]
    roles = Template.from_stack(stack).find_resources("AWS::IAM::Role")
    scheduler_role = next(r for k, r in roles.items() if k.startswith("DriftSchedulerRole"))
    trust = scheduler_role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def _logical_id(stack: cdk.Stack, kind: str) -> str:
    resources = Template.from_stack(stack).find_resources("AWS::StepFunctions::StateMachine")
    (logical_id,) = [k for k in resources if kind in k and k.startswith("Drift")]
    return logical_id


# -- retraining --------------------------------------------------------------------------------------


def test_retraining_is_off_unless_given(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN a monitor without retraining WHEN synthesized THEN there is no EventBridge rule."""
    _monitor(stack, platform)
    Template.from_stack(stack).resource_count_is("AWS::Events::Rule", 0)


def test_retraining_starts_the_pipeline_with_the_newest_data_when_the_drift_alarm_fires(
    stack: cdk.Stack, platform: Platform
) -> None:
    """GIVEN a monitor with retraining on a pipeline WHEN synthesized THEN a rule on the drift alarm entering ALARM
    starts the pipeline with the given input."""
    pipeline = sfn.StateMachine(
        stack, "Pipeline", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "Train"))
    )
    _monitor(stack, platform, retraining=Retraining(pipeline, {"data_prefix": "datasets/latest", "commit": "drift"}))
    rule = next(iter(Template.from_stack(stack).find_resources("AWS::Events::Rule").values()))["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.cloudwatch"]
    assert pattern["detail-type"] == ["CloudWatch Alarm State Change"]
    assert pattern["detail"] == {"state": {"value": ["ALARM"]}}
    assert "DriftDriftAlarm" in json.dumps(pattern["resources"])
    assert json.loads(rule["Targets"][0]["Input"]) == {"data_prefix": "datasets/latest", "commit": "drift"}


def test_a_served_package_version_is_described_for_its_baseline_and_only_it_may_be(
    stack: cdk.Stack, platform: Platform
) -> None:
    """GIVEN a monitor of an endpoint serving a package version
    WHEN synthesized
    THEN each run reads the version's artifact as the baseline, and the role may describe that version only."""
    _monitor(stack, platform, baseline_key=None, baseline_package_arn=VERSION_ARN)
    states = _states(stack)
    assert states["DescribeServedVersion"]["Parameters"] == {"ModelPackageName": VERSION_ARN}
    inputs = {i["InputName"]: i["S3Input"] for i in states["Monitor"]["Parameters"]["ProcessingInputs"]}
    assert inputs["baseline"]["S3Uri.$"] == "$.baseline.container.ModelDataUrl"
    policies = Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy")
    statements = [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    (read,) = [s for s in statements if s.get("Sid") == "ReadTheServedVersion"]
    assert (read["Action"], read["Resource"]) == ("sagemaker:DescribeModelPackage", VERSION_ARN)


# -- validation --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name_prefix": "App_Dev"}, r"name_prefix must be 1-48 lowercase letters"),
        ({"name_prefix": "a" * 49}, r"name_prefix must be 1-48"),
        ({"endpoint_name": "bad name"}, r"endpoint_name must be 1-63 letters"),
        ({"variant_name": ""}, r"variant_name must be 1-63 letters"),
        ({"baseline_key": "models/v1/"}, r"baseline_key must be the model artifact's key"),
        ({"baseline_key": "/models/model.tar.gz"}, r"baseline_key must be the model artifact's key"),
        ({"baseline_package_arn": VERSION_ARN}, r"give baseline_key .* or baseline_package_arn, not both"),
        ({"baseline_key": None}, r"give baseline_key .* or baseline_package_arn, not both"),
        ({"capture_prefix": "data-capture"}, r"capture_prefix must be a key prefix ending in '/'"),
        ({"report_prefix": "/reports/"}, r"report_prefix must be a key prefix ending in '/'"),
        ({"report_prefix": "{x}/"}, r"no braces or quotes"),
        ({"frequency": "weekly"}, r"frequency must be one of hourly, daily, got 'weekly'"),
        ({"psi_threshold": 0}, r"psi_threshold must be above 0"),
        ({"min_rows": 0}, r"min_rows must be at least 1"),
        # the configuration's rule, applied by the same function: a threshold sampling noise alone would pass
        ({"psi_threshold": 0.2, "min_rows": 100}, r"psi_threshold \(0\.2\) must be at least 3x the PSI that sampling"),
        ({"job": DriftJobOptions(volume_size_gb=0)}, r"job\.volume_size_gb must be 1-16384"),
        ({"job": DriftJobOptions(max_runtime=cdk.Duration.days(8))}, r"job\.max_runtime must be 1 s to 7 days"),
        ({"settle": cdk.Duration.hours(2)}, r"settle must be 0-60 minutes"),
        # two at once: one ValueError names both
        ({"endpoint_name": "a b", "variant_name": "c d"}, r"endpoint_name .*; variant_name "),
    ],
)
def test_bad_inputs_are_rejected_naming_the_field(
    stack: cdk.Stack, platform: Platform, overrides: dict[str, Any], message: str
) -> None:
    """GIVEN bad arguments (one, or two at once) WHEN the monitor is built THEN one ValueError names each field and
    what is allowed."""
    with pytest.raises(ValueError, match=message):
        _monitor(stack, platform, **overrides)


# -- in the app --------------------------------------------------------------------------------------


def _drift_states(synthesized: Synthesized, environment: str) -> dict[str, Any]:
    states: dict[str, Any] = _definition(synthesized.template(environment, "Drift"))["States"]
    return states


def test_drift_runs_wherever_the_endpoint_captures_data(synthesized: Synthesized) -> None:
    """GIVEN the configuration WHEN synthesized THEN staging and prod check drift; dev's component not."""
    assert "Drift" not in synthesized.templates["dev"]
    assert set(synthesized.templates["prod"]) >= {"Drift", "Inference"}
    prod = synthesized.template("prod", "Drift")
    (schedule,) = [r for r in prod["Resources"].values() if r["Type"] == "AWS::Scheduler::Schedule"]
    assert schedule["Properties"]["ScheduleExpression"] == "cron(55 * * * ? *)"
    staging = synthesized.template("staging", "Drift")
    (schedule,) = [r for r in staging["Resources"].values() if r["Type"] == "AWS::Scheduler::Schedule"]
    assert schedule["Properties"]["ScheduleExpression"] == "cron(55 23 * * ? *)"


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_the_monitor_reads_the_pinned_model_and_the_endpoints_capture(
    synthesized: Synthesized, environment: str
) -> None:
    """GIVEN staging or prod as synthesized WHEN the drift job is read THEN its baseline is the artifact of the pinned
    package version (described at run time), its capture prefix is the one the endpoint config captures to,
    captured CSV and JSON are text, and the threshold and endpoint name come from the configuration."""
    settings = synthesized.config.environment(environment)
    states = _drift_states(synthesized, environment)
    assert states["HasCapture"]["Choices"][0]["Next"] == "DescribeServedVersion"
    describe = states["DescribeServedVersion"]
    assert describe["Resource"] == "arn:aws:states:::aws-sdk:sagemaker:describeModelPackage"
    assert describe["Parameters"]["ModelPackageName"].endswith(f":model-package/{settings.endpoint.model_package}")
    assert describe["Next"] == "Monitor"
    inputs = {i["InputName"]: i["S3Input"] for i in states["Monitor"]["Parameters"]["ProcessingInputs"]}
    assert inputs["baseline"]["S3Uri.$"] == "$.baseline.container.ModelDataUrl"
    inference = synthesized.template(environment, "Inference")
    (config,) = [r for r in inference["Resources"].values() if r["Type"] == "AWS::SageMaker::EndpointConfig"]
    capture = config["Properties"]["DataCaptureConfig"]
    # s3://<artifacts bucket, a reference>/<key prefix>: the literal parts are the key prefix.
    literal = "".join(p for p in capture["DestinationS3Uri"]["Fn::Join"][1] if isinstance(p, str))
    capture_key = literal.removeprefix("s3://").lstrip("/")
    endpoint = f"sagemaker-gbdt-{environment}"
    variant = settings.endpoint.variants[0].name
    expected = f"States.Format('{capture_key}{endpoint}/{variant}/{{}}/', $.window.path)"
    assert states["Locations"]["Parameters"]["capture_prefix.$"] == expected
    # Captured CSV and JSON are stored as text (the monitor reads base64 too, e.g. for .npy requests).
    assert capture["CaptureContentTypeHeader"] == {
        "CsvContentTypes": ["text/csv"],
        "JsonContentTypes": ["application/json", "application/jsonlines"],
    }
    environment_variables = states["Monitor"]["Parameters"]["Environment"]
    assert environment_variables["DRIFT_PSI_THRESHOLD"] == f"{settings.drift.psi_threshold:g}"
    assert environment_variables["METRICS_ENDPOINT_NAME"] == endpoint


def test_retraining_on_drift_starts_the_training_pipeline_and_passes_cdk_nag(tmp_path: Path) -> None:
    """GIVEN prod with retrain_on_drift WHEN the app is synthesized (cdk-nag included) THEN the alarm's rule
    starts the Training stack's pipeline on the configured data, and no finding is left open."""
    raw = tomllib.loads(DEFAULT_CONFIG_FILE.read_text())
    raw["environments"]["prod"]["drift"] |= {"retrain_on_drift": True, "retrain_data_prefix": "datasets/latest"}
    synthesized = synthesize(parse_config(raw, default_account=TEST_ACCOUNT), tmp_path)
    drift = synthesized.template("prod", "Drift")
    (rule,) = [r["Properties"] for r in drift["Resources"].values() if r["Type"] == "AWS::Events::Rule"]
    (target,) = rule["Targets"]
    assert json.loads(target["Input"]) == {"data_prefix": "datasets/latest", "commit": "drift-alarm"}
    assert "Training" in json.dumps(target["Arn"])
    assert rule["EventPattern"]["detail"] == {"state": {"value": ["ALARM"]}}
    assert "Drift" not in synthesized.templates["dev"]
