"""The operations CLI (`python -m sagemaker_ops`) against what the pipeline produced in the local SageMaker."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError

from config.exit_codes import ExitCode
from config.settings import DEFAULT_CONFIG_FILE
from local_sagemaker.registry import model_data_url
from sagemaker_ops.cli import main
from tests.container.harness import csv_bytes
from tests.declared import EXAMPLE
from tests.e2e.pipeline import ROLE, Environment
from tests.helpers import register_approved_version

OK, FAILED, USAGE = ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE


def _as_sent(rows: np.ndarray) -> np.ndarray:
    """`rows` as the CSV sent to the container carries them (a model smooth in its features sees the rounding)."""
    return np.loadtxt(io.BytesIO(csv_bytes(None, rows)), delimiter=",", ndmin=2)


@pytest.fixture
def cli(staging: Environment, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """Run one subcommand against staging in the emulator; returns (exit code, its JSON document)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)

    def run(*args: str) -> tuple[int, dict[str, Any]]:
        code = main([*args, "--env", "staging", "--endpoint-url", staging.server.url, "--json",
                     "--poll-seconds", "0.5", "--timeout", "150"])  # fmt: skip
        document: dict[str, Any] = json.loads(capsys.readouterr().out)
        return code, document

    return run


def test_train_approve_promote_invoke_smoke_transform_and_status_on_the_trained_model(
    staging: Environment, cli: Any, tmp_path: Path
) -> None:
    # GIVEN data in staging's data bucket
    data = staging.upload("e2e/operations", rows=600, seed=6)
    # WHEN the operator trains with the CLI
    code, trained = cli("train", "--data-prefix", data.prefix, *(f"-p{k}={v}" for k, v in EXAMPLE.items()))
    # THEN the pipeline ran to the end and registered the model as a version awaiting approval
    assert code == OK, trained
    run = staging.wait(trained["execution_arn"])
    assert run.status == "SUCCEEDED", staging.explain(run)
    job, package = run.output["training_job"], run.output["model_package"]
    version = package.split("/")[-1]

    # WHEN the operator asks for the pin of the version before anyone approved it
    code, refused = cli("promote", "--package", version)
    # THEN there is none; nor can a Model be created from it here (the local SageMaker's rule: on AWS, check-pin's)
    assert code == FAILED and "PendingManualApproval, not Approved" in refused["error"], refused
    sagemaker = staging.client("sagemaker")
    with pytest.raises(ClientError, match="PendingManualApproval: a model can be created from an Approved"):
        sagemaker.create_model(
            ModelName="unapproved", PrimaryContainer={"ModelPackageName": package}, ExecutionRoleArn=ROLE
        )
    # AND an artifact pin is dev's only
    code, artifact = cli("promote", "--job", job)
    assert code == USAGE and "approved model package versions only" in artifact["error"], artifact

    # WHEN a person approves it, with a reason THEN it is recorded, with who and when
    code, approved = cli("approve", "--package", f"{staging.prefix}/{version}", "--reason", "AUC and data reviewed")
    assert code == OK, approved
    assert (approved["previous_approval"], approved["approval"]) == ("PendingManualApproval", "Approved")
    assert approved["approval_description"] == "AUC and data reviewed"
    assert approved["decided_by"] and approved["decided_at"]
    # AND the pin names the version, with what produced it: the training job, its data, metrics, hyperparameters
    code, promoted = cli("promote", "--package", package)
    assert code == OK, promoted
    assert promoted["pin"] == f'[environments.staging.endpoint]\nmodel_package = "{staging.prefix}/{version}"'
    assert promoted["training_job"] == job
    assert promoted["data"] == f"s3://{staging.data_bucket}/{data.prefix}/"
    training = sagemaker.describe_training_job(TrainingJobName=job)
    final = {metric["MetricName"]: metric["Value"] for metric in training["FinalMetricDataList"]}
    assert promoted["metrics"] == final, promoted  # every final metric, from the version's statistics document
    assert {name: promoted["hyperparameters"][name] for name in EXAMPLE} == EXAMPLE
    assert promoted["model_artifact"] == run.output["model_artifact"]
    # AND a Model can now be created from it
    sagemaker.create_model(ModelName="approved", PrimaryContainer={"ModelPackageName": package}, ExecutionRoleArn=ROLE)

    # GIVEN the endpoint's model serves that model's artifact (what deploying the pin gives; `make demo` does it)
    endpoint = sagemaker.describe_endpoint(EndpointName=staging.output("Inference", "EndpointName"))
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    bucket, _, key = model_data_url(sagemaker, model["PrimaryContainer"]).removeprefix("s3://").partition("/")
    trained_key = run.output["model_artifact"].removeprefix(f"s3://{staging.artifacts_bucket}/")
    staging.client("s3").copy_object(
        Bucket=bucket, Key=key, CopySource={"Bucket": staging.artifacts_bucket, "Key": trained_key}
    )

    # WHEN the operator checks, invokes and smoke-tests the endpoint
    code, status = cli("status")
    assert code == OK, status
    assert status["status"] == "InService" and status["runs_expected_config"] is True
    # AND status names the version the endpoint's model was created from: the shipped pin's first version
    assert status["model_package"]["version"] == f"{staging.prefix}/1"
    assert status["model_package"]["approval"] == "Approved" and status["model_package"]["decided_by"]
    rows = data.score_features[:5]
    sample = tmp_path / "rows.csv"
    sample.write_bytes(csv_bytes(None, rows))
    code, invoked = cli("invoke", "--file", str(sample))
    # THEN the endpoint's container answers with the trained model's predictions
    assert code == OK, invoked
    predicted = np.array([float(line) for line in str(invoked["predictions"]).split()])
    np.testing.assert_allclose(predicted, staging.model_of(job).predict(_as_sent(rows)), rtol=1e-6)
    code, smoked = cli("smoke", "--row=" + ",".join(f"{v:.6g}" for v in rows[0]))
    assert code == OK, smoked
    code, failed = cli("smoke", "--row=1,2")
    assert code != OK and "features" in failed["error"], failed

    # WHEN the operator runs a batch transform with the deployed model THEN the scores land in the artifacts bucket
    code, transformed = cli("transform", "--input", f"{data.prefix}/score/", "--job-name", "ops-transform")
    assert code == OK, transformed
    outputs = staging.read(transformed["output"])
    assert list(outputs) == ["transform/ops-transform/part-0.csv.out"]
    scores = np.array([float(line) for line in outputs["transform/ops-transform/part-0.csv.out"].decode().split()])
    np.testing.assert_allclose(scores, staging.model_of(job).predict(_as_sent(data.score_features)), rtol=1e-6)


