"""ApprovedImageKeeper: the image of a version approved anywhere (console, SDK, auto_approve) is tagged and kept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template

from sagemaker_constructs import ModelRegistry
from sagemaker_constructs.approved_images import ApprovedImageKeeper
from tests.helpers import log_settings
from tests.sagemaker_constructs.state_machine import Execution, ServiceAnswers, TaskFailedError, definition_of, run

VERSION = "arn:aws:sagemaker:us-east-1:123456789012:model-package/app-dev/7"
MANIFEST = '{"schemaVersion": 2}'


def _keeper(stack: cdk.Stack) -> dict[str, Any]:
    """The construct in `stack`, synthesized: its template."""
    key = kms.Key(stack, "Key")
    ApprovedImageKeeper(
        stack,
        "ApprovedImages",
        name_prefix="app-dev",
        registry=ModelRegistry(stack, "Registry", group_name="app-dev", description="dev"),
        repository=ecr.Repository(stack, "Repository"),
        encryption_key=key,
        logs=log_settings(key, removal_policy=cdk.RemovalPolicy.DESTROY),
    )
    return dict(Template.from_stack(stack).to_json())


@dataclass
class Registry(ServiceAnswers):
    """SageMaker's description of version 7 and ECR's answers about its image (requests checked against botocore)."""

    approval: str = "Approved"
    image: str = ""
    tagged_already: bool = False

    def describeModelPackage(self, _parameters: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - the API's name
        return {
            "ModelPackageGroupName": "app-dev",
            "ModelPackageVersion": 7,
            "ModelApprovalStatus": self.approval,
            "InferenceSpecification": {"Containers": [{"Image": self.image}]},
        }

    def batchGetImage(self, _parameters: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - the API's name
        return {"Images": [{"ImageManifest": MANIFEST}]}

    def putImage(self, _parameters: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - the API's name
        if self.tagged_already:
            raise TaskFailedError("Ecr.ImageAlreadyExistsException", "tag approved-app-dev-7 exists")
        return {"Image": {}}


def _run(stack: cdk.Stack, services: Registry, *, ours: bool = True) -> Execution:
    definition = definition_of(_keeper(stack))
    # The repository's URI as the definition spells it (the Choice compares the image's with it).
    (rule,) = definition["States"]["ApprovedWithOurImage"]["Choices"]
    repository = rule["And"][1]["StringEquals"]
    services.image = f"{repository if ours else '999999999999.dkr.ecr.us-east-1.amazonaws.com/other'}:0123abcd"
    event = {"detail-type": "SageMaker Model Package State Change", "detail": {"ModelPackageArn": VERSION}}
    return run(definition, event, execution_name="e-1", task=services)


def test_an_approved_version_s_image_is_tagged_for_the_lifecycle_to_keep(stack: cdk.Stack) -> None:
    # GIVEN version 7, approved (in the console, say), its image in the environment's repository
    services = Registry()
    # WHEN SageMaker's state change starts the state machine
    execution = _run(stack, services)
    # THEN the image is read by its tag and put again as approved-<group>-<version>
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert services.requests["describeModelPackage"] == [{"ModelPackageName": VERSION}]
    ((read,), (put,)) = services.requests["batchGetImage"], services.requests["putImage"]
    assert read["ImageIds"] == [{"ImageTag": "0123abcd"}]
    assert (put["ImageTag"], put["ImageManifest"]) == ("approved-app-dev-7", MANIFEST)


@pytest.mark.parametrize(
    ("services", "ours"),
    [(Registry(approval="Rejected"), True), (Registry(), False)],
    ids=["rejected since the event", "another repository's image"],
)
def test_nothing_is_tagged_unless_the_version_is_approved_and_its_image_ours(
    stack: cdk.Stack, services: Registry, ours: bool
) -> None:
    # GIVEN a version rejected again since, or naming an image elsewhere WHEN the state machine runs
    execution = _run(stack, services, ours=ours)
    # THEN it ends without touching any image
    assert (execution.status, execution.states[-1]) == ("SUCCEEDED", "NothingToKeep")
    assert "putImage" not in services.requests


def test_an_image_tagged_already_is_kept_already(stack: cdk.Stack) -> None:
    # GIVEN a version sagemaker_ops approve tagged first WHEN the event's run tags it THEN that is success
    execution = _run(stack, Registry(tagged_already=True))
    assert (execution.status, execution.states[-1]) == ("SUCCEEDED", "KeptAlready")


def test_the_rule_starts_it_on_this_group_s_approved_versions_only(stack: cdk.Stack) -> None:
    # GIVEN the construct WHEN its rule is read THEN it matches SageMaker's state changes of this group, Approved
    template = _keeper(stack)
    (rule,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Events::Rule"]
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {"ModelPackageGroupName": ["app-dev"], "ModelApprovalStatus": ["Approved"]},
    }
