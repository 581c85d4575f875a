"""The Drift stack's state machine runs the container's `monitor` as a processing job on the endpoint's capture.

The staging endpoint serves requests; the local SageMaker's InvokeEndpoint writes their data capture
(SageMaker's JSON Lines records under the endpoint config's DestinationS3Uri); the drift state machine
is started for the window of those captures, and its processing job's report lands in S3.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.container.harness import csv_bytes, make_data
from tests.declared import EXAMPLE
from tests.e2e.pipeline import Environment

CAPTURE_PREFIX = "data-capture"
REQUESTS, ROWS_PER_REQUEST = 3, 200  # staging's min_rows is 100: the window has enough rows to measure
FEATURES = 5  # make_data's
SHIFT = 2.0  # standard deviations added to every feature of the shifted requests


@pytest.fixture(scope="module")
def endpoint(staging: Environment) -> Iterator[str]:
    # A small model (it brings its drift baseline), served by staging's endpoint and named as its baseline
    data = staging.upload("e2e/drift", rows=2500, seed=21)
    model = staging.train_directly("direct-drift-model", data, dict(EXAMPLE))
    with staging.endpoint_serving(model) as name:
        yield name


def _clear_capture(staging: Environment, endpoint: str) -> None:
    s3 = staging.client("s3")
    for key in staging.read(f"s3://{staging.artifacts_bucket}/{CAPTURE_PREFIX}/{endpoint}/"):
        s3.delete_object(Bucket=staging.artifacts_bucket, Key=key)


def _serve(staging: Environment, endpoint: str, shift: float, seed: int) -> list[str]:
    """Send REQUESTS requests of ROWS_PER_REQUEST rows; returns the capture objects' keys."""
    runtime = staging.client("sagemaker-runtime")
    for index in range(REQUESTS):
        _, features = make_data("binary", ROWS_PER_REQUEST, seed=seed + index)
        answer = runtime.invoke_endpoint(
            EndpointName=endpoint, Body=csv_bytes(None, features + shift), ContentType="text/csv"
        )
        assert len(answer["Body"].read().decode().split()) == ROWS_PER_REQUEST
    return sorted(staging.read(f"s3://{staging.artifacts_bucket}/{CAPTURE_PREFIX}/{endpoint}/"))


def _check(staging: Environment, endpoint: str, keys: list[str]) -> dict[str, Any]:
    """Run the drift state machine for the window of the captures (staging's is a day); returns its report."""
    year, month, day, hour = keys[0].split("/")[3:7]
    assert all(key.split("/")[3:6] == [year, month, day] for key in keys), "the captures crossed midnight (UTC)"
    run = staging.run_state_machine("Drift", {"scheduled_time": f"{year}-{month}-{day}T{hour}:55:00Z",
                                              "settle_seconds": 0})  # fmt: skip
    assert run.status == "SUCCEEDED", staging.explain(run)
    assert "Monitor" in run.entered()
    job = run.output["job"]
    assert job["status"] == "Completed"
    described = staging.client("sagemaker").describe_processing_job(ProcessingJobName=job["name"])
    assert described["Environment"]["DRIFT_WINDOW"] == run.output["window"]["label"]
    assert run.output["window"]["label"].startswith(f"{year}-{month}-{day}")  # the window holds the captures' hour
    report_uri = run.output["locations"]["report_uri"]
    assert report_uri.startswith(f"s3://{staging.artifacts_bucket}/drift-reports/{endpoint}/{year}/{month}/{day}/")
    report_key = report_uri.split("/", 3)[3] + "drift-report.json"
    report: dict[str, Any] = json.loads(staging.read(report_uri)[report_key])
    events = staging.client("logs").filter_log_events(
        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix=f"{job['name']}/"
    )["events"]
    assert any("OverallDrift" in e["message"] for e in events), "the job's metrics (EMF) are not in its log"
    return report


def test_captured_requests_like_the_training_data_show_low_drift_and_shifted_ones_high(
    staging: Environment, endpoint: str
) -> None:
    # GIVEN the endpoint served requests drawn like its training data, captured by the endpoint
    _clear_capture(staging, endpoint)
    keys = _serve(staging, endpoint, shift=0.0, seed=100)
    assert len(keys) == REQUESTS
    record = json.loads(staging.read(f"s3://{staging.artifacts_bucket}/{keys[0]}")[keys[0]])
    assert record["captureData"]["endpointInput"]["encoding"] == "CSV"
    assert record["captureData"]["endpointOutput"]["mode"] == "OUTPUT"
    # WHEN the drift check runs for their window THEN its report says: no drift, every row analysed
    report = _check(staging, endpoint, keys)
    assert report["status"] == "ok", (report["overall"], [(f["name"], f["psi"]) for f in report["features"]])
    assert report["rows"] == REQUESTS * ROWS_PER_REQUEST
    assert report["overall"]["drift"] < report["threshold"] == 0.2
    assert report["overall"]["drifted_features"] == 0

    # GIVEN the window's requests are shifted by SHIFT standard deviations instead
    _clear_capture(staging, endpoint)
    shifted = _serve(staging, endpoint, shift=SHIFT, seed=200)
    # WHEN the check runs again THEN every feature drifted, far above the threshold
    report = _check(staging, endpoint, shifted)
    assert report["status"] == "drift", report
    assert report["overall"]["drift"] > 1.0
    assert report["overall"]["drifted_features"] == FEATURES
