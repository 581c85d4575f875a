"""The `promote` command: the configuration pin of a finished training job or pipeline execution.

The pin's making is `sagemaker_ops.promotion`'s (tested without AWS); this reads the two API responses
and checks the model lies in this environment's artifacts bucket.
"""

from __future__ import annotations

import json
from typing import Any

from config import EnvironmentName
from sagemaker_ops.arguments import UsageError
from sagemaker_ops.commands import Context
from sagemaker_ops.deployment import Deployment
from sagemaker_ops.progress import CheckFailedError
from sagemaker_ops.promotion import NotPromotableError, pin, promotion
from sagemaker_ops.registry_command import promote_package


def promote(context: Context) -> dict[str, Any]:
    """The pin of an approved package version (`--package`), or in dev of a finished training job (`--job`) or
    training pipeline execution (`--execution-arn`)."""
    if context.args.package:
        return promote_package(context)
    if context.deployment.settings.name is not EnvironmentName.DEV:
        environment = context.deployment.settings.name.value
        raise UsageError(
            f"{environment} serves approved model package versions only: promote --env {environment} --package <n> "
            "(the version the pipeline registered, once approved)"
        )
    if context.args.execution_arn:
        return _promote_execution(context)
    args, deployment = context.args, context.deployment
    job = deployment.client("sagemaker").describe_training_job(TrainingJobName=args.job)
    result: dict[str, Any] = {"job": args.job, "status": job["TrainingJobStatus"]}
    if job["TrainingJobStatus"] != "Completed":
        raise CheckFailedError(f"training job {args.job} is {job['TrainingJobStatus']}, not Completed", result)
    key = _key_in_artifacts_bucket(deployment, job["ModelArtifacts"]["S3ModelArtifacts"], result)
    result.update(
        model_artifact_key=key,
        metrics=_final_metrics(job),
        pin=pin(deployment.settings.name.value, key),
        next_step=_next_step(deployment),
    )
    return result


def _promote_execution(context: Context) -> dict[str, Any]:
    arn, deployment = context.args.execution_arn, context.deployment
    execution = deployment.client("stepfunctions").describe_execution(executionArn=arn)
    result: dict[str, Any] = {"execution": arn, "status": execution.get("status")}
    job = None
    if execution.get("status") == "SUCCEEDED":
        name = _training_job_of(execution)
        job = deployment.client("sagemaker").describe_training_job(TrainingJobName=name) if name else None
    try:
        promoted = promotion(execution, job)
    except NotPromotableError as error:
        raise CheckFailedError(str(error), result) from None
    environment = deployment.settings.name.value
    if promoted.environment != environment:
        raise CheckFailedError(
            f"the execution ran in environment {promoted.environment!r}, not {environment!r}: "
            f"promote it with --env {promoted.environment}, or train in {environment}",
            result,
        )
    key = _key_in_artifacts_bucket(deployment, promoted.model_artifact, result)
    result.update(
        commit=promoted.commit,
        training_job=promoted.training_job,
        metrics=promoted.metrics,
        model_artifact=promoted.model_artifact,
        model_artifact_key=key,
        scores=promoted.scores,
        pin=promoted.pin,
        next_step=_next_step(deployment),
    )
    return result


def _training_job_of(execution: dict[str, Any]) -> str | None:
    try:
        name = json.loads(execution.get("output") or "{}").get("training_job")
    except (json.JSONDecodeError, AttributeError):
        return None
    return name if isinstance(name, str) and name else None


def _key_in_artifacts_bucket(deployment: Deployment, uri: str, result: dict[str, Any]) -> str:
    """The model's key, when the model is in this environment's artifacts bucket (its endpoint reads only that)."""
    artifacts = deployment.stack("Platform").output("ArtifactsBucketName")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if bucket != artifacts:
        raise CheckFailedError(f"the model {uri} is not in this environment's artifacts bucket {artifacts}", result)
    return key


def _final_metrics(job: dict[str, Any]) -> dict[str, float]:
    return {m["MetricName"]: float(m["Value"]) for m in job.get("FinalMetricDataList", [])}


def _next_step(deployment: Deployment) -> str:
    stage = deployment.settings.name.stage_id
    return f"put the pin in config/environments.toml in a pull request; after review: npx cdk deploy '{stage}/*'"
