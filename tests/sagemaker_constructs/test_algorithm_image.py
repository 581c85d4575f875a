"""AlgorithmImage: the asset image copied into a scanned, immutable, encrypted project repository."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template

from config.contract import MAX_APPROVED_IMAGES, approved_image_tag
from sagemaker_constructs import AlgorithmImage
from tests.helpers import log_settings, logical_id


def _image(stack: cdk.Stack, directory: Path, **kwargs: Any) -> AlgorithmImage:
    key = kms.Key(stack, "Key")
    kwargs.setdefault("removal_policy", cdk.RemovalPolicy.RETAIN)
    kwargs.setdefault("max_image_count", 10)
    kwargs.setdefault("logs", log_settings(key))
    return AlgorithmImage(stack, "Image", directory=directory, encryption_key=key, **kwargs)


def _statements(template: Template, description_start: str) -> list[dict[str, Any]]:
    policies = template.find_resources(
        "AWS::IAM::ManagedPolicy", {"Properties": {"Description": Match.string_like_regexp(f"^{description_start}")}}
    )
    assert len(policies) == 1
    statements: list[dict[str, Any]] = next(iter(policies.values()))["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_the_repository_scans_on_push_has_immutable_tags_and_uses_the_key(
    stack: cdk.Stack, container_directory: Path
) -> None:
    """GIVEN a build directory and a key
    WHEN the image construct is made
    THEN its repository scans on push, has immutable tags and is encrypted with the key."""
    _image(stack, container_directory)
    Template.from_stack(stack).has_resource_properties(
        "AWS::ECR::Repository",
        {
            "ImageScanningConfiguration": {"ScanOnPush": True},
            "ImageTagMutability": "IMMUTABLE",
            "EncryptionConfiguration": {"EncryptionType": "KMS", "KmsKey": Match.any_value()},
        },
    )


def test_the_lifecycle_expires_untagged_images_and_keeps_the_newest(
    stack: cdk.Stack, container_directory: Path
) -> None:
    """GIVEN max_image_count 7
    WHEN the repository is synthesized
    THEN untagged images expire after a day and the newest 7 are kept."""
    _image(stack, container_directory, max_image_count=7)
    repository = Template.from_stack(stack).find_resources("AWS::ECR::Repository")
    policy = next(iter(repository.values()))["Properties"]["LifecyclePolicy"]["LifecyclePolicyText"]
    assert '"tagStatus":"untagged","countType":"sinceImagePushed","countNumber":1' in policy
    assert '"tagStatus":"any","countType":"imageCountMoreThan","countNumber":7' in policy


def test_the_images_of_approved_versions_survive_the_count_of_newest_images(
    stack: cdk.Stack, container_directory: Path
) -> None:
    """GIVEN max_image_count 7
    WHEN the repository is synthesized
    THEN a rule before the count matches the tag approval adds, so the count never expires those images."""
    _image(stack, container_directory, max_image_count=7)
    repository = Template.from_stack(stack).find_resources("AWS::ECR::Repository")
    rules = json.loads(next(iter(repository.values()))["Properties"]["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
    by_priority = {rule["rulePriority"]: rule["selection"] for rule in rules}
    approved = approved_image_tag("app-dev", 3)
    assert by_priority[2]["tagStatus"] == "tagged"
    assert [approved.startswith(prefix) for prefix in by_priority[2]["tagPrefixList"]] == [True]
    assert (by_priority[2]["countType"], by_priority[2]["countNumber"]) == ("imageCountMoreThan", MAX_APPROVED_IMAGES)
    assert (by_priority[3]["tagStatus"], by_priority[3]["countNumber"]) == ("any", 7)


def test_the_image_is_copied_to_a_tag_named_after_its_content(stack: cdk.Stack, container_directory: Path) -> None:
    """GIVEN a build directory
    WHEN the image construct is made
    THEN one copy resource pushes it under its 64-character content hash, known at synth time."""
    image = _image(stack, container_directory)
    template = Template.from_stack(stack)
    template.resource_count_is("Custom::CDKECRDeployment", 1)
    assert stack.resolve(image.image_tag) == image.image_tag  # a plain string, known at synth time
    assert len(image.image_tag) == 64


def test_the_copy_role_may_only_pull_from_the_asset_repository_and_push_to_ours(
    stack: cdk.Stack, container_directory: Path
) -> None:
    """GIVEN the image construct
    WHEN its copy policy is synthesized
    THEN only the login token is granted on '*', pushes go to the project repository only, and none of
    the library's own wide statements made it in."""
    _image(stack, container_directory)
    template = Template.from_stack(stack)
    statements = _statements(template, "Pull the algorithm image")
    wildcard = [s for s in statements if s["Resource"] == "*"]
    assert [s["Action"] for s in wildcard] == ["ecr:GetAuthorizationToken"]
    push = next(s for s in statements if s["Sid"] == "PushToProjectRepository")
    assert push["Resource"] == {"Fn::GetAtt": [logical_id(stack, "Image/Repository"), "Arn"]}
    # no statement of the library's own (s3:GetObject on '*', ECR actions on '*') made it in
    template.resource_count_is("AWS::IAM::Policy", 0)


