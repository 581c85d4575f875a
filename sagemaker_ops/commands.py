"""The command handlers of the operations CLI: each takes a Context and returns its result document.

The arguments are checked before a handler runs (`sagemaker_ops.arguments`). A handler raises
UsageError (what only AWS's answer shows to be ambiguous, or a file gone since), CheckFailedError (a
check or job failed; its result is still reported), WaitTimeoutError, NotDeployedError or a botocore
error; `cli.main` maps them to the exit codes of `config.exit_codes`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from config import load_config
from config.contract import (
    INPUT_DATA_PREFIX,
    INPUT_HYPERPARAMETERS,
    INPUT_TUNING,
    MAX_JOB_NAME_LENGTH,
    PROCESSING_JOB_LOG_GROUP,
    TRAINING_JOB_LOG_GROUP,
    TRANSFORM_JOB_LOG_GROUP,
    environment_prefix,
    serving_log_group_name,
)
from sagemaker_ops.arguments import UsageError, content_type_of
from sagemaker_ops.async_invoke import AsyncFailedError
from sagemaker_ops.deployment import Deployment, NotDeployedError
from sagemaker_ops.invocation import call_endpoint
from sagemaker_ops.lineage import served_lineage
from sagemaker_ops.progress import CheckFailedError, Observation, wait
from sagemaker_ops.tuning import (
    LATEST,
    TuningUsageError,
    latest_tuning_job,
    tuning_input,
    tuning_progress,
    warm_start_input,
)


@dataclass(frozen=True)
class JobKind:
    """A kind of SageMaker job: how to describe one, and the log group its streams (`<job>/...`) are in."""

    describe: str
    name_parameter: str
    log_group: str


JOB_KINDS = {
    "training": JobKind("describe_training_job", "TrainingJobName", TRAINING_JOB_LOG_GROUP),
    "transform": JobKind("describe_transform_job", "TransformJobName", TRANSFORM_JOB_LOG_GROUP),
    "processing": JobKind("describe_processing_job", "ProcessingJobName", PROCESSING_JOB_LOG_GROUP),
}
# The time stamp of a default transform job name: -transform-20261126-101010.
_TRANSFORM_SUFFIX_LENGTH = len("-transform-YYYYmmdd-HHMMSS")


@dataclass(frozen=True)
class Context:
    deployment: Deployment
    args: argparse.Namespace

    def wait(self, observe: Callable[[], Observation], what: str) -> Observation:
        return wait(observe, what=what, timeout=self.args.timeout, interval=self.args.poll_seconds)


def train(context: Context) -> dict[str, Any]:
    args, deployment = context.args, context.deployment
    hyperparameters = dict(args.hyperparameter)
    document = {INPUT_DATA_PREFIX: args.data_prefix, INPUT_HYPERPARAMETERS: hyperparameters}
    document |= _tuning(context, hyperparameters)
    stepfunctions = deployment.client("stepfunctions")
    started = stepfunctions.start_execution(stateMachineArn=deployment.state_machine_arn, input=json.dumps(document))
    arn = started["executionArn"]
    result: dict[str, Any] = {"execution_arn": arn, "input": document, "status": "RUNNING"}
    if args.no_wait:
        return result

    def observe() -> Observation:
        status = stepfunctions.describe_execution(executionArn=arn)["status"]
        return Observation(status, done=status != "RUNNING")

    result["status"] = context.wait(observe, f"training {arn.split(':')[-1]}").state
    if result["status"] != "SUCCEEDED":
        raise CheckFailedError(f"training pipeline ended {result['status']}", result)
    return result


def _tuning(context: Context, hyperparameters: dict[str, str]) -> dict[str, Any]:
    """The input's tuning keys from --tuning, --tuning-range and --tuning-parent (sagemaker_ops.tuning)."""
    args, settings = context.args, context.deployment.settings
    try:
        document = tuning_input(
            settings.tuning,
            environment=settings.name.value,
            switch=args.tuning,
            ranges=args.tuning_range,
            hyperparameters=hyperparameters,
        )
        tuned = document.get(INPUT_TUNING, bool(settings.tuning and settings.tuning.enabled))
        parent = warm_start_input(
            settings.tuning,
            lambda: context.deployment.client("sagemaker"),
            name_prefix=lambda: _name_prefix(context),
            parent=args.tuning_parent,
            tuned=tuned,
        )
    except TuningUsageError as error:
        raise UsageError(str(error)) from None
    return document | parent


