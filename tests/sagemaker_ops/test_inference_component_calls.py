"""invoke and smoke name the inference component the stack outputs, and wait out a scale-out from zero, bounded."""

from __future__ import annotations

import io
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from sagemaker_ops.cli import AWS_ERROR, OK, TIMED_OUT
from sagemaker_ops.invocation import NO_CAPACITY_REFUSAL
from tests.sagemaker_ops.stubbed import StubbedDeployment, run_json, stack, use

ENDPOINT, COMPONENT = "sagemaker-gbdt-dev", "sagemaker-gbdt-dev-model"
# What InvokeEndpoint answers while no copy runs, its advice reworded: the client recognizes the first sentence.
REFUSAL = NO_CAPACITY_REFUSAL.split(". ", 1)[0] + ". Scaling may be under way; or raise the copy count."
REQUEST = {"EndpointName": ENDPOINT, "InferenceComponentName": COMPONENT, "ContentType": "text/csv"}


def _deployment(component: str | None = COMPONENT) -> StubbedDeployment:
    outputs = {"EndpointName": ENDPOINT} | ({"InferenceComponentName": component} if component else {})
    return StubbedDeployment("dev", {"Inference": stack("Inference", outputs)})


def _refusing(times: int) -> tuple[StubbedDeployment, Stubber]:
    """A deployment whose endpoint first refuses `times` requests for want of a copy; then what the test adds."""
    deployment = _deployment()
    runtime = deployment.stubber("sagemaker-runtime")
    for _ in range(times):
        runtime.add_client_error("invoke_endpoint", "ValidationError", REFUSAL, 400, expected_params=None)
    return deployment, runtime


def _answer(body: bytes = b"[0.25]") -> dict[str, Any]:
    return {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": "text/csv"}


def _invoke(capsys: pytest.CaptureFixture[str], tmp_path: Any, *extra: str) -> tuple[int, dict[str, Any]]:
    request = tmp_path / "rows.csv"
    request.write_text("1,2,3\n")
    return run_json(capsys, "invoke", "--env", "dev", "--file", str(request), "--poll-seconds", "0.05", *extra)


def test_invoke_names_the_component_and_waits_out_the_scale_out_from_zero(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    # GIVEN an endpoint of an inference component at zero copies: two refusals for no capacity, then an answer
    deployment, runtime = _refusing(2)
    runtime.add_response("invoke_endpoint", _answer(), {**REQUEST, "Body": b"1,2,3\n", "Accept": "text/csv"})
    use(monkeypatch, deployment)
    # WHEN a request is sent
    code, answer = _invoke(capsys, tmp_path)
    # THEN it names the component, retries while the copy starts, and prints the answer
    assert code == OK, answer
    assert answer["predictions"] == [0.25]
    deployment.assert_no_pending_responses()


def test_the_wait_for_capacity_is_bounded(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    # GIVEN a component that never gets a copy (no scale out from zero wired, or no capacity in the region)
    deployment, _ = _refusing(50)
    use(monkeypatch, deployment)
    # WHEN a request is sent with a short --capacity-wait
    code, answer = _invoke(capsys, tmp_path, "--capacity-wait", "0.2")
    # THEN it gives up with the timeout's exit code, naming what it waited for
    assert code == TIMED_OUT, answer
    assert COMPONENT in answer["error"]


def test_another_validation_error_is_not_waited_out(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    # GIVEN a component that refuses the request for another reason (a ValidationError too)
    deployment = _deployment()
    runtime = deployment.stubber("sagemaker-runtime")
    runtime.add_client_error("invoke_endpoint", "ValidationError", "Inference component x not found", 400)
    use(monkeypatch, deployment)
    # WHEN a request is sent THEN the error comes out at once, as an AWS error
    code, _ = _invoke(capsys, tmp_path)
    assert code == AWS_ERROR
    deployment.assert_no_pending_responses()


def test_a_variant_endpoint_is_called_without_a_component(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    # GIVEN an endpoint whose stack outputs no component (instance or serverless variants)
    deployment = _deployment(component=None)
    expected = {"EndpointName": ENDPOINT, "ContentType": "text/csv", "Body": b"1,2,3\n", "Accept": "text/csv"}
    deployment.stubber("sagemaker-runtime").add_response("invoke_endpoint", _answer(), expected)
    use(monkeypatch, deployment)
    # WHEN a request is sent THEN it names no component
    code, answer = _invoke(capsys, tmp_path)
    assert code == OK, answer
    deployment.assert_no_pending_responses()
