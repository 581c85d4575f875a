"""`invoke` and `smoke` against an asynchronous environment: the body to S3, InvokeEndpointAsync, the result waited for.

AWS's answers are botocore Stubbers (tests/sagemaker_ops/stubbed.py); the emulator runs the whole flow in
tests/e2e/test_local_sagemaker.py.
"""

from __future__ import annotations

import copy
import io
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY

from config import EnvironmentConfig, parse_config
from config.contract import ASYNC_INPUT_PREFIX
from config.settings import DEFAULT_CONFIG_FILE
from sagemaker_ops.cli import FAILED, OK, TIMED_OUT
from sagemaker_ops.progress import WaitTimeoutError
from scripts.demo import make_asynchronous
from tests.helpers import TEST_ACCOUNT
from tests.sagemaker_ops.stubbed import StubbedDeployment, run_json, stack, use

BUCKET, ENDPOINT, ID = "dev-artifacts", "sagemaker-gbdt-dev", "inference-1"
OUTPUT = f"s3://{BUCKET}/async-inference/output/{ID}.out"
FAILURE = f"s3://{BUCKET}/async-inference/failures/{ID}-error.out"


def _dev_settings(**asynchronous: Any) -> EnvironmentConfig:
    """Dev's configuration with its endpoint asynchronous, `asynchronous` set in its table."""
    raw: dict[str, Any] = copy.deepcopy(tomllib.loads(DEFAULT_CONFIG_FILE.read_text()))
    make_asynchronous(raw["environments"]["dev"]["endpoint"])
    raw["environments"]["dev"]["endpoint"]["asynchronous"].update(asynchronous)
    return parse_config(raw, default_account=TEST_ACCOUNT).environment("dev")


@pytest.fixture
def dev(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubbedDeployment]:
    """Dev deployed with an asynchronous endpoint, its AWS answers to be added by the test."""
    deployment = StubbedDeployment(
        "dev",
        {
            "Platform": stack("Platform", {"ArtifactsBucketName": BUCKET}),
            "Inference": stack("Inference", {"EndpointName": ENDPOINT}),
        },
    )
    deployment.settings = _dev_settings()
    use(monkeypatch, deployment)
    yield deployment
    deployment.assert_no_pending_responses()


def _submitted(dev: StubbedDeployment, body: bytes, invocation_timeout: int = 900) -> None:
    """The body uploaded under the requests' prefix, then InvokeEndpointAsync naming it and the configured
    InvocationTimeoutSeconds (AWS's default 900 s unless set), answered with locations."""
    dev.stubber("s3").add_response(
        "put_object", {}, {"Bucket": BUCKET, "Key": ANY, "Body": body, "ContentType": "text/csv"}
    )
    dev.stubber("sagemaker-runtime").add_response(
        "invoke_endpoint_async",
        {"InferenceId": ID, "OutputLocation": OUTPUT, "FailureLocation": FAILURE},
        {
            "EndpointName": ENDPOINT,
            "InputLocation": ANY,
            "ContentType": "text/csv",
            "Accept": "text/csv",
            "InvocationTimeoutSeconds": invocation_timeout,
        },
    )


def _listed(dev: StubbedDeployment, key: str, *keys: str) -> None:
    """ListObjectsV2 with `key` as the prefix answers `keys` (another object may share the prefix)."""
    dev.stubber("s3").add_response(
        "list_objects_v2", {"Contents": [{"Key": k} for k in keys]}, {"Bucket": BUCKET, "Prefix": key, "MaxKeys": 1}
    )


def _missing(dev: StubbedDeployment, *locations: str) -> None:
    for location in locations:
        key = location.removeprefix(f"s3://{BUCKET}/")
        # The worst listing: another object shares the prefix, which is not the answer.
        _listed(dev, key, f"{key}.partial")


def _found(dev: StubbedDeployment, location: str, body: bytes) -> None:
    key = location.removeprefix(f"s3://{BUCKET}/")
    _listed(dev, key, key)
    dev.stubber("s3").add_response(
        "get_object",
        {"Body": StreamingBody(io.BytesIO(body), len(body))},
        {"Bucket": BUCKET, "Key": key},
    )