def _name_prefix(context: Context) -> str:
    """`<app>-<env>`: what the pipeline's jobs and tuning jobs are named with."""
    return environment_prefix(load_config(context.args.config).app_name, context.deployment.settings.name.value)


def _tuning_status(context: Context) -> dict[str, Any]:
    sagemaker = context.deployment.client("sagemaker")
    name = context.args.tuning_job
    if name == LATEST:
        name = latest_tuning_job(sagemaker, _name_prefix(context), status=None)
        if name is None:
            raise UsageError(f"no tuning job named {_name_prefix(context)}-... yet")
    return tuning_progress(sagemaker, name)


def status(context: Context) -> dict[str, Any]:
    if getattr(context.args, "tuning_job", None):
        return _tuning_status(context)
    deployment = context.deployment
    endpoint = deployment.client("sagemaker").describe_endpoint(EndpointName=deployment.endpoint_name)
    stack = deployment.stack("Inference")
    expected = deployment.expected_endpoint_config
    return {
        "endpoint": endpoint["EndpointName"],
        "status": endpoint["EndpointStatus"],
        "failure_reason": endpoint.get("FailureReason"),
        "endpoint_config": endpoint["EndpointConfigName"],
        "expected_endpoint_config": expected,
        "runs_expected_config": endpoint["EndpointConfigName"] == expected,
        "variants": [
            {
                "name": v["VariantName"],
                "current_instances": v.get("CurrentInstanceCount"),
                "desired_instances": v.get("DesiredInstanceCount"),
                "weight": v.get("CurrentWeight"),
            }
            for v in endpoint.get("ProductionVariants", [])
        ],
        "last_modified": _iso(endpoint.get("LastModifiedTime")),
        "last_deployment": {
            "stack": stack.name,
            "stack_status": stack.status,
            "at": stack.last_updated,
            "deployment_config": endpoint.get("LastDeploymentConfig"),
        },
        # What the served model was created from: the package version, its approval and lineage.
        "model_package": served_lineage(deployment),
    }


def invoke(context: Context) -> dict[str, Any]:
    args, deployment = context.args, context.deployment
    body = _read(args.file)
    content_type = args.content_type or content_type_of(args.file)
    predictions, locations = _call_endpoint(context, body, content_type)
    return {
        "endpoint": deployment.endpoint_name,
        "content_type": content_type,
        "predictions": predictions,
        **locations,
    }


def smoke(context: Context) -> dict[str, Any]:
    args, deployment = context.args, context.deployment
    body, content_type = (args.row.encode(), "text/csv") if args.row else (_read(args.file), content_type_of(args.file))
    current = status(context)
    result: dict[str, Any] = {
        "endpoint": current["endpoint"],
        "inference_component": deployment.inference_component_name,
        "status": current["status"],
        "endpoint_config": current["endpoint_config"],
        "expected_endpoint_config": current["expected_endpoint_config"],
    }
    if current["status"] != "InService":
        raise CheckFailedError(f"endpoint is {current['status']}, not InService", result)
    if not current["runs_expected_config"]:
        raise CheckFailedError(
            f"endpoint runs {current['endpoint_config']}, but the stack's endpoint config is "
            f"{current['expected_endpoint_config']}: the last deployment did not take effect (rolled back?)",
            result,
        )
    started = time.monotonic()
    try:
        result["prediction"], locations = _call_endpoint(context, body, content_type)
    except ClientError as error:
        raise CheckFailedError(f"invocation failed: {error}", result) from None
    except CheckFailedError as error:
        raise CheckFailedError(str(error), {**result, **error.result}) from None
    result.update(locations)
    result["latency_ms"] = round((time.monotonic() - started) * 1000)
    return result


def transform(context: Context) -> dict[str, Any]:
    args, deployment = context.args, context.deployment
    settings = deployment.settings
    prefix = deployment.endpoint_name[: MAX_JOB_NAME_LENGTH - _TRANSFORM_SUFFIX_LENGTH]
    name = args.job_name or f"{prefix}-transform-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    input_uri = _s3_uri(args.input, deployment.stack("Platform").output("DataBucketName"))
    artifacts = deployment.stack("Platform").output("ArtifactsBucketName")
    output_uri = args.output or f"s3://{artifacts}/transform/{name}/"
    sagemaker = deployment.client("sagemaker")
    sagemaker.create_transform_job(
        TransformJobName=name,
        ModelName=deployment.model_name,
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": args.content_type,
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": output_uri, "AssembleWith": "Line"},
        TransformResources={
            "InstanceType": settings.transform.instance_type,
            "InstanceCount": settings.transform.instance_count,
        },
        MaxPayloadInMB=settings.transform.max_payload_mb,
        MaxConcurrentTransforms=settings.transform.max_concurrent_transforms,
    )

    def observe() -> Observation:
        job = sagemaker.describe_transform_job(TransformJobName=name)
        status = job["TransformJobStatus"]
        return Observation(status, job.get("FailureReason", ""), done=status in {"Completed", "Failed", "Stopped"})

    result: dict[str, Any] = {"job": name, "input": input_uri, "output": output_uri}
    result["status"] = context.wait(observe, f"transform {name}").state
    if result["status"] != "Completed":
        raise CheckFailedError(f"transform job {name} ended {result['status']}", result)
    return result


