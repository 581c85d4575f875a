"""`logs --job` asks SageMaker what kind of job it is (training, transform, processing), never guesses from the name.

SageMaker runs in-process (moto) for the jobs and their log groups; the answers moto does not give
(SageMaker's own not-found messages, an access denied) are botocore Stubbers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from config.contract import PROCESSING_JOB_LOG_GROUP, TRAINING_JOB_LOG_GROUP, TRANSFORM_JOB_LOG_GROUP
from sagemaker_ops import commands
from sagemaker_ops.cli import AWS_ERROR, OK, USAGE
from tests.helpers import fake_aws_credentials
from tests.sagemaker_ops.stubbed import REGION, StubbedDeployment, run, run_json, use

ROLE = "arn:aws:iam::123456789012:role/execution"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """SageMaker and CloudWatch Logs in this process, reached through the CLI's own session."""
    fake_aws_credentials(monkeypatch)
    with mock_aws():
        yield


def _training_job(name: str) -> None:
    boto3.client("sagemaker", region_name=REGION).create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": "image", "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": "s3://artifacts/models"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )


def _transform_job(name: str) -> None:
    boto3.client("sagemaker", region_name=REGION).create_transform_job(
        TransformJobName=name,
        ModelName="model",
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://data/batch"}}},
        TransformOutput={"S3OutputPath": "s3://artifacts/scores"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )


def _processing_job(name: str) -> None:
    boto3.client("sagemaker", region_name=REGION).create_processing_job(
        ProcessingJobName=name,
        ProcessingResources={
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10}
        },
        AppSpecification={"ImageUri": "image"},
        RoleArn=ROLE,
    )


def _logged(group: str, job: str, message: str) -> None:
    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=f"{job}/algo-1-1764580000")
    logs.put_log_events(
        logGroupName=group,
        logStreamName=f"{job}/algo-1-1764580000",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": message}],
    )


def _logs(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    return run_json(capsys, "logs", "--env", "dev", "--since", "1h", *args)


@pytest.mark.usefixtures("aws")
def test_a_training_job_named_like_a_transform_reads_the_training_log_group(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a training job whose name says "transform" (the old guess read the transform log group)
    _training_job("gbdt-transform-features")
    _logged(TRAINING_JOB_LOG_GROUP, "gbdt-transform-features", "[10] validation-score: 0.91")
    # WHEN its logs are asked for
    code, result = _logs(capsys, "--job", "gbdt-transform-features")
    # THEN they are read from where SageMaker writes training logs, its streams only
    assert code == OK
    assert result["log_group"] == TRAINING_JOB_LOG_GROUP
    assert result["stream_prefix"] == "gbdt-transform-features/"
    assert [e["message"] for e in result["events"]] == ["[10] validation-score: 0.91"]


@pytest.mark.usefixtures("aws")
def test_a_transform_and_a_processing_job_read_their_own_log_groups(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a transform job and a processing job whose names say nothing of their kind
    _transform_job("scores-1")
    _logged(TRANSFORM_JOB_LOG_GROUP, "scores-1", "scored 1000 rows")
    _processing_job("prepare-1")
    _logged(PROCESSING_JOB_LOG_GROUP, "prepare-1", "wrote features")
    # WHEN the logs of each are asked for THEN each comes from its kind's log group
    for job, group, message in [("scores-1", TRANSFORM_JOB_LOG_GROUP, "scored 1000 rows"),
                                ("prepare-1", PROCESSING_JOB_LOG_GROUP, "wrote features")]:  # fmt: skip
        code, result = _logs(capsys, "--job", job)
        assert code == OK
        assert result["log_group"] == group
        assert [e["message"] for e in result["events"]] == [message]


@pytest.mark.usefixtures("aws")
def test_a_name_both_a_training_and_a_transform_job_needs_kind(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a pipeline execution's jobs: a training job and a transform job of the same name
    _training_job("sagemaker-gbdt-dev-run-1")
    _transform_job("sagemaker-gbdt-dev-run-1")
    _logged(TRANSFORM_JOB_LOG_GROUP, "sagemaker-gbdt-dev-run-1", "scored")
    # WHEN its logs are asked for without --kind THEN it is a usage error that says which --kind to add
    code, err, _ = run(capsys, "logs", "--env", "dev", "--job", "sagemaker-gbdt-dev-run-1")
    assert code == USAGE
    assert err == [
        "error: sagemaker-gbdt-dev-run-1 is a training and a transform job (the training pipeline names its jobs "
        "after the execution): add --kind training or --kind transform"
    ]
    # AND WHEN --kind says which THEN that job's logs are read
    code, result = _logs(capsys, "--job", "sagemaker-gbdt-dev-run-1", "--kind", "transform")
    assert code == OK
    assert result["log_group"] == TRANSFORM_JOB_LOG_GROUP


@pytest.mark.usefixtures("aws")
def test_a_job_sagemaker_does_not_know_exits_3_naming_the_kinds_asked(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a transform job only
    _transform_job("scores-1")
    # WHEN the logs of an unknown job, or of the transform job as a training job, are asked for
    unknown, unknown_err, _ = run(capsys, "logs", "--env", "dev", "--job", "nope")
    wrong_kind, wrong_err, _ = run(capsys, "logs", "--env", "dev", "--job", "scores-1", "--kind", "training")
    # THEN each is an AWS error (not deployed) saying what SageMaker was asked
    assert unknown == wrong_kind == AWS_ERROR
    assert unknown_err == [
        "error: SageMaker has no training or transform or processing job named nope (in this account and region)"
    ]
    assert wrong_err == ["error: SageMaker has no training job named scores-1 (in this account and region)"]


def test_sagemakers_own_not_found_answers_are_told_apart_from_other_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN SageMaker's answers for unknown names (a ValidationException, not a 404), then an access denied
    deployment = StubbedDeployment("dev")
    sagemaker = deployment.stubber("sagemaker")
    sagemaker.add_client_error("describe_training_job", "ValidationException", "Requested resource not found.")
    sagemaker.add_client_error("describe_transform_job", "ValidationException", "Could not find requested job")
    sagemaker.add_client_error("describe_processing_job", "AccessDeniedException", "not authorized")
    use(monkeypatch, deployment)
    # WHEN a job's logs are asked for
    code, err, _ = run(capsys, "logs", "--env", "dev", "--job", "run-1")
    # THEN the not-found answers rule their kinds out, and the access denied is reported as such, not as "no job"
    assert code == AWS_ERROR
    (line,) = err
    assert "(AccessDeniedException) when calling the DescribeProcessingJob operation" in line
    deployment.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("code", "message", "not_found"),
    [
        ("ValidationException", "Requested resource not found.", True),
        ("ValidationException", "Could not find training job 'arn:...'.", True),
        ("ResourceNotFound", "Resource not found", True),
        ("ValidationException", "1 validation error detected: Value 'x' at 'trainingJobName'", False),
        ("ThrottlingException", "Rate exceeded", False),
    ],
)
def test_only_a_not_found_answer_means_no_such_job(code: str, message: str, not_found: bool) -> None:
    error = ClientError({"Error": {"Code": code, "Message": message}}, "DescribeTrainingJob")
    assert commands._not_found(error) is not_found
