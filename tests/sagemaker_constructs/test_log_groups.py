"""EncryptedLogGroups: log groups a service would create unencrypted and forever, made first."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template

from config.contract import SAGEMAKER_JOB_LOG_GROUPS
from sagemaker_constructs import EncryptedLogGroups
from tests.helpers import log_settings


def test_the_job_log_groups_are_the_ones_sagemaker_writes_to() -> None:
    """GIVEN the contract's job log groups WHEN compared with SageMaker's names THEN training, batch transform and
    processing (the drift checks) are all made first, so none is created unencrypted and kept forever."""
    assert SAGEMAKER_JOB_LOG_GROUPS == (
        "/aws/sagemaker/TrainingJobs",
        "/aws/sagemaker/TransformJobs",
        "/aws/sagemaker/ProcessingJobs",
    )


def _job_log_groups(stack: cdk.Stack, names: Sequence[str]) -> EncryptedLogGroups:
    """The log groups `names`, kept 90 days, encrypted and retained."""
    return EncryptedLogGroups(
        stack,
        "Jobs",
        names=names,
        logs=log_settings(kms.Key(stack, "Key"), retention_days=90),
    )


def test_each_log_group_has_retention_the_key_and_the_removal_policy(stack: cdk.Stack) -> None:
    """GIVEN SageMaker's job log group names
    WHEN they are made as encrypted log groups
    THEN each has the retention, the key and the removal policy."""
    _job_log_groups(stack, SAGEMAKER_JOB_LOG_GROUPS)
    log_groups = Template.from_stack(stack).find_resources("AWS::Logs::LogGroup")
    assert sorted(g["Properties"]["LogGroupName"] for g in log_groups.values()) == sorted(SAGEMAKER_JOB_LOG_GROUPS)
    for log_group in log_groups.values():
        assert log_group["Properties"]["RetentionInDays"] == 90
        assert "KmsKeyId" in log_group["Properties"]
        assert log_group["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize(
    ("names", "message"),
    [([], "names must list at least one log group"), (["aws/x"], "log group names here start with '/'")],
)
def test_bad_names_are_rejected(stack: cdk.Stack, names: list[str], message: str) -> None:
    """GIVEN no names or a name without a leading '/'
    WHEN the log groups are made
    THEN a ValueError says what is wrong."""
    with pytest.raises(ValueError, match=message):
        _job_log_groups(stack, names)
