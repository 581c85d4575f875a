"""The local SageMaker's small rules, each with its worst input."""

from __future__ import annotations

import datetime
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from local_sagemaker import moto_hooks, stepfunctions
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


def test_a_processing_job_sync_task_deploys_and_fails_when_run_saying_it_is_not_emulated(staging: Environment) -> None:
    # GIVEN a definition with the drift monitor's integration, `sagemaker:createProcessingJob.sync`
    sfn = staging.client("stepfunctions")
    task = {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync", "End": True}
    role = "arn:aws:iam::123456789012:role/r"
    task["Parameters"] = {
        "ProcessingJobName": "never-run",
        "RoleArn": role,
        "AppSpecification": {"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/image:tag"},
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30}
        },
    }
    definition = json.dumps({"StartAt": "Monitor", "States": {"Monitor": task}})
    # WHEN it is created (a real Step Functions integration: accepted) and run
    arn = sfn.create_state_machine(name="processing-sync", definition=definition, roleArn=role)["stateMachineArn"]
    execution = staging.wait(sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"])
    # THEN the task fails with States.TaskFailed naming what is not emulated, not with a fake success
    assert execution.status == "FAILED", execution.described
    assert execution.described.get("error") == "States.TaskFailed", execution.described
    assert "createProcessingJob.sync is not emulated" in execution.described.get("cause", ""), execution.described
