"""`python -m sagemaker_ops promote`: from a training job (`--job`) or a pipeline execution (`--execution-arn`).

The command runs end to end through `cli.main`, with the environment's AWS replaced by recorded
DescribeExecution / DescribeTrainingJob answers (the emulator cannot finish a pipeline execution).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from config import load_config
from sagemaker_ops import cli
from sagemaker_ops.deployment import Deployment, Stack
from tests.helpers import cases
from tests.sagemaker_ops.recorded import BUCKET, KEY, REPORT

ARN = "arn:aws:states:us-east-1:123456789012:execution:Pipeline:run-1"
JOB = {
    "TrainingJobName": "sagemaker-gbdt-dev-run-1",
    "TrainingJobStatus": "Completed",
    "ModelArtifacts": {"S3ModelArtifacts": f"s3://{BUCKET}/{KEY}"},
    "FinalMetricDataList": [{"MetricName": "validation:score", "Value": 0.91}],
}


class _Recorded:
    """A client that answers each call with the recorded response."""

    def __init__(self, **answers: dict[str, Any]) -> None:
        self._answers = answers

    def __getattr__(self, name: str) -> Any:
        answer = self._answers[name]
        return lambda **_kwargs: answer


class _RecordedDeployment(Deployment):
    def __init__(self, environment: str, clients: dict[str, _Recorded], artifacts_bucket: str = BUCKET) -> None:
        super().__init__(load_config().environment(environment), boto3.Session(region_name="us-east-1"))
        self._clients = clients
        self._platform = Stack(
            name="Dev-Platform",
            status="UPDATE_COMPLETE",
            last_updated="",
            outputs={"ArtifactsBucketName": artifacts_bucket},
        )

    def client(self, service: str) -> Any:
        return self._clients[service]

    def stack(self, stack_id: str) -> Stack:
        assert stack_id == "Platform"
        return self._platform


def _promote(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    deployment: Deployment,
    *args: str,
) -> tuple[int, dict[str, Any]]:
    monkeypatch.setattr(cli, "_deployment", lambda _args, _settings: deployment)
    code = cli.main(["promote", "--env", deployment.settings.name.value, *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def _succeeded(**changes: Any) -> dict[str, Any]:
    return {"status": "SUCCEEDED", "output": json.dumps(REPORT), **changes}


def _after_dev_run(environment: str, artifacts_bucket: str = BUCKET) -> _RecordedDeployment:
    """`environment`, asked about dev's succeeded run-1 and its training job."""
    clients = {
        "stepfunctions": _Recorded(describe_execution=_succeeded()),
        "sagemaker": _Recorded(describe_training_job=JOB),
    }
    return _RecordedDeployment(environment, clients, artifacts_bucket)


def test_a_succeeded_execution_gives_the_pin_its_metrics_and_the_next_step(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a succeeded execution of dev's pipeline and its training job
    deployment = _after_dev_run("dev")
    # WHEN it is promoted in dev
    code, result = _promote(monkeypatch, capsys, deployment, "--execution-arn", ARN)
    # THEN the pin, the job's metrics, the commit and the deploy command are printed, exit 0
    assert code == cli.OK
    assert result["pin"] == f'[environments.dev.endpoint]\nmodel_artifact_key = "{KEY}"'
    assert result["metrics"] == {"validation:score": 0.91}
    assert result["commit"] == "0a1b2c3"
    assert "npx cdk deploy 'Dev/*'" in result["next_step"]


def test_a_failed_execution_exits_1_with_the_job_s_failure_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an execution whose training job failed
    cause = json.dumps({"TrainingJobName": "sagemaker-gbdt-dev-run-2", "FailureReason": "AlgorithmError: bad label"})
    failed = {"status": "FAILED", "error": "States.TaskFailed", "cause": cause}
    deployment = _RecordedDeployment("dev", {"stepfunctions": _Recorded(describe_execution=failed)})
    # WHEN it is promoted THEN the command fails saying why
    code, result = _promote(monkeypatch, capsys, deployment, "--execution-arn", ARN)
    assert code == cli.FAILED
    assert result["error"].endswith("sagemaker-gbdt-dev-run-2: AlgorithmError: bad label")


@pytest.mark.parametrize(
    ("environment", "artifacts_bucket", "refusal"),
    cases(
        (
            "outside-the-artifacts-bucket",
            "dev",
            "dev-artifacts-other",
            "not in this environment's artifacts bucket dev-artifacts-other",
        ),
    ),
)
def test_a_run_the_environment_cannot_serve_is_refused(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    environment: str,
    artifacts_bucket: str,
    refusal: str,
) -> None:
    # GIVEN dev's succeeded execution with a report naming a bucket that is not the environment's (an old stack, say)
    deployment = _after_dev_run(environment, artifacts_bucket)
    code, result = _promote(monkeypatch, capsys, deployment, "--execution-arn", ARN)
    # THEN it fails saying why, and no pin is printed
    assert code == cli.FAILED
    assert refusal in result["error"]
    assert "pin" not in result


def test_an_execution_of_another_environment_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN staging's succeeded execution WHEN an operator promotes it to dev by mistake
    staging_report = {**REPORT, "environment": "staging", "environment_prefix": "sagemaker-gbdt-staging"}
    clients = {
        "stepfunctions": _Recorded(describe_execution=_succeeded(output=json.dumps(staging_report))),
        "sagemaker": _Recorded(describe_training_job=JOB),
    }
    code, result = _promote(monkeypatch, capsys, _RecordedDeployment("dev", clients), "--execution-arn", ARN)
    # THEN no pin is printed: dev's endpoint could not read staging's bucket
    assert code == cli.FAILED
    assert "ran in environment 'staging', not 'dev'" in result["error"]
    assert "pin" not in result


@pytest.mark.parametrize("environment", ["staging", "prod"])
@pytest.mark.parametrize("source", [["--execution-arn", ARN], ["--job", "sagemaker-gbdt-dev-run-1"]])
def test_staging_and_prod_get_no_artifact_pin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], environment: str, source: list[str]
) -> None:
    # GIVEN a succeeded run WHEN an operator asks for an artifact pin of staging or prod
    code, result = _promote(monkeypatch, capsys, _after_dev_run(environment), *source)
    # THEN it is a usage error pointing at --package: no model reaches them without an approved version
    assert code == cli.USAGE
    assert (
        f"{environment} serves approved model package versions only: promote --env {environment} --package"
        in (result["error"])
    )


def test_a_job_gives_its_metrics_too(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    deployment = _RecordedDeployment("dev", {"sagemaker": _Recorded(describe_training_job=JOB)})
    code, result = _promote(monkeypatch, capsys, deployment, "--job", "sagemaker-gbdt-dev-run-1")
    assert code == cli.OK
    assert result["model_artifact_key"] == KEY
    assert result["metrics"] == {"validation:score": 0.91}


@pytest.mark.parametrize("args", [[], ["--job", "j", "--execution-arn", ARN]])
def test_promote_needs_exactly_one_of_package_job_and_execution(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN neither or both sources WHEN promote is called THEN it is a usage error (exit 2) naming the options
    assert cli.main(["promote", "--env", "dev", *args]) == cli.USAGE
    (line,) = capsys.readouterr().err.splitlines()
    assert "--job" in line