def logs(context: Context) -> dict[str, Any]:
    args, deployment = context.args, context.deployment
    if args.job:
        group = JOB_KINDS[_job_kind(deployment, args.job, args.kind)].log_group
        prefix: str | None = f"{args.job}/"
    else:
        group = serving_log_group_name(deployment.endpoint_name, deployment.inference_component_name)
        prefix = None
    logs = deployment.client("logs")
    since = datetime.now(UTC) - args.since
    start_ms = int(since.timestamp() * 1000)
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + args.timeout
    while True:
        new = _log_events(logs, group, prefix, start_ms, args.limit - len(events))
        for event in new:
            if not args.json:
                out(f"{_iso_ms(event['timestamp'])} {event.get('logStreamName', '')} {event['message'].rstrip()}")
        events.extend(new)
        if new:
            start_ms = max(e["timestamp"] for e in new) + 1
        if not args.follow or len(events) >= args.limit or time.monotonic() >= deadline:
            break
        time.sleep(args.poll_seconds)
    return {"log_group": group, "stream_prefix": prefix, "events": events if args.json else len(events)}


def _job_kind(deployment: Deployment, job: str, kind: str | None) -> str:
    """What kind of job `job` is, as SageMaker describes it (`kind` when given, if such a job exists)."""
    sagemaker = deployment.client("sagemaker")
    asked = [kind] if kind else list(JOB_KINDS)
    found = [name for name in asked if _job_exists(sagemaker, JOB_KINDS[name], job)]
    if not found:
        raise NotDeployedError(f"SageMaker has no {' or '.join(asked)} job named {job} (in this account and region)")
    if len(found) > 1:
        raise UsageError(
            f"{job} is a {' and a '.join(found)} job (the training pipeline names its jobs after the execution): "
            f"add --kind {' or --kind '.join(found)}"
        )
    return found[0]


def _job_exists(sagemaker: Any, kind: JobKind, job: str) -> bool:
    try:
        getattr(sagemaker, kind.describe)(**{kind.name_parameter: job})
    except ClientError as error:
        if _not_found(error):
            return False
        raise
    return True


def _not_found(error: ClientError) -> bool:
    """SageMaker's Describe*Job answer for a name it does not know (a ValidationException, not a 404 code)."""
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", "").lower()
    if code in {"ResourceNotFound", "ResourceNotFoundException"}:
        return True
    return code == "ValidationException" and ("not found" in message or "could not find" in message)


def _call_endpoint(context: Context, body: bytes, content_type: str) -> tuple[Any, dict[str, str]]:
    """`call_endpoint`'s answer; a failed asynchronous request is a failed check, its locations reported."""
    try:
        return call_endpoint(context.deployment, context.args, body, content_type)
    except AsyncFailedError as error:
        raise CheckFailedError(f"the asynchronous request failed: {error}", error.result) from None


def _log_events(logs: Any, group: str, prefix: str | None, start_ms: int, limit: int) -> list[dict[str, Any]]:
    query: dict[str, Any] = {"logGroupName": group, "startTime": start_ms}
    if prefix:
        query["logStreamNamePrefix"] = prefix
    events: list[dict[str, Any]] = []
    for page in logs.get_paginator("filter_log_events").paginate(**query):
        events.extend(page["events"])
        if len(events) >= limit:
            break
    return events[:limit]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None


def _s3_uri(value: str, default_bucket: str) -> str:
    return value if value.startswith("s3://") else f"s3://{default_bucket}/{value.lstrip('/')}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _iso_ms(milliseconds: int) -> str:
    return datetime.fromtimestamp(milliseconds / 1000, UTC).isoformat(timespec="seconds")


def out(text: str) -> None:
    """One line of the command's output (stdout; progress goes to stderr)."""
    sys.stdout.write(text + "\n")
