"""Promotion: a finished training job or pipeline execution becomes a configuration pin.

`python -m sagemaker_ops promote --env <env> --job <name>` or `--execution-arn <arn>` prints the
TOML to paste into config/environments.toml; promotion is that change, reviewed in a pull request
and deployed with `cdk deploy`. `promotion()` does the work on the two API responses
(DescribeExecution, DescribeTrainingJob), so it is tested without AWS.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def pin(environment: str, model_artifact_key: str) -> str:
    """The TOML that points `environment`'s endpoint at the model under `model_artifact_key`."""
    return f'[environments.{environment}.endpoint]\nmodel_artifact_key = "{model_artifact_key}"'


class NotPromotableError(ValueError):
    """The execution did not produce a model this environment can serve; the message says why."""


@dataclass(frozen=True)
class Promotion:
    """What a successful execution produced, and the pin that serves it."""

    environment: str
    execution: str
    commit: str
    training_job: str
    model_artifact: str
    model_artifact_key: str
    metrics: dict[str, float]
    scores: str

    @property
    def pin(self) -> str:
        """The TOML that points the environment's endpoint at this model."""
        return pin(self.environment, self.model_artifact_key)

    def report(self) -> str:
        metrics = ", ".join(f"{name}={value:g}" for name, value in sorted(self.metrics.items())) or "none reported"
        return "\n".join(
            [
                f"execution     {self.execution}",
                f"commit        {self.commit}",
                f"training job  {self.training_job}",
                f"metrics       {metrics}",
                f"model         {self.model_artifact}",
                f"batch scores  {self.scores}",
                "",
                f"To serve this model in {self.environment}, change config/environments.toml in a pull request:",
                "",
                self.pin,
                "",
                f"then, after review: npx cdk deploy '{self.environment.capitalize()}/*'",
            ]
        )


def promotion(execution: Mapping[str, Any], training_job: Mapping[str, Any] | None = None) -> Promotion:
    """The promotion for `execution` (a DescribeExecution response) and its `training_job` (DescribeTrainingJob).

    Raises NotPromotableError when the execution did not succeed (with its error and the job's
    FailureReason), its output is not the pipeline's report, or the model is outside the artifacts bucket.
    """
    status = execution.get("status")
    if status != "SUCCEEDED":
        raise NotPromotableError(f"execution is {status}, not SUCCEEDED: {failure_reason(execution)}")
    try:
        report = json.loads(execution["output"])
        artifact, bucket = report["model_artifact"], report["artifacts_bucket"]
        prefix, job_name, execution_id = report["environment_prefix"], report["training_job"], report["execution"]
    except (KeyError, TypeError, json.JSONDecodeError):
        raise NotPromotableError("the execution's output is not a training pipeline report") from None
    found_bucket, _, key = str(artifact).removeprefix("s3://").partition("/")
    if found_bucket != bucket or not key.endswith(".tar.gz"):
        raise NotPromotableError(f"the model {artifact} is not a model.tar.gz in the artifacts bucket {bucket}")
    metrics: dict[str, float] = {}
    if training_job is not None:
        if training_job.get("TrainingJobName") != job_name:
            raise NotPromotableError(
                f"training_job describes {training_job.get('TrainingJobName')}, the execution ran {job_name}"
            )
        metrics = {m["MetricName"]: float(m["Value"]) for m in training_job.get("FinalMetricDataList", [])}
    return Promotion(
        environment=report.get("environment") or prefix.rsplit("-", 1)[-1],
        execution=execution_id,
        commit=report.get("commit", "unknown"),
        training_job=job_name,
        model_artifact=artifact,
        model_artifact_key=key,
        metrics=metrics,
        scores=report.get("scores", ""),
    )


def failure_reason(execution: Mapping[str, Any]) -> str:
    """Why an execution failed: its error, and the SageMaker job's FailureReason when the cause describes a job."""
    error = execution.get("error") or "no error recorded"
    cause = execution.get("cause") or ""
    try:
        described = json.loads(cause)
    except json.JSONDecodeError:
        return f"{error}: {cause}" if cause else error
    if isinstance(described, dict) and "FailureReason" in described:
        job = described.get("TrainingJobName") or described.get("TransformJobName") or "the job"
        return f"{error}: {job}: {described['FailureReason']}"
    return f"{error}: {cause}"
