"""The operations CLI (`python -m sagemaker_ops`) against what the pipeline produced in the local SageMaker."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sagemaker_ops.cli import main
from tests.container.harness import csv_bytes
from tests.declared import EXAMPLE
from tests.e2e.pipeline import Environment


def _as_sent(rows: np.ndarray) -> np.ndarray:
    """`rows` as the CSV sent to the container carries them (a model smooth in its features sees the rounding)."""
    return np.loadtxt(io.BytesIO(csv_bytes(None, rows)), delimiter=",", ndmin=2)


OK = 0  # the exit code of every successful command


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


def test_train_promote_invoke_smoke_transform_and_status_on_the_trained_model(
    staging: Environment, cli: Any, tmp_path: Path
) -> None:
    # GIVEN data in staging's data bucket
    data = staging.upload("e2e/operations", rows=600, seed=6)
    # WHEN the operator trains with the CLI
    code, trained = cli("train", "--data-prefix", data.prefix, *(f"-p{k}={v}" for k, v in EXAMPLE.items()))
    # THEN the pipeline ran to the end
    assert code == OK, trained
    run = staging.wait(trained["execution_arn"])
    assert run.status == "SUCCEEDED", staging.explain(run)
    job = run.output["training_job"]

    # WHEN the operator asks for the job's pin THEN it is the model's key in the artifacts bucket
    code, promoted = cli("promote", "--job", job)
    assert code == OK, promoted
    assert promoted["model_artifact_key"] == f"pipeline/models/{job}/output/model.tar.gz"
    assert promoted["model_artifact_key"] in promoted["pin"]

    # GIVEN the endpoint's model artifact is that model (what deploying the pin gives; `make demo` does it)
    inference = staging.client("sagemaker")
    endpoint = staging.output("Inference", "EndpointName")
    config = inference.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    model_name = inference.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"][0]["ModelName"]
    served = inference.describe_model(ModelName=model_name)["PrimaryContainer"]["ModelDataUrl"]
    bucket, _, key = served.removeprefix("s3://").partition("/")
    staging.client("s3").copy_object(
        Bucket=bucket, Key=key, CopySource={"Bucket": staging.artifacts_bucket, "Key": promoted["model_artifact_key"]}
    )

    # WHEN the operator checks, invokes and smoke-tests the endpoint
    code, status = cli("status")
    assert code == OK, status
    assert status["status"] == "InService" and status["runs_expected_config"] is True
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
