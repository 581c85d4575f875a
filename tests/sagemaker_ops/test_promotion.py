"""The promotion command: a finished execution's model becomes a reviewed pin, tested on recorded responses."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from sagemaker_ops.promotion import NotPromotableError, failure_reason, promotion
from tests.sagemaker_ops.recorded import KEY, REPORT


def _execution(**changes: Any) -> dict[str, Any]:
    return {"status": "SUCCEEDED", "output": json.dumps(REPORT), **changes}


def _job(**changes: Any) -> dict[str, Any]:
    metrics = [{"MetricName": "validation:score", "Value": 0.91}, {"MetricName": "train:score", "Value": 0.97}]
    return {"TrainingJobName": "sagemaker-gbdt-dev-run-1", "FinalMetricDataList": metrics, **changes}


def test_a_succeeded_execution_gives_the_pin_and_a_report() -> None:
    # GIVEN a succeeded execution and its training job WHEN promoted
    result = promotion(_execution(), _job())
    # THEN the pin is the artifact's key in the environment's section
    assert result.model_artifact_key == KEY
    assert result.pin == f'[environments.dev.endpoint]\nmodel_artifact_key = "{KEY}"'
    # AND the report names commit, job, metrics and the deploy command
    report = result.report()
    assert "0a1b2c3" in report
    assert "validation:score=0.91" in report
    assert "npx cdk deploy 'Dev/*'" in report


def test_a_failed_execution_is_not_promotable_and_says_why() -> None:
    cause = json.dumps({"TrainingJobName": "sagemaker-gbdt-dev-run-2", "FailureReason": "AlgorithmError: bad label"})
    execution = {"status": "FAILED", "error": "States.TaskFailed", "cause": cause}
    with pytest.raises(
        NotPromotableError,
        match=re.escape(
            "FAILED, not SUCCEEDED: States.TaskFailed: sagemaker-gbdt-dev-run-2: AlgorithmError: bad label"
        ),
    ):
        promotion(execution)


def test_a_plain_cause_is_reported_as_is() -> None:
    assert failure_reason({"error": "InvalidInput", "cause": "needs data_prefix"}) == "InvalidInput: needs data_prefix"


def test_a_model_outside_the_artifacts_bucket_is_refused() -> None:
    output = json.dumps({**REPORT, "model_artifact": f"s3://elsewhere/{KEY}"})
    with pytest.raises(NotPromotableError, match=r"not a model\.tar\.gz in the artifacts bucket"):
        promotion(_execution(output=output))


@pytest.mark.parametrize(
    "output",
    ["{}", "[]", "not json", json.dumps({k: v for k, v in REPORT.items() if k != "training_job"})],
)
def test_an_output_that_is_not_a_report_is_refused(output: str) -> None:
    # GIVEN a succeeded execution whose output is not the pipeline's whole report WHEN promoted THEN it is refused
    with pytest.raises(NotPromotableError, match="not a training pipeline report"):
        promotion(_execution(output=output))


def test_a_training_job_of_another_execution_is_refused() -> None:
    with pytest.raises(NotPromotableError, match="describes other-job"):
        promotion(_execution(), _job(TrainingJobName="other-job"))
