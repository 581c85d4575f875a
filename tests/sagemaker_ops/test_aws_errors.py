"""What AWS, botocore and the credential chain answer becomes the exit-code table's code and one clear line.

AWS's answers are botocore Stubbers (tests/sagemaker_ops/stubbed.py); the credential and connection
cases run the real session, with nothing to find and nothing listening.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from botocore.client import BaseClient
from botocore.stub import ANY

from config.contract import MAX_JOB_NAME_LENGTH
from sagemaker_ops.cli import AWS_ERROR, OK, USAGE
from tests.declared import EXAMPLE
from tests.sagemaker_ops.stubbed import StubbedDeployment, run, run_json, stack, use

ENDPOINT_ARN = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/sagemaker-gbdt-dev"
STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:Pipeline"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:Pipeline:run-1"


@pytest.fixture
def dev() -> Iterator[StubbedDeployment]:
    deployment = StubbedDeployment(
        "dev",
        {
            "Inference": stack("Inference", {"EndpointName": "sagemaker-gbdt-dev"}),
            "Training": stack("Training", {"StateMachineArn": STATE_MACHINE}),
        },
    )
    yield deployment
    deployment.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        ("AccessDeniedException", "the credentials may not do this: check --profile and the role's permissions"),
        ("ExpiredTokenException", "the credentials expired: renew them (aws sso login, or a new session)"),
        ("UnrecognizedClientException", "the credentials are not valid in this partition or account: check --profile"),
        ("ThrottlingException", ""),
    ],
)
def test_an_aws_error_exits_3_with_one_line_and_what_to_do_about_credentials(
    dev: StubbedDeployment,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    code: str,
    hint: str,
) -> None:
    # GIVEN an endpoint that AWS refuses to describe, for a reason spread over two lines
    dev.stubber("sagemaker").add_client_error("describe_endpoint", code, "User: arn:aws:iam::1:user/x\nis refused")
    use(monkeypatch, dev)
    # WHEN its status is asked for
    exit_code, err, out = run(capsys, "status", "--env", "dev")
    # THEN the exit code is AWS_ERROR and one line says what AWS answered, and what to do when it is the credentials
    assert exit_code == AWS_ERROR
    (line,) = err
    assert f"({code}) when calling the DescribeEndpoint operation: User: arn:aws:iam::1:user/x is refused" in line
    assert line.endswith(f" ({hint})" if hint else "is refused")
    assert out == ""


def _no_credentials_anywhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_without_credentials_it_exits_3_saying_how_to_get_them_before_any_call(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN a machine with no AWS credentials anywhere, where any request would fail the test
    _no_credentials_anywhere(monkeypatch, tmp_path)
    monkeypatch.setattr(BaseClient, "_make_api_call", lambda *_args: pytest.fail("an AWS call was made"))
    # WHEN a command runs (also as --json)
    code, err, _ = run(capsys, "status", "--env", "dev")
    json_code, document = run_json(capsys, "status", "--env", "dev")
    # THEN it stops before calling AWS, with one line that says how to get credentials
    assert code == json_code == AWS_ERROR
    assert err == [
        "error: no AWS credentials found: give --profile, set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY), or run `aws configure` / `aws sso login`"
    ]
    assert document["exit_code"] == AWS_ERROR
    assert document["error"].startswith("no AWS credentials found")


def test_an_unknown_profile_is_a_usage_error_listing_the_known_ones(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN an AWS config file with two profiles
    _no_credentials_anywhere(monkeypatch, tmp_path)
    (tmp_path / "config").write_text("[profile ops]\nregion = us-east-1\n[profile ops-prod]\nregion = us-east-1\n")
    # WHEN a command names a third THEN it exits 2 naming --profile and the known ones
    code, err, _ = run(capsys, "status", "--env", "prod", "--profile", "ops-prd")
    assert code == USAGE
    assert err == ["error: argument --profile: no profile 'ops-prd' in the AWS config files (known: ops, ops-prod)"]


def test_an_endpoint_nobody_listens_on_exits_3_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN credentials, and a local port that is bound but refuses connections
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        # WHEN a command sends its calls there
        code, err, _ = run(capsys, "status", "--env", "dev", "--endpoint-url", url)
    # THEN it is an AWS error naming the URL, not a traceback
    assert code == AWS_ERROR
    assert err == [f'error: Could not connect to the endpoint URL: "{url}/"']


def test_train_sends_the_given_hyperparameters_once_they_pass_merged_over_the_configured_ones(
    dev: StubbedDeployment, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN dev's pipeline, whose configuration gives the objective
    given = dict(sorted(EXAMPLE.items())[:2])  # valid values of the algorithm's hyperparameters
    document = {"data_prefix": "training/2026-11", "hyperparameters": given}
    dev.stubber("stepfunctions").add_response(
        "start_execution",
        {"executionArn": EXECUTION, "startDate": datetime(2026, 11, 26, tzinfo=UTC)},
        {"stateMachineArn": STATE_MACHINE, "input": json.dumps(document)},
    )
    use(monkeypatch, dev)
    # WHEN training is started with two -p values and a folder-style prefix
    code, result = run_json(capsys, "train", "--env", "dev", "--data-prefix", "training/2026-11/",
                            *(f"-p{name}={value}" for name, value in given.items()), "--no-wait")  # fmt: skip
    # THEN the execution gets them (the pipeline merges them over the configured ones), and the prefix as the
    # pipeline's CheckInput takes it
    assert code == OK
    assert result["input"] == document


def test_the_default_transform_job_name_fits_sagemakers_limit_for_the_longest_endpoint_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an endpoint of the longest name the configuration allows (a 32-character app, "-staging")
    endpoint = "a" * 32 + "-staging"
    deployment = StubbedDeployment(
        "staging",
        {
            "Inference": stack("Inference", {"EndpointName": endpoint}, {"M": ("AWS::SageMaker::Model", "model-1")}),
            "Platform": stack("Platform", {"DataBucketName": "data", "ArtifactsBucketName": "artifacts"}),
        },
    )
    sagemaker = deployment.stubber("sagemaker")
    names: list[str] = []
    deployment.client("sagemaker").meta.events.register(
        "provide-client-params.sagemaker.CreateTransformJob",
        lambda params, **_kwargs: names.append(params["TransformJobName"]),
    )
    sagemaker.add_response("create_transform_job", {"TransformJobArn": "arn:t"}, {
        "TransformJobName": ANY, "ModelName": "model-1", "TransformInput": ANY, "TransformOutput": ANY,
        "TransformResources": ANY, "MaxPayloadInMB": ANY, "MaxConcurrentTransforms": ANY,
    })  # fmt: skip
    sagemaker.add_response(
        "describe_transform_job",
        {"TransformJobName": "t", "TransformJobArn": "arn:t", "TransformJobStatus": "Completed", "ModelName": "model-1",
         "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://data/x"}}},
         "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
         "CreationTime": datetime(2026, 11, 26, tzinfo=UTC)},
    )  # fmt: skip
    use(monkeypatch, deployment)
    # WHEN a transform runs without --job-name
    code, result = run_json(capsys, "transform", "--env", "staging", "--input", "x/", "--poll-seconds", "0.01")
    # THEN the generated name is one SageMaker accepts: the endpoint's name cut to leave room for the time
    assert code == OK
    (name,) = names
    assert len(name) == MAX_JOB_NAME_LENGTH
    assert re.fullmatch(r"a{32}-stag-transform-[0-9]{8}-[0-9]{6}", name)
    assert result["job"] == name
    deployment.assert_no_pending_responses()


@pytest.mark.parametrize("argv", [["status", "--env", "dev"], ["status", "--env", "dev", "--region", "eu-west-1"]])
def test_an_unknown_aws_profile_variable_is_named_where_it_comes_from(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]
) -> None:
    # GIVEN AWS_PROFILE naming a profile the config file does not have (botocore resolves it even for its own data)
    _no_credentials_anywhere(monkeypatch, tmp_path)
    (tmp_path / "config").write_text("[profile ops]\nregion = us-east-1\n")
    monkeypatch.setenv("AWS_PROFILE", "opps")
    # WHEN a command runs THEN it exits 2 naming the variable, not --profile, and the known profiles
    code, err, _ = run(capsys, *argv)
    assert code == USAGE
    assert err == ["error: environment variable AWS_PROFILE: no profile 'opps' in the AWS config files (known: ops)"]
