"""The real training pipeline (the synthesized state machine, executed by moto) drives the real container.

Each test uploads a small dataset to staging's data bucket and runs the pipeline as an operator would:
train → quality gate (staging's, config/environments.toml) → register the version → create a model of the
version staging serves (approved: the run's own awaits a person) → batch transform → notify. The
hyperparameters are the algorithm's declared example (tests/declared.py), which trains in seconds.
"""

from __future__ import annotations

import json
import re
import urllib.request

import numpy as np
import pytest

from config.sections import EvaluationSettings
from tests import declared
from tests.conftest import Synthesized
from tests.e2e.pipeline import Environment

FAST = dict(declared.EXAMPLE)  # trains in seconds: the tests check the plumbing, not the model
SUCCEEDED, FAILED = "SUCCEEDED", "FAILED"


def _gate(synthesized: Synthesized) -> EvaluationSettings:
    gate = synthesized.config.environment("staging").training.evaluation
    if gate is None:
        pytest.skip("staging has no quality gate in config/environments.toml")
    return gate


def _passes(gate: EvaluationSettings, value: float) -> bool:
    return value >= gate.threshold if gate.higher_is_better else value <= gate.threshold


def test_data_in_the_bucket_becomes_scores_of_the_served_version_and_a_candidate_awaiting_approval(
    staging: Environment, synthesized: Synthesized
) -> None:
    # GIVEN a dataset in the data bucket, and a queue on the notification topic
    data = staging.upload("e2e/scores", rows=600, seed=1)
    queue = staging.subscribe_queue("e2e-scores")
    # AND the version staging serves (its approved pin) names a model trained on other data
    served_job = "e2e-served-model"
    other = staging.upload("e2e/served", rows=600, seed=11)
    pin = synthesized.config.environment("staging").endpoint.package
    assert pin is not None, "staging pins no model package version in config/environments.toml"
    served = staging.serve_version(pin.version, staging.train_directly(served_job, other, FAST))
    # WHEN the pipeline runs on it
    run = staging.run({"data_prefix": data.prefix, "hyperparameters": FAST, "commit": "abc123"})
    # THEN it passes every step, and reports where the model and the scores are
    assert run.status == SUCCEEDED, staging.explain(run)
    gate = synthesized.config.environment("staging").training.evaluation
    steps = ["Train", *(["Evaluate", "MeetsQualityGate"] if gate else []), "Lineage", "WriteMetrics", "Register"]
    steps += ["CreateModel", "Score", "Report", "NotifySucceeded"]
    assert [name for name in run.entered() if name in steps] == steps
    report = run.output
    job = report["training_job"]
    training = staging.client("sagemaker").describe_training_job(TrainingJobName=job)
    assert training["TrainingJobStatus"] == "Completed"
    assert report["model_artifact"] == training["ModelArtifacts"]["S3ModelArtifacts"]
    assert report["model_artifact"].startswith(f"s3://{staging.artifacts_bucket}/pipeline/models/{job}/")
    metrics = {m["MetricName"]: m["Value"] for m in training["FinalMetricDataList"]}
    assert gate is None or _passes(gate, metrics[gate.metric]), metrics
    # AND the scores are the input rows joined with the served version's predictions, row by row, not the
    # candidate's: it awaits a person
    assert report["scored_with"] == served
    outputs = staging.read(report["scores"])
    assert list(outputs) == [f"pipeline/scores/{job}/part-0.csv.out"]
    lines = outputs[next(iter(outputs))].decode().splitlines()
    rows = np.array([[float(v) for v in line.split(",")] for line in lines])
    assert rows.shape == (len(data.score_features), data.score_features.shape[1] + 1)
    np.testing.assert_allclose(rows[:, :-1], data.score_features, rtol=1e-5)
    expected = staging.model_of(served_job).predict(rows[:, :-1])
    np.testing.assert_allclose(rows[:, -1], expected, rtol=1e-6, atol=1e-9)
    assert not np.allclose(rows[:, -1], staging.model_of(job).predict(rows[:, :-1]))
    # AND the model exists, the training log is in CloudWatch, and the topic got the report
    assert staging.client("sagemaker").describe_model(ModelName=report["model_name"])["ModelName"] == job
    assert any("#metrics round=" in line for line in staging.container_log("/aws/sagemaker/TrainingJobs", job[-36:]))
    notes = staging.notifications(queue)
    assert [n["Subject"] for n in notes] == [f"{staging.prefix}: training pipeline succeeded"]
    assert notes[0]["Message"]["commit"] == "abc123"
    # AND the model is a version of staging's group awaiting approval, recording what produced it
    package = staging.client("sagemaker").describe_model_package(ModelPackageName=report["model_package"])
    assert package["ModelPackageGroupName"] == staging.prefix
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == report["model_artifact"]
    assert package["MetadataProperties"] == {"GeneratedBy": training["TrainingJobArn"], "CommitId": "abc123"}
    lineage = package["CustomerMetadataProperties"]
    assert lineage["pipeline/training_job"] == job
    assert lineage["pipeline/data"] == f"s3://{staging.data_bucket}/{data.prefix}/"
    # AND its model quality statistics are the job's final metrics, in a document next to the model
    statistics = package["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["ContentType"] == "application/json"
    assert statistics["S3Uri"] == report["model_artifact"].replace("model.tar.gz", "metrics.json")
    (document,) = staging.read(statistics["S3Uri"]).values()
    assert {m["MetricName"]: m["Value"] for m in json.loads(document)} == metrics
    assert {name: lineage[name] for name in FAST} == FAST


def test_the_quality_gate_rejects_a_model_that_learned_nothing(staging: Environment, synthesized: Synthesized) -> None:
    # GIVEN labels that are noise: no model passes staging's gate
    gate = _gate(synthesized)
    data = staging.upload("e2e/noise", rows=600, seed=2, signal=False)
    queue = staging.subscribe_queue("e2e-noise")
    # WHEN the pipeline runs on them
    run = staging.run({"data_prefix": data.prefix, "hyperparameters": FAST})
    # THEN training succeeds, the gate rejects the model, none is created, and the topic says why
    assert run.status == FAILED, staging.explain(run)
    assert run.described.get("error") == "ModelRejected", staging.explain(run)
    assert "CreateModel" not in run.entered()
    assert "Register" not in run.entered()
    notes = staging.notifications(queue)
    assert [n["Subject"] for n in notes] == [f"{staging.prefix}: model rejected by the quality gate"]
    assert notes[0]["Message"]["gate"] == f"{gate.metric} {'>=' if gate.higher_is_better else '<='} {gate.threshold}"
    assert not _passes(gate, notes[0]["Message"]["values"][0])


def test_a_bad_hyperparameter_fails_training_and_its_reason_reaches_the_notification(staging: Environment) -> None:
    # GIVEN a run asking for a value below a hyperparameter's minimum (the contract layer's, in every schema)
    bad = declared.contract_setting("integer")
    data = staging.upload("e2e/bad-hyperparameter", rows=300, seed=3)
    queue = staging.subscribe_queue("e2e-bad")
    # WHEN the pipeline runs
    run = staging.run(
        {"data_prefix": data.prefix, "hyperparameters": {**FAST, bad.name: str(int(bad.minimum or 0) - 1)}}
    )
    # THEN the Train step fails with the container's own reason, in the execution and in the notification
    assert run.status == FAILED, staging.explain(run)
    assert run.entered()[-2:] == ["NotifyTrainingFailed", "TrainingFailed"], staging.explain(run)
    cause = json.loads(run.described["cause"])
    assert cause["TrainingJobStatus"] == "Failed"
    assert cause["FailureReason"].startswith("AlgorithmError: ")
    assert bad.name in cause["FailureReason"]
    # AND the test output for such a failure names the step and shows the container's log
    explanation = staging.explain(run)
    assert "step Train: TaskFailed States.TaskFailed" in explanation
    assert "training failed: " in explanation and "/aws/sagemaker/TrainingJobs" in explanation
    notes = staging.notifications(queue)
    assert [n["Subject"] for n in notes] == [f"{staging.prefix}: training pipeline failed (Training)"]
    assert notes[0]["Message"]["stage"] == "Training"
    assert bad.name in json.loads(notes[0]["Message"]["cause"])["FailureReason"]


def test_a_spot_interruption_restarts_training_from_its_checkpoint(staging: Environment) -> None:
    # GIVEN a spot interruption requested for staging's next training job (a long one, so that it trains
    # when the interruption comes), for an algorithm that resumes from checkpoints
    declared.capability("checkpoints")
    data = staging.upload("e2e/spot", rows=600, seed=4)
    request = urllib.request.Request(  # noqa: S310 - the local emulator
        staging.server.url + "/local-sagemaker/spot-interruptions",
        data=json.dumps({"job_name_prefix": f"{staging.prefix}-"}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        assert answer.status == 200
    # WHEN the pipeline runs
    run = staging.run({"data_prefix": data.prefix, "hyperparameters": declared.never_stopping_early("600")})
    # THEN the job was interrupted, restarted, resumed from the checkpoint it synced to S3, and completed
    assert run.status == SUCCEEDED, staging.explain(run)
    job = run.output["training_job"]
    training = staging.client("sagemaker").describe_training_job(TrainingJobName=job)
    statuses = [t["Status"] for t in training["SecondaryStatusTransitions"]]
    assert statuses.count("Interrupted") == 1 and statuses[-1] == "Completed", statuses
    assert statuses.index("Interrupted") < len(statuses) - statuses[::-1].index("Training") - 1
    checkpoints = staging.read(training["CheckpointConfig"]["S3Uri"])
    assert checkpoints, "no checkpoint was synced to CheckpointConfig.S3Uri"
    # AND the second attempt went on from the first's checkpoint: its first round is a later one
    first_rounds: dict[str, int] = {}
    for line in staging.container_log("/aws/sagemaker/TrainingJobs", job[-36:]):
        stream, message = line.split()[1].split(":")[0], line.split(": ", 1)[1]
        if (reported := re.match(r"#metrics round=(\d+) ", message)) and stream not in first_rounds:
            first_rounds[stream] = int(reported.group(1))
    (retried,) = [stream for stream in first_rounds if stream.endswith("-attempt-2")]
    assert first_rounds[retried] > min(first_rounds.values()), first_rounds


def test_two_hosts_train_one_model_that_the_pipeline_scores_with(staging: Environment) -> None:
    # GIVEN two training files WHEN the pipeline runs with instance_count 2
    declared.capability("several_hosts")
    data = staging.upload("e2e/two-hosts", rows=800, seed=5, files=2)
    run = staging.run({"data_prefix": data.prefix, "hyperparameters": FAST, "instance_count": 2})
    # THEN two hosts trained one model (algo-1 wrote it), and the scores are there
    assert run.status == SUCCEEDED, staging.explain(run)
    job = run.output["training_job"]
    streams = staging.client("logs").describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{job}/"
    )["logStreams"]
    assert sorted(s["logStreamName"].split("/")[1].rsplit("-", 1)[0] for s in streams) == ["algo-1", "algo-2"]
    metadata = json.loads((staging.model_directory(job) / "metadata.json").read_text())
    assert metadata["num_machines"] == 2
    assert staging.read(run.output["scores"])


@pytest.mark.parametrize("missing", ["train"])
def test_a_run_without_its_data_fails_training_naming_the_s3_location(staging: Environment, missing: str) -> None:
    # GIVEN a prefix with no train/ objects WHEN the pipeline runs THEN Train fails with SageMaker's reason
    run = staging.run({"data_prefix": "e2e/nothing-here", "hyperparameters": FAST})
    assert run.status == FAILED
    reason = json.loads(run.described["cause"])["FailureReason"]
    assert reason.startswith("ClientError: No S3 objects found under S3 URL"), reason
    assert f"e2e/nothing-here/{missing}/" in reason
