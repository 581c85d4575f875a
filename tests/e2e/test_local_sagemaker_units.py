"""The local SageMaker's small rules, each with its worst input."""

from __future__ import annotations

import base64
import datetime
import json
import random
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from local_sagemaker import container, moto_hooks, processing, stepfunctions, tuning
from local_sagemaker.endpoints import DataCapture
from local_sagemaker.s3 import JobInputError, S3Uri, download_prefix, relative_name
from local_sagemaker.training import RequestError, SpotInterruptions
from local_sagemaker.transform import MB, _batches, _split, _validate
from tests.e2e.pipeline import Environment


def test_multirecord_packs_whole_records_up_to_the_payload_limit_and_singlerecord_sends_one_each() -> None:
    records = [b"1,2\n", b"3,4\n", b"5,6\n"]
    assert _batches(records, "MultiRecord", 8, "k") == [[b"1,2\n", b"3,4\n"], [b"5,6\n"]]
    assert _batches(records, "SingleRecord", MB, "k") == [[r] for r in records]


def test_a_record_over_max_payload_fails_the_job_naming_it() -> None:
    with pytest.raises(JobInputError, match=r"k: record 2 has 9 bytes, over MaxPayloadInMB"):
        _batches([b"1\n", b"123456789"], "MultiRecord", 8, "k")


def test_split_line_keeps_every_non_empty_line_with_its_newline_and_none_keeps_the_object() -> None:
    assert _split(b"a\n\nb\r\nc", "Line") == [b"a\n", b"b\r\n", b"c\n"]
    assert _split(b"a\nb", "None") == [b"a\nb"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"BatchStrategy": "Everything"}, "BatchStrategy must be MultiRecord or SingleRecord"),
        ({"MaxPayloadInMB": 101}, "MaxPayloadInMB must be 0-100"),
        ({"DataProcessing": {"InputFilter": "$[1:]"}}, r"InputFilter '\$\[1:\]' is not emulated"),
        ({"TransformInput": {"SplitType": "RecordIO", "DataSource": {}}}, "SplitType 'RecordIO' is not emulated"),
    ],
)
def test_a_transform_request_the_runner_cannot_honour_is_rejected_naming_the_field(
    change: dict[str, Any], message: str
) -> None:
    request = {"ModelName": "m", "TransformInput": {"DataSource": {}}, "TransformOutput": {}, "TransformResources": {}}
    with pytest.raises(RequestError, match=message):
        _validate({**request, **change})


def test_channel_objects_keep_their_path_below_the_prefix_and_cannot_escape_the_folder(tmp_path: Path) -> None:
    prefix = S3Uri.parse("s3://b/data/train/", "S3Uri")
    assert relative_name(prefix, "data/train/2026/a.csv") == "2026/a.csv"

    class S3:
        def get_paginator(self, _name: str) -> Any:
            class Pages:
                def paginate(self, **_kwargs: Any) -> list[dict[str, Any]]:
                    return [{"Contents": [{"Key": "data/train/../../../escape.csv"}]}]

            return Pages()

    with pytest.raises(JobInputError, match="would land outside its folder"):
        download_prefix(S3(), prefix, tmp_path / "train")
    assert not (tmp_path.parent / "escape.csv").exists()


def test_an_s3_uri_must_be_one() -> None:
    with pytest.raises(JobInputError, match=r"OutputDataConfig.S3OutputPath must be an s3:// URI, got 'bucket/x'"):
        S3Uri.parse("bucket/x", "OutputDataConfig.S3OutputPath")


def test_a_spot_interruption_applies_once_to_the_first_job_with_the_prefix() -> None:
    interruptions = SpotInterruptions()
    interruptions.request("app-dev-")
    assert not interruptions.take("app-prod-1")
    assert interruptions.take("app-dev-1")
    assert not interruptions.take("app-dev-2")


def test_timestamps_reach_step_functions_as_epoch_milliseconds() -> None:
    moment = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    assert stepfunctions._epoch_millis({"a": [moment], "b": "x"}) == {"a": [1767225600000], "b": "x"}


def test_only_transport_conditions_count_as_met() -> None:
    assert moto_hooks._transport_only({"Bool": {"aws:SecureTransport": "false"}})
    assert not moto_hooks._transport_only({"Bool": {"aws:SecureTransport": "false"}, "StringEquals": {"aws:x": "1"}})
    assert not moto_hooks._transport_only(None)


