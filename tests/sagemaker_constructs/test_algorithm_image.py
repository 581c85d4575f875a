"""AlgorithmImage: the asset image copied into a scanned, immutable, encrypted project repository."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template

from sagemaker_constructs import AlgorithmImage


def _image(stack: cdk.Stack, directory: Path, **kwargs: Any) -> AlgorithmImage:
    kwargs.setdefault("removal_policy", cdk.RemovalPolicy.RETAIN)
    kwargs.setdefault("max_image_count", 10)
    kwargs.setdefault("log_retention_days", 30)
    return AlgorithmImage(stack, "Image", directory=directory, encryption_key=kms.Key(stack, "Key"), **kwargs)


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
    _image(stack, container_directory, max_image_count=7)
    repository = Template.from_stack(stack).find_resources("AWS::ECR::Repository")
    policy = next(iter(repository.values()))["Properties"]["LifecyclePolicy"]["LifecyclePolicyText"]
    assert '"tagStatus":"untagged","countType":"sinceImagePushed","countNumber":1' in policy
    assert '"tagStatus":"any","countType":"imageCountMoreThan","countNumber":7' in policy


def test_the_image_is_copied_to_a_tag_named_after_its_content(stack: cdk.Stack, container_directory: Path) -> None:
    image = _image(stack, container_directory)
    template = Template.from_stack(stack)
    template.resource_count_is("Custom::CDKECRDeployment", 1)
    assert stack.resolve(image.image_tag) == image.image_tag  # a plain string, known at synth time
    assert len(image.image_tag) == 64


def test_the_copy_role_may_only_pull_from_the_asset_repository_and_push_to_ours(
    stack: cdk.Stack, container_directory: Path
) -> None:
    image = _image(stack, container_directory)
    template = Template.from_stack(stack)
    statements = _statements(template, "Pull the algorithm image")
    wildcard = [s for s in statements if s["Resource"] == "*"]
    assert [s["Action"] for s in wildcard] == ["ecr:GetAuthorizationToken"]
    push = next(s for s in statements if s["Sid"] == "PushToProjectRepository")
    repository = image.repository.node.default_child
    assert isinstance(repository, cdk.CfnElement)
    assert push["Resource"] == {"Fn::GetAtt": [stack.get_logical_id(repository), "Arn"]}
    # AND no statement of the library's own (s3:GetObject on '*', ECR actions on '*') made it in
    template.resource_count_is("AWS::IAM::Policy", 0)


def test_the_copy_waits_for_its_permissions(stack: cdk.Stack, container_directory: Path) -> None:
    _image(stack, container_directory)
    template = Template.from_stack(stack)
    copy = next(iter(template.find_resources("Custom::CDKECRDeployment").values()))
    policies = template.find_resources("AWS::IAM::ManagedPolicy")
    assert set(policies) <= set(copy["DependsOn"])


def test_the_copy_functions_log_group_has_retention_and_the_key(stack: cdk.Stack, container_directory: Path) -> None:
    _image(stack, container_directory, log_retention_days=90)
    Template.from_stack(stack).has_resource_properties(
        "AWS::Logs::LogGroup", {"RetentionInDays": 90, "KmsKeyId": {"Fn::GetAtt": [Match.any_value(), "Arn"]}}
    )


def test_destroy_empties_the_repository_on_delete(stack: cdk.Stack, container_directory: Path) -> None:
    _image(stack, container_directory, removal_policy=cdk.RemovalPolicy.DESTROY)
    Template.from_stack(stack).has_resource(
        "AWS::ECR::Repository", {"Properties": Match.object_like({"EmptyOnDelete": True}), "DeletionPolicy": "Delete"}
    )


def test_a_directory_without_a_dockerfile_is_rejected(stack: cdk.Stack, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=f"directory must contain a Dockerfile; none in {tmp_path}"):
        _image(stack, tmp_path)


def test_max_image_count_below_one_is_rejected(stack: cdk.Stack, container_directory: Path) -> None:
    with pytest.raises(ValueError, match="max_image_count must be at least 1, got 0"):
        _image(stack, container_directory, max_image_count=0)