def test_the_copy_waits_for_its_permissions(stack: cdk.Stack, container_directory: Path) -> None:
    """GIVEN the image construct WHEN it is synthesized THEN the copy depends on every policy it needs."""
    _image(stack, container_directory)
    template = Template.from_stack(stack)
    copy = template.to_json()["Resources"][logical_id(stack, "Image/Copy/CustomResource")]
    assert {logical_id(stack, "Image/CopyPolicy"), logical_id(stack, "Image/CopyLogsPolicy")} <= set(copy["DependsOn"])


def test_the_copy_functions_log_group_has_the_log_settings(stack: cdk.Stack, container_directory: Path) -> None:
    """GIVEN log settings of a 90-day retention under a key of their own
    WHEN the image construct is synthesized
    THEN the copy function's log group keeps 90 days and uses that key, and the repository the image's key."""
    _image(stack, container_directory, logs=log_settings(kms.Key(stack, "LogKey"), retention_days=90))
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Logs::LogGroup", {"RetentionInDays": 90, "KmsKeyId": {"Fn::GetAtt": [logical_id(stack, "LogKey"), "Arn"]}}
    )
    template.has_resource_properties(
        "AWS::ECR::Repository",
        {
            "EncryptionConfiguration": {
                "EncryptionType": "KMS",
                "KmsKey": {"Fn::GetAtt": [logical_id(stack, "Key"), "Arn"]},
            }
        },
    )


def test_destroy_empties_the_repository_on_delete(stack: cdk.Stack, container_directory: Path) -> None:
    """GIVEN the DESTROY policy for the image and log settings that retain
    WHEN the repository is synthesized
    THEN it is emptied and deleted with the stack, and the copy function's log group is kept."""
    _image(stack, container_directory, removal_policy=cdk.RemovalPolicy.DESTROY)
    template = Template.from_stack(stack)
    template.has_resource(
        "AWS::ECR::Repository", {"Properties": Match.object_like({"EmptyOnDelete": True}), "DeletionPolicy": "Delete"}
    )
    template.has_resource("AWS::Logs::LogGroup", {"DeletionPolicy": "Retain"})


def test_a_directory_without_a_dockerfile_is_rejected(stack: cdk.Stack, tmp_path: Path) -> None:
    """GIVEN a directory without a Dockerfile WHEN the image construct is made THEN a ValueError names it."""
    with pytest.raises(ValueError, match=f"directory must contain a Dockerfile; none in {tmp_path}"):
        _image(stack, tmp_path)


def test_both_problems_are_reported_at_once(stack: cdk.Stack, tmp_path: Path) -> None:
    """GIVEN no Dockerfile and max_image_count 0 WHEN the image construct is made THEN one ValueError names both."""
    with pytest.raises(ValueError, match=r"2 problems: directory must contain a Dockerfile.*; max_image_count"):
        _image(stack, tmp_path, max_image_count=0)


def test_max_image_count_below_one_is_rejected(stack: cdk.Stack, container_directory: Path) -> None:
    """GIVEN max_image_count 0 WHEN the image construct is made THEN a ValueError names the field."""
    with pytest.raises(ValueError, match="max_image_count must be at least 1, got 0"):
        _image(stack, container_directory, max_image_count=0)