@pytest.mark.parametrize("body", [b"not json", b"{}", b'{"prefix": "x"}'])
def test_the_control_api_rejects_a_request_without_a_job_name_prefix(staging: Environment, body: bytes) -> None:
    request = urllib.request.Request(  # noqa: S310 - the local emulator
        staging.server.url + "/local-sagemaker/spot-interruptions", data=body, method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310
    assert raised.value.code == 400
    assert "job_name_prefix" in json.loads(raised.value.read())["error"]


CAPTURE_CONFIG = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 100,
    "DestinationS3Uri": "s3://bucket/data-capture/",
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]},
}


def test_a_captured_request_is_sagemakers_record_text_for_listed_content_types_base64_otherwise() -> None:
    capture = DataCapture.of(CAPTURE_CONFIG)
    assert capture is not None
    moment = datetime.datetime(2026, 12, 1, 10, 5, 7, 123456, tzinfo=datetime.UTC)
    line = capture.record(b"1,2\n", "text/csv", b"\x93NUMPY", "application/x-npy", moment)
    record = json.loads(line)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert record["captureData"]["endpointInput"] == {
        "observedContentType": "text/csv", "mode": "INPUT", "data": "1,2\n", "encoding": "CSV"}  # fmt: skip
    assert record["captureData"]["endpointOutput"]["encoding"] == "BASE64"
    assert base64.b64decode(record["captureData"]["endpointOutput"]["data"]) == b"\x93NUMPY"
    assert record["eventMetadata"]["inferenceTime"] == "2026-12-01T10:05:07Z" and record["eventVersion"] == "0"
    key = capture.key("ep", "primary", moment)
    assert key.bucket == "bucket" and key.key.startswith("data-capture/ep/primary/2026/12/01/10/05-07-123-")


def test_capture_follows_the_options_and_the_sampling_percentage() -> None:
    # charset parameters do not change the media type; Input only leaves the output out
    inputs_only = DataCapture.of({**CAPTURE_CONFIG, "CaptureOptions": [{"CaptureMode": "Input"}]})
    assert inputs_only is not None
    moment = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    record = json.loads(inputs_only.record(b"{}", "application/json; charset=utf-8", b"x", "text/csv", moment))
    assert list(record["captureData"]) == ["endpointInput"]
    assert record["captureData"]["endpointInput"]["encoding"] == "JSON"
    # the worst percentages: 0 captures nothing, 100 everything; off is no capture at all
    never = DataCapture.of({**CAPTURE_CONFIG, "InitialSamplingPercentage": 0})
    always = DataCapture.of(CAPTURE_CONFIG)
    assert never is not None and always is not None
    assert not any(never.sampled() for _ in range(200)) and all(always.sampled() for _ in range(200))
    assert DataCapture.of({**CAPTURE_CONFIG, "EnableCapture": False}) is None and DataCapture.of(None) is None


