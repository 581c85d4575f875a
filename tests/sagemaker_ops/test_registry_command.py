"""`approve`, `reject`, `promote --package` and `status`'s lineage, against recorded SageMaker answers (Stubbers)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.response import StreamingBody

from sagemaker_ops.lineage import lineage
from tests.sagemaker_ops.stubbed import StubbedDeployment, run_json, stack, usage_error, use

GROUP = "sagemaker-gbdt-staging"
ARN = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/3"
WHEN = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
REPOSITORY = "staging-platform-algorithmimagerepository"
IMAGE = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{REPOSITORY}:0123abcd"
MANIFEST = '{"schemaVersion": 2}'
KEPT_AS = f"approved-{GROUP}-3"
DESCRIBED: dict[str, Any] = {
    "ModelPackageName": f"{GROUP}/3",
    "ModelPackageGroupName": GROUP,
    "ModelPackageVersion": 3,
    "ModelPackageArn": ARN,
    "CreationTime": WHEN,
    "ModelPackageStatus": "Completed",
    "ModelPackageStatusDetails": {"ValidationStatuses": []},
    "ModelApprovalStatus": "PendingManualApproval",
    "InferenceSpecification": {
        "Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://artifacts/pipeline/models/job-1/model.tar.gz"}],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    },
    "CustomerMetadataProperties": {
        "width": "200",
        "pipeline/training_job": "sagemaker-gbdt-staging-job-1",
        "pipeline/data": "s3://data/datasets/churn/",
        "pipeline/commit": "0a1b2c3",
        "pipeline/execution": "run-1",
    },
}
# The version's final metrics: a FinalMetricDataList document in S3, the one place lineage reads them from.
METRICS_KEY = "pipeline/models/job-1/output/metrics.json"
WITH_METRICS: dict[str, Any] = {
    "ModelMetrics": {
        "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": f"s3://artifacts/{METRICS_KEY}"}}
    }
}


def _metrics_read(deployment: StubbedDeployment) -> None:
    """The lineage's read of the metrics' document."""
    body = b'[{"MetricName":"validation:score","Value":0.83,"Timestamp":1765015200000}]'
    deployment.stubber("s3").add_response(
        "get_object",
        {"Body": StreamingBody(io.BytesIO(body), len(body))},
        {"Bucket": "artifacts", "Key": METRICS_KEY},
    )


@pytest.fixture
def staging(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubbedDeployment]:
    deployment = StubbedDeployment("staging", {"Platform": stack("Platform", {"ModelPackageGroupName": GROUP})})
    use(monkeypatch, deployment)
    yield deployment
    deployment.assert_no_pending_responses()


def _found(deployment: StubbedDeployment, described: dict[str, Any]) -> None:
    """The version's lookup: listed in the group, then described."""
    summary = {k: described[k] for k in ("ModelPackageGroupName", "ModelPackageVersion", "ModelPackageArn")}
    summary |= {"CreationTime": WHEN, "ModelPackageStatus": "Completed"}
    sagemaker = deployment.stubber("sagemaker")
    sagemaker.add_response(
        "list_model_packages", {"ModelPackageSummaryList": [summary]}, {"ModelPackageGroupName": GROUP}
    )
    sagemaker.add_response("describe_model_package", described, {"ModelPackageName": ARN})


