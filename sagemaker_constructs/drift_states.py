"""DriftMonitor's state machine: the window of a scheduled time, the wait, the capture check, the processing job."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
from aws_cdk import aws_stepfunctions as sfn

from config.contract import CONTAINER, CONTAINER_DRIFT
from sagemaker_constructs.state_machines import task_state

if TYPE_CHECKING:  # the construct imports this module
    from sagemaker_constructs.drift_monitor import DriftJobOptions, DriftMonitor

# The container's metrics (container/interface.json).
_METRICS = CONTAINER_DRIFT.metrics


def definition(
    monitor: DriftMonitor,
    *,
    image_uri: str,
    baseline_key: str | None,
    job: DriftJobOptions,
    settle: cdk.Duration,
    min_rows: int,
) -> sfn.IChainable:
    bucket = monitor.artifacts_bucket.bucket_name
    defaults = sfn.Pass(
        monitor,
        "Defaults",
        parameters={"scheduled_time.$": "$$.Execution.StartTime", "settle_seconds": int(settle.to_seconds())},
        result_path="$.defaults",
    )
    merge = sfn.Pass(
        monitor,
        "MergeInput",
        parameters={"args.$": "States.JsonMerge($.defaults, $$.Execution.Input, false)"},
    )
    invalid = sfn.Fail(
        monitor,
        "InvalidInput",
        error="InvalidInput",
        cause='give {"scheduled_time": "yyyy-mm-ddThh:mm:ssZ"} (UTC) and optionally {"settle_seconds": n >= 0}',
    )
    split_time = sfn.Pass(
        monitor,
        "SplitTime",
        parameters={
            "date.$": "States.ArrayGetItem(States.StringSplit($.args.scheduled_time, 'T'), 0)",
            "time.$": "States.ArrayGetItem(States.StringSplit($.args.scheduled_time, 'T'), 1)",
        },
        result_path="$.split",
    )
    check = (
        sfn.Choice(monitor, "CheckInput")
        .when(
            sfn.Condition.and_(
                sfn.Condition.is_string("$.args.scheduled_time"),
                sfn.Condition.string_matches("$.args.scheduled_time", "*-*-*T*:*"),
                sfn.Condition.is_numeric("$.args.settle_seconds"),
                sfn.Condition.number_greater_than_equals("$.args.settle_seconds", 0),
            ),
            split_time,
        )
        .otherwise(invalid)
    )
    parts = sfn.Pass(
        monitor,
        "SplitParts",
        parameters={
            "ymd.$": "States.StringSplit($.split.date, '-')",
            "hour.$": "States.ArrayGetItem(States.StringSplit($.split.time, ':'), 0)",
        },
        result_path="$.parts",
    )
    ymd = ", ".join(f"States.ArrayGetItem($.parts.ymd, {i})" for i in range(3))
    hourly = monitor.frequency == "hourly"
    window = sfn.Pass(
        monitor,
        "Window",
        parameters={
            "path.$": f"States.Format('{{}}/{{}}/{{}}/{{}}', {ymd}, $.parts.hour)"
            if hourly
            else f"States.Format('{{}}/{{}}/{{}}', {ymd})",
            "label.$": "States.Format('{}T{}', $.split.date, $.parts.hour)" if hourly else "$.split.date",
            "job_name.$": (
                f"States.Format('{monitor.name_prefix}-drift-{{}}', "
                "States.ArrayGetItem(States.StringSplit(States.UUID(), '-'), 0))"
            ),
        },
        result_path="$.window",
    )
    locations = sfn.Pass(
        monitor,
        "Locations",
        parameters={
            "capture_prefix.$": f"States.Format('{monitor.capture_path}{{}}/', $.window.path)",
            "capture_uri.$": f"States.Format('s3://{bucket}/{monitor.capture_path}{{}}/', $.window.path)",
            "report_uri.$": f"States.Format('s3://{bucket}/{monitor.report_path}{{}}/', $.window.path)",
        },
        result_path="$.locations",
    )
    settle_wait = sfn.Wait(monitor, "Settle", time=sfn.WaitTime.seconds_path("$.args.settle_seconds"))
    list_capture = sfn.CustomState(
        monitor,
        "ListCapture",
        state_json=task_state(
            cdk.Aws.PARTITION,
            "aws-sdk:s3:listObjectsV2",
            {"Bucket": bucket, "Prefix.$": "$.locations.capture_prefix", "MaxKeys": 1},
            result_path="$.capture",
            result_selector={"count.$": "$.KeyCount"},
            comment="Is there anything to analyse? (A processing job fails on an empty S3 input.)",
        ),
    )
    run_job = sfn.CustomState(
        monitor,
        "Monitor",
        state_json=task_state(
            cdk.Aws.PARTITION,
            "sagemaker:createProcessingJob.sync",
            _processing_job(monitor, image_uri, baseline_key, job, min_rows),
            result_path="$.job",
            result_selector={"name.$": "$.ProcessingJobName", "status.$": "$.ProcessingJobStatus"},
        ),
    )
    nothing = sfn.Succeed(monitor, "NoCapturedData", comment="No requests were captured in the window")
    analyse: sfn.IChainable = run_job
    if monitor.baseline_package_arn is not None:
        analyse = sfn.CustomState(
            monitor,
            "DescribeServedVersion",
            state_json=task_state(
                cdk.Aws.PARTITION,
                "aws-sdk:sagemaker:describeModelPackage",
                {"ModelPackageName": monitor.baseline_package_arn},
                result_path="$.baseline",
                # ArrayGetItem, not a `[0]` path: moto's JSONPath answers that with a list (AWS with the item).
                result_selector={"container.$": "States.ArrayGetItem($.InferenceSpecification.Containers, 0)"},
                comment="The served model package version's artifact holds the baseline",
            ),
        ).next(run_job)
    has_capture = (
        sfn.Choice(monitor, "HasCapture")
        .when(sfn.Condition.number_greater_than("$.capture.count", 0), analyse)
        .otherwise(nothing)
    )
    split_time.next(parts).next(window).next(locations).next(settle_wait).next(list_capture).next(has_capture)
    return defaults.next(merge).next(check)


def _processing_job(
    monitor: DriftMonitor, image_uri: str, baseline_key: str | None, job: DriftJobOptions, min_rows: int
) -> dict[str, Any]:
    """CreateProcessingJob's request (tests validate it against botocore's model of the API)."""
    bucket = monitor.artifacts_bucket.bucket_name

    def s3_input(name: str, local_path: str, uri: dict[str, str]) -> dict[str, Any]:
        return {
            "InputName": name,
            "S3Input": {
                **uri,
                "LocalPath": local_path,
                "S3DataType": "S3Prefix",
                "S3InputMode": "File",
                "S3DataDistributionType": "FullyReplicated",
                "S3CompressionType": "None",
            },
        }

    return {
        "ProcessingJobName.$": "$.window.job_name",
        "RoleArn": monitor.execution_role.role.role_arn,
        "AppSpecification": {"ImageUri": image_uri, "ContainerArguments": [CONTAINER_DRIFT.argument]},
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": job.instance_type,
                "VolumeSizeInGB": job.volume_size_gb,
                "VolumeKmsKeyId": monitor.encryption_key.key_arn,
            }
        },
        "ProcessingInputs": [
            s3_input(
                "baseline",
                CONTAINER_DRIFT.paths.baseline,
                {"S3Uri": f"s3://{bucket}/{baseline_key}"}
                if baseline_key
                else {"S3Uri.$": "$.baseline.container.ModelDataUrl"},
            ),
            s3_input("capture", CONTAINER_DRIFT.paths.capture, {"S3Uri.$": "$.locations.capture_uri"}),
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "report",
                    "S3Output": {
                        "S3Uri.$": "$.locations.report_uri",
                        "LocalPath": CONTAINER_DRIFT.paths.output,
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ],
            "KmsKeyId": monitor.encryption_key.key_arn,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": int(job.max_runtime.to_seconds())},
        "Environment": {
            CONTAINER.environment.metrics_namespace: monitor.metrics_namespace,
            CONTAINER.environment.metrics_endpoint_name: monitor.endpoint_name,
            CONTAINER_DRIFT.psi_threshold.variable: f"{monitor.psi_threshold:g}",
            CONTAINER_DRIFT.min_rows.variable: str(min_rows),
            f"{CONTAINER_DRIFT.window_variable}.$": "$.window.label",
        },
        # The container needs no network: SageMaker downloads the inputs and uploads the report.
        "NetworkConfig": {"EnableNetworkIsolation": True, "EnableInterContainerTrafficEncryption": True},
        "Tags": [
            *({"Key": key, "Value": value} for key, value in sorted(monitor.tags.items())),
            {"Key": "DriftWindow", "Value.$": "$.window.label"},
        ],
    }