def test_a_rejected_version_gets_no_pin_no_deploy_and_no_model(staging: Environment, cli: Any, tmp_path: Path) -> None:
    # GIVEN a version awaiting approval (registered as the pipeline registers; no run needed)
    platform = {key: staging.output("Platform", key) for key in ("ModelPackageGroupName", "ImageUri")}
    platform["ArtifactsBucketName"] = staging.artifacts_bucket
    package = register_approved_version(staging.server, platform, status="PendingManualApproval")
    version = package.rsplit("/", 1)[-1]
    # WHEN a person rejects it, with the reason
    code, rejected = cli("reject", "--package", version, "--reason", "validation data leaked into train")
    # THEN SageMaker records it, and no pin is printed for it
    assert code == OK, rejected
    assert (rejected["approval"], rejected["approval_description"]) == ("Rejected", "validation data leaked into train")
    code, refused = cli("promote", "--package", version)
    assert code == FAILED and "is Rejected, not Approved" in refused["error"], refused
    # AND a configuration pinning it is not deployed: make deploy's check-pin exits 1 before cdk deploy
    pinned = tmp_path / "environments.toml"
    shipped = DEFAULT_CONFIG_FILE.read_text()
    pinned.write_text(
        shipped.replace(f'model_package = "{staging.prefix}/1"', f'model_package = "{staging.prefix}/{version}"')
    )
    code, checked = cli("check-pin", "--config", str(pinned))
    assert code == FAILED and f"pins version {staging.prefix}/{version}, which is Rejected" in checked["error"], checked
    # while the shipped pin, version 1 (approved when the stage was deployed), may be deployed
    code, checked = cli("check-pin")
    assert (code, checked["approval"]) == (OK, "Approved"), checked
    # AND a stack pinning it fails to create its Model in the local SageMaker (its rule; on AWS check-pin's)
    template = {
        "Resources": {
            "Model": {
                "Type": "AWS::SageMaker::Model",
                "Properties": {"ExecutionRoleArn": ROLE, "PrimaryContainer": {"ModelPackageName": package}},
            }
        }
    }
    # (moto's CloudFormation creates resources within CreateStack, so the call itself fails)
    with pytest.raises(ClientError, match="is Rejected: a model can be created from an Approved model package version"):
        staging.client("cloudformation").create_stack(StackName="rejected-pin", TemplateBody=json.dumps(template))