def test_a_pending_version_gets_no_pin(staging: StubbedDeployment, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN version 3 awaiting approval WHEN its pin is asked for THEN exit 1, saying how to approve it
    _found(staging, DESCRIBED)
    code, result = run_json(capsys, "promote", "--env", "staging", "--package", "3")
    assert code == 1
    assert "is PendingManualApproval, not Approved" in result["error"]
    assert "approve --env staging --package sagemaker-gbdt-staging/3" in result["error"]
    assert "pin" not in result


def test_an_approved_version_gets_its_pin_and_lineage(
    staging: StubbedDeployment, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN version 3, approved by a person WHEN its pin is asked for by ARN
    approved = (
        DESCRIBED
        | WITH_METRICS
        | {
            "ModelApprovalStatus": "Approved",
            "ApprovalDescription": "reviewed",
            "LastModifiedTime": WHEN,
            "LastModifiedBy": {"IamIdentity": {"Arn": "arn:aws:sts::123456789012:assumed-role/Reviewer/ana"}},
        }
    )
    _found(staging, approved)
    _metrics_read(staging)
    code, result = run_json(capsys, "promote", "--env", "staging", "--package", ARN)
    # THEN the pin names the version, and the lineage says who approved it when, and what produced it
    assert code == 0, result
    assert result["pin"] == f'[environments.staging.endpoint]\nmodel_package = "{GROUP}/3"'
    assert result["decided_by"] == "arn:aws:sts::123456789012:assumed-role/Reviewer/ana"
    assert result["decided_at"] == WHEN.isoformat()
    assert (result["training_job"], result["data"], result["commit"]) == (
        "sagemaker-gbdt-staging-job-1",
        "s3://data/datasets/churn/",
        "0a1b2c3",
    )
    assert result["metrics"] == {"validation:score": 0.83}
    assert result["hyperparameters"] == {"width": "200"}
    assert "npx cdk deploy 'Staging/*'" in result["next_step"]


@pytest.mark.parametrize(("command", "status"), [("approve", "Approved"), ("reject", "Rejected")])
def test_a_decision_is_recorded_with_its_reason(
    staging: StubbedDeployment, capsys: pytest.CaptureFixture[str], command: str, status: str
) -> None:
    # GIVEN version 3 awaiting approval WHEN a person decides, giving a reason
    _found(staging, DESCRIBED)
    if command == "approve":  # its image is kept: tagged for the repository's lifecycle rule
        _image(staging, found=True, tagged=False)
        where = {"registryId": "123456789012", "repositoryName": REPOSITORY}
        staging.stubber("ecr").add_response("put_image", {}, {**where, "imageManifest": MANIFEST, "imageTag": KEPT_AS})
    sagemaker = staging.stubber("sagemaker")
    sagemaker.add_response(
        "update_model_package",
        {"ModelPackageArn": ARN},
        {"ModelPackageArn": ARN, "ModelApprovalStatus": status, "ApprovalDescription": "AUC too low on segment B"},
    )
    after = DESCRIBED | {"ModelApprovalStatus": status, "ApprovalDescription": "AUC too low on segment B"}
    sagemaker.add_response("describe_model_package", after, {"ModelPackageName": ARN})
    code, result = run_json(
        capsys, command, "--env", "staging", "--package", f"{GROUP}/3", "--reason", "AUC too low on segment B"
    )
    # THEN SageMaker records the status and the reason; approving names the next step
    assert code == 0, result
    assert (result["previous_approval"], result["approval"]) == ("PendingManualApproval", status)
    assert result["approval_description"] == "AUC too low on segment B"
    assert ("next_step" in result) == (command == "approve")
    assert result.get("image_kept_as") == (KEPT_AS if command == "approve" else None)


def _image(deployment: StubbedDeployment, *, found: bool, tagged: bool | None) -> None:
    """BatchGetImage of the version's image by its tag, then (when it is found) by the approved tag."""
    where = {"registryId": "123456789012", "repositoryName": REPOSITORY}
    ecr = deployment.stubber("ecr")
    image = {"imageManifest": MANIFEST, "imageId": {"imageTag": "0123abcd"}}
    ecr.add_response(
        "batch_get_image", {"images": [image] if found else []}, {**where, "imageIds": [{"imageTag": "0123abcd"}]}
    )
    if tagged is not None:
        ecr.add_response(
            "batch_get_image", {"images": [image] if tagged else []}, {**where, "imageIds": [{"imageTag": KEPT_AS}]}
        )


def test_a_version_whose_image_is_gone_is_not_approved(
    staging: StubbedDeployment, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN version 3 whose image the repository no longer holds
    _found(staging, DESCRIBED)
    _image(staging, found=False, tagged=None)
    # WHEN a person approves it THEN exit 1, and nothing is updated: it could not be served
    code, result = run_json(capsys, "approve", "--env", "staging", "--package", "3")
    assert code == 1
    assert "is no longer in its repository" in result["error"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["reject", "--package", "3"], "the following arguments are required: --reason"),
        (["approve", "--package", "latest"], "must be a model package version"),
        (["approve", "--package", "0"], "must be a model package version"),
        (["approve", "--package", "1234567890"], "argument --package: must be a model package version"),
        (["approve", "--package", f"{GROUP}/1234567890"], "n 1 to 9 digits"),
        (["approve", "--package", "3", "--reason", " "], "must be 1-1024 characters, not blank"),
        (["approve", "--package", "3", "--reason", "x" * 1025], "must be 1-1024 characters"),
    ],
    ids=[
        "reject without reason",
        "not a version",
        "version 0",
        "10 digits",
        "10 digits in a group",
        "blank reason",
        "long reason",
    ],
)
def test_a_bad_decision_is_a_usage_error_before_any_call(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert message in usage_error(capsys, *args[:1], "--env", "staging", *args[1:])


def test_another_environments_version_is_refused(
    staging: StubbedDeployment, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN staging WHEN an operator names a version of prod's group THEN usage error, no AWS call
    assert "approves and serves versions of its own group 'sagemaker-gbdt-staging'" in usage_error(
        capsys, "approve", "--env", "staging", "--package", "sagemaker-gbdt-prod/3"
    )


@pytest.mark.parametrize(
    ("arn", "differs"),
    [
        (ARN.replace("us-east-1", "eu-west-1"), "its region eu-west-1 (not us-east-1)"),
        (ARN.replace("arn:aws:", "arn:aws-cn:"), "its partition aws-cn (not aws)"),
    ],
    ids=["another region", "another partition"],
)
def test_an_arn_elsewhere_is_refused_before_any_call(
    staging: StubbedDeployment, capsys: pytest.CaptureFixture[str], arn: str, differs: str
) -> None:
    # GIVEN staging in us-east-1 WHEN an operator approves its group's version 3 by an ARN of another place
    # THEN usage error naming what differs, and no call: never this environment's version 3 in its stead
    assert f"is not a version of the group of environment 'staging': {differs}" in usage_error(
        capsys, "approve", "--env", "staging", "--package", arn
    )


def test_an_arn_of_another_account_is_refused_without_acting_on_this_account_s_version(
    staging: StubbedDeployment, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN staging's group (its account the credentials', not configured), whose version 3 is in 123456789012
    summary = {k: DESCRIBED[k] for k in ("ModelPackageGroupName", "ModelPackageVersion", "ModelPackageArn")}
    summary |= {"CreationTime": WHEN, "ModelPackageStatus": "Completed"}
    staging.stubber("sagemaker").add_response(
        "list_model_packages", {"ModelPackageSummaryList": [summary]}, {"ModelPackageGroupName": GROUP}
    )
    # WHEN an operator approves version 3 by its ARN in another account
    # THEN usage error naming the account; nothing described or updated
    assert "its account 999999999999 (not 123456789012)" in usage_error(
        capsys, "approve", "--env", "staging", "--package", ARN.replace("123456789012", "999999999999")
    )


def test_a_version_the_group_lacks_is_named(staging: StubbedDeployment, capsys: pytest.CaptureFixture[str]) -> None:
    staging.stubber("sagemaker").add_response(
        "list_model_packages", {"ModelPackageSummaryList": []}, {"ModelPackageGroupName": GROUP}
    )
    assert "group 'sagemaker-gbdt-staging' has no version 9" in usage_error(
        capsys, "approve", "--env", "staging", "--package", "9"
    )


def test_the_longest_version_create_model_takes_is_looked_up(
    staging: StubbedDeployment, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a 9-digit version (CreateModel's VersionedArnOrName takes 1-9) WHEN approved THEN it is looked up
    staging.stubber("sagemaker").add_response(
        "list_model_packages", {"ModelPackageSummaryList": []}, {"ModelPackageGroupName": GROUP}
    )
    assert "group 'sagemaker-gbdt-staging' has no version 123456789" in usage_error(
        capsys, "approve", "--env", "staging", "--package", f"{GROUP}/123456789"
    )


def test_a_version_registered_approved_was_decided_by_its_creator_when_created() -> None:
    """GIVEN a version dev's pipeline registered Approved (auto_approve) WHEN its lineage is read
    THEN its decision is its creation: by whoever created it, at its creation time."""
    created = DESCRIBED | {"ModelApprovalStatus": "Approved", "CreatedBy": {"UserProfileName": "pipeline"}}
    read = lineage(created, s3=None)  # a version without metrics: nothing to read
    assert (read["approval"], read["decided_by"], read["decided_at"]) == ("Approved", "pipeline", WHEN.isoformat())


def test_a_pending_version_was_decided_by_nobody() -> None:
    read = lineage(DESCRIBED | {"CreatedBy": {"UserProfileName": "pipeline"}}, s3=None)
    assert (read["decided_by"], read["decided_at"]) == (None, None)


PROD_GROUP = "sagemaker-gbdt-prod"
PROD_REPOSITORY = "prod-platform-algorithmimagerepository"
PROD_PLATFORM = {
    "ModelPackageGroupName": PROD_GROUP,
    "ImageUri": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{PROD_REPOSITORY}:ffff0000",
    "ArtifactsBucketName": "prod-artifacts",
    "EncryptionKeyArn": "arn:aws:kms:us-east-1:123456789012:key/prod",
}


@pytest.fixture
def prod(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubbedDeployment]:
    deployment = StubbedDeployment("prod", {"Platform": stack("Platform", PROD_PLATFORM)})
    use(monkeypatch, deployment)
    yield deployment
    deployment.assert_no_pending_responses()


def _caller(deployment: StubbedDeployment) -> None:
    """The credentials' account: staging's, which the shipped configuration leaves out (one account for all)."""
    identity = {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/ops", "UserId": "AIDAEXAMPLE"}
    deployment.stubber("sts").add_response("get_caller_identity", identity, {})


@pytest.mark.parametrize(
    ("arn", "differs"),
    [
        (ARN.replace("123456789012", "999999999999"), "its account 999999999999 (not 123456789012)"),
        (ARN.replace("us-east-1", "eu-west-1"), "its region eu-west-1 (not us-east-1)"),
        (ARN.replace("arn:aws:", "arn:aws-us-gov:"), "its partition aws-us-gov (not aws)"),
    ],
    ids=["another account", "another region", "another partition"],
)
def test_a_staging_arn_elsewhere_than_staging_is_not_registered_in_prod(
    prod: StubbedDeployment, capsys: pytest.CaptureFixture[str], arn: str, differs: str
) -> None:
    # GIVEN prod, staging configured in us-east-1 in the credentials' account
    _caller(prod)
    # WHEN an operator promotes a version of a group named like staging's, elsewhere
    # THEN usage error naming what differs; nothing read from it or registered
    assert f"is not a version of staging's group as configured: {differs}" in usage_error(
        capsys, "promote", "--env", "prod", "--package", arn
    )


def test_staging_s_approved_version_is_registered_in_prod_s_group_awaiting_prod_s_approval(
    prod: StubbedDeployment, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN staging's approved version 3, its image (by the same tag) in prod's repository
    approved = (
        DESCRIBED | WITH_METRICS | {"ModelApprovalStatus": "Approved", "MetadataProperties": {"CommitId": "0a1b2c3"}}
    )
    _caller(prod)
    sagemaker, ecr, s3 = prod.stubber("sagemaker"), prod.stubber("ecr"), prod.stubber("s3")
    sagemaker.add_response("describe_model_package", approved, {"ModelPackageName": ARN})
    _metrics_read(prod)
    where = {"registryId": "123456789012", "repositoryName": PROD_REPOSITORY}
    image = {"imageManifest": MANIFEST, "imageId": {"imageTag": "0123abcd"}}
    ecr.add_response("batch_get_image", {"images": [image]}, {**where, "imageIds": [{"imageTag": "0123abcd"}]})
    key = f"promoted/{GROUP}/3/model.tar.gz"
    # The artifact and the metrics' document are copied into prod's bucket (prod's roles read only that).
    for source, copy in (
        ("pipeline/models/job-1/model.tar.gz", key),
        (METRICS_KEY, f"promoted/{GROUP}/3/metrics.json"),
    ):
        s3.add_response("head_object", {"ContentLength": 1024}, {"Bucket": "artifacts", "Key": source})
        s3.add_response(
            "copy_object",
            {},
            {"Bucket": "prod-artifacts", "Key": copy, "CopySource": {"Bucket": "artifacts", "Key": source}},
        )
    prod_arn = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{PROD_GROUP}/5"
    sagemaker.add_response(
        "create_model_package",
        {"ModelPackageArn": prod_arn},
        {
            "ModelPackageGroupName": PROD_GROUP,
            "ModelPackageDescription": f"; promoted from {GROUP}/3",
            "InferenceSpecification": {
                **DESCRIBED["InferenceSpecification"],
                "Containers": [
                    {
                        "Image": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{PROD_REPOSITORY}:0123abcd",
                        "ModelDataUrl": f"s3://prod-artifacts/{key}",
                    }
                ],
            },
            "ModelApprovalStatus": "PendingManualApproval",
            "CustomerMetadataProperties": {**DESCRIBED["CustomerMetadataProperties"], "promotion/from": ARN},
            "MetadataProperties": {"CommitId": "0a1b2c3"},
            "ModelMetrics": {
                "ModelQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": f"s3://prod-artifacts/promoted/{GROUP}/3/metrics.json",
                    }
                }
            },
            "SecurityConfig": {"KmsKeyId": PROD_PLATFORM["EncryptionKeyArn"]},
        },
    )
    # WHEN prod's operator promotes it by ARN
    code, result = run_json(capsys, "promote", "--env", "prod", "--package", ARN)
    # THEN it is registered in prod's group, its artifact copied into prod's bucket, and prod's approver is next
    assert code == 0, result
    assert result["registered"] == prod_arn
    assert result["metrics"] == {"validation:score": 0.83}
    assert "approve --env prod --package 5" in result["next_step"]
    assert "pin" not in result


def test_staging_s_unapproved_version_is_not_registered_in_prod(
    prod: StubbedDeployment, capsys: pytest.CaptureFixture[str]
) -> None:
    _caller(prod)
    prod.stubber("sagemaker").add_response("describe_model_package", DESCRIBED, {"ModelPackageName": ARN})
    code, result = run_json(capsys, "promote", "--env", "prod", "--package", ARN)
    assert code == 1
    assert "is not Approved: prod takes approved ones" in result["error"]