PROCESSING_REQUEST: dict[str, Any] = {
    "ProcessingJobName": "p",
    "RoleArn": "arn:aws:iam::123456789012:role/r",
    "AppSpecification": {"ImageUri": "image", "ContainerArguments": ["monitor"]},
    "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}},
    "ProcessingInputs": [{"InputName": "in", "S3Input": {"S3Uri": "s3://b/k", "LocalPath": "/opt/ml/processing/in"}}],
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ProcessingInputs": [{"InputName": "in", "S3Input": {"S3Uri": "s3://b/k", "LocalPath": "/opt/ml/in"}}]},
         r"ProcessingInputs\[0\] \(in\): S3Input.LocalPath must be below /opt/ml/processing/, got '/opt/ml/in'"),
        ({"ProcessingInputs": [{"InputName": "in", "S3Input": {
            "S3Uri": "s3://b/k", "LocalPath": "/opt/ml/processing/../../etc"}}]}, "must not contain '..'"),
        ({"ProcessingInputs": [{"InputName": "in", "S3Input": {
            "S3Uri": "s3://b/k", "LocalPath": "/opt/ml/processing/in", "S3InputMode": "Pipe"}}]},
         "S3Input.S3InputMode 'Pipe' is not emulated; use File"),
        ({"ProcessingResources": {"ClusterConfig": {"InstanceCount": 2}}}, "InstanceCount must be 1 here"),
        ({"AppSpecification": {"ContainerEntrypoint": ["sh"]}}, "ContainerEntrypoint is not emulated"),
        ({"Environment": {"DRIFT_MIN_ROWS": 100}}, r"Environment\['DRIFT_MIN_ROWS'\] must be a string"),
    ],
)  # fmt: skip
def test_a_processing_request_the_runner_cannot_honour_is_rejected_naming_the_field(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(RequestError, match=message):
        processing._validate({**PROCESSING_REQUEST, **change})
    processing._validate(PROCESSING_REQUEST)  # the unchanged request is fine


def test_tuning_samples_stay_within_their_ranges_on_their_scale_even_at_the_tightest_bounds() -> None:
    ranges = {
        "IntegerParameterRanges": [{"Name": "i", "MinValue": "2", "MaxValue": "3", "ScalingType": "Logarithmic"}],
        "ContinuousParameterRanges": [
            {"Name": "c", "MinValue": "0.9", "MaxValue": "0.999", "ScalingType": "ReverseLogarithmic"},
            {"Name": "p", "MinValue": "1", "MaxValue": "1"},
        ],
        "CategoricalParameterRanges": [{"Name": "k", "Values": ["gbdt", "dart"]}],
    }
    rng = random.Random(0)  # noqa: S311 - sampling, not security
    samples = [tuning.sample(ranges, rng) for _ in range(300)]
    assert {s["i"] for s in samples} == {"2", "3"}
    assert all(0.9 <= float(s["c"]) <= 0.999 for s in samples)
    assert {s["p"] for s in samples} == {"1.0"} and {s["k"] for s in samples} == {"gbdt", "dart"}
    # reverse-logarithmic puts most samples near the top of the range
    assert sum(float(s["c"]) > 0.99 for s in samples) > 100


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        ({"IntegerParameterRanges": [{"Name": "i", "MinValue": "5", "MaxValue": "2"}]},
         "MinValue 5 is above MaxValue 2"),
        ({"ContinuousParameterRanges": [{"Name": "c", "MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"}]},
         "Logarithmic scaling needs MinValue above 0"),
        ({"ContinuousParameterRanges": [{"Name": "c", "MinValue": "x", "MaxValue": "1"}]}, "must be numbers"),
        ({"CategoricalParameterRanges": [{"Name": "k", "Values": []}]}, "Values must not be empty"),
    ],
)  # fmt: skip
def test_a_tuning_request_with_a_range_that_cannot_be_sampled_is_rejected_naming_it(
    ranges: dict[str, Any], message: str
) -> None:
    config = {"HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:score"},
              "ResourceLimits": {"MaxNumberOfTrainingJobs": 1}, "ParameterRanges": ranges}  # fmt: skip
    request = {"HyperParameterTuningJobName": "t", "HyperParameterTuningJobConfig": config, "TrainingJobDefinition": {}}
    with pytest.raises(RequestError, match=message):
        tuning._validate(request)


@pytest.mark.parametrize(
    ("shell", "job", "expected"),
    [({}, {}, "PASSIVE"), ({"OMP_WAIT_POLICY": "ACTIVE"}, {}, "ACTIVE"), ({}, {"OMP_WAIT_POLICY": "ACTIVE"}, "ACTIVE")],
)
def test_containers_wait_passively_unless_the_shell_or_the_job_says_otherwise(
    shell: dict[str, str], job: dict[str, str], expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN the hosts of a job share this machine THEN their OpenMP threads wait passively by default, and the
    shell's or the job's Environment may say otherwise."""
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    for name, value in shell.items():
        monkeypatch.setenv(name, value)
    program = tmp_path / "print_environment.py"
    program.write_text("import os, sys; print(os.environ['OMP_WAIT_POLICY'], os.environ['OPT_ML_DIR'], sys.argv[1])")
    monkeypatch.setattr(container, "ENTRYPOINT", program)
    lines: list[str] = []
    process, reader = container.start("train", tmp_path, job, lines.append)
    process.wait(timeout=30)
    reader.join(timeout=30)
    assert lines == [f"{expected} {tmp_path} train"]