@pytest.fixture
def request_file(tmp_path: Path) -> Path:
    path = tmp_path / "rows.csv"
    path.write_bytes(b"1,2,3\n")
    return path


def test_invoke_uploads_the_body_submits_it_and_prints_the_result_once_written(
    dev: StubbedDeployment, capsys: pytest.CaptureFixture[str], request_file: Path
) -> None:
    # GIVEN an asynchronous dev whose result appears at the second look (an instance had to start)
    _submitted(dev, b"1,2,3\n")
    _missing(dev, OUTPUT, FAILURE)
    _found(dev, OUTPUT, b"0.25\n")
    # WHEN an operator invokes it with a file
    code, document = run_json(capsys, "invoke", "--env", "dev", "--file", str(request_file), "--poll-seconds", "0.01")
    # THEN the predictions are printed with where the request and its result are
    assert code == OK, document
    assert document["predictions"] == 0.25
    assert (document["inference_id"], document["output_location"], document["failure_location"]) == (
        ID,
        OUTPUT,
        FAILURE,
    )
    assert document["input_location"].startswith(f"s3://{BUCKET}/{ASYNC_INPUT_PREFIX}")
    assert document["input_location"].endswith(".csv")


def test_each_request_sends_the_configured_invocation_timeout(
    dev: StubbedDeployment, capsys: pytest.CaptureFixture[str], request_file: Path
) -> None:
    # GIVEN dev configured for the longest InvocationTimeoutSeconds SageMaker allows (the container waits as long)
    dev.settings = _dev_settings(invocation_timeout_seconds=3600)
    _submitted(dev, b"1,2,3\n", invocation_timeout=3600)
    _found(dev, OUTPUT, b"0.25\n")
    # WHEN invoked THEN InvokeEndpointAsync carried 3600 (the stubber refuses any other parameters) and it answered
    code, document = run_json(capsys, "invoke", "--env", "dev", "--file", str(request_file), "--poll-seconds", "0.01")
    assert code == OK, document
    assert document["predictions"] == 0.25


def test_a_failed_request_fails_the_command_with_sagemakers_reason(
    dev: StubbedDeployment, capsys: pytest.CaptureFixture[str], request_file: Path
) -> None:
    # GIVEN an asynchronous dev that writes the request's failure
    _submitted(dev, b"1,2,3\n")
    _missing(dev, OUTPUT)
    _found(dev, FAILURE, b'Received client error (400) from primary with message "expected 5 features"')
    # WHEN invoked THEN the command fails (exit 1) with the reason and the failure's location
    code, document = run_json(capsys, "invoke", "--env", "dev", "--file", str(request_file), "--poll-seconds", "0.01")
    assert code == FAILED
    assert "the asynchronous request failed: Received client error (400)" in document["error"]
    assert document["failure_location"] == FAILURE


def test_smoke_waits_for_the_result_within_its_timeout_then_gives_up(
    dev: StubbedDeployment, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an asynchronous dev in service whose result is not written within the smoke test's --timeout
    monkeypatch.setattr(
        "sagemaker_ops.commands.status",
        lambda _context: {"endpoint": ENDPOINT, "status": "InService", "endpoint_config": "c",
                          "expected_endpoint_config": "c", "runs_expected_config": True},
    )  # fmt: skip
    waited: dict[str, float] = {}

    def one_look_then_time_out(observe: Any, *, what: str, timeout: float, interval: float) -> None:
        waited.update(timeout=timeout, interval=interval)
        assert not observe().done
        raise WaitTimeoutError(f"{what} still queued after {timeout:.0f}s")

    monkeypatch.setattr("sagemaker_ops.async_invoke.wait", one_look_then_time_out)
    _submitted(dev, b"1,2")
    _missing(dev, OUTPUT, FAILURE)
    # WHEN the smoke test runs with --timeout 900
    code, document = run_json(capsys, "smoke", "--env", "dev", "--row", "1,2", "--timeout", "900")
    # THEN it waited up to 900 s for the request, and times out (exit 4) naming it
    assert waited == {"timeout": 900, "interval": 15}
    assert code == TIMED_OUT
    assert f"asynchronous request {ID} still queued" in document["error"]
