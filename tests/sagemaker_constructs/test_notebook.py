"""ExplorationNotebook: private, encrypted, no root, stopped when idle; cdk-nag's notebook rules pass as is."""

from __future__ import annotations

import base64
import contextlib
import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from sagemaker_constructs import AlgorithmImage, ExplorationNotebook, SageMakerExecutionRole
from sagemaker_constructs.notebook import on_start_script
from stacks.compliance import add_compliance_checks
from tests.helpers import TEST_ACCOUNT, Platform, cdk_context, logical_id, one_of_type, template_of

SUBNET = "subnet-0123456789abcdef0"
GROUP = "sg-0123456789abcdef0"


def _notebook(stack: cdk.Stack, platform: Platform, **kwargs: Any) -> ExplorationNotebook:
    arguments: dict[str, Any] = {"subnet_id": SUBNET, "security_group_ids": [GROUP], **kwargs}
    return ExplorationNotebook(
        stack, "Notebook", execution_role=platform.role, encryption_key=platform.key, **arguments
    )


def test_it_is_private_encrypted_without_root_and_runs_as_the_execution_role(
    stack: cdk.Stack, platform: Platform
) -> None:
    """GIVEN a notebook in a subnet with a security group
    WHEN it is synthesized
    THEN it has no internet access and no root, IMDSv2 only, an encrypted volume, and the execution role."""
    _notebook(stack, platform)
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SageMaker::NotebookInstance",
        {
            "DirectInternetAccess": "Disabled",
            "RootAccess": "Disabled",
            "SubnetId": SUBNET,
            "SecurityGroupIds": [GROUP],
            "KmsKeyId": Match.any_value(),
            "InstanceMetadataServiceConfiguration": {"MinimumInstanceMetadataServiceVersion": "2"},
            "RoleArn": {"Fn::GetAtt": [Match.string_like_regexp("ExecutionRole"), "Arn"]},
        },
    )


def test_the_lifecycle_configuration_stops_it_after_the_idle_time(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN a 45-minute idle limit
    WHEN the notebook is synthesized
    THEN its on-start script installs the idle check for 45 minutes (tests/sagemaker_constructs/
    test_notebook_idle_stop.py runs it), and the notebook may stop itself and only itself."""
    _notebook(stack, platform, idle=cdk.Duration.minutes(45))
    template = template_of(stack)
    config = one_of_type(template, "AWS::SageMaker::NotebookInstanceLifecycleConfig")
    assert base64.b64decode(config["Properties"]["OnStart"][0]["Content"]).decode() == on_start_script(45)
    stop = template["Resources"][logical_id(stack, "Notebook/StopItself")]
    (statement,) = stop["Properties"]["PolicyDocument"]["Statement"]
    assert sorted(statement["Action"]) == ["sagemaker:DescribeNotebookInstance", "sagemaker:StopNotebookInstance"]
    assert statement["Resource"] == {"Ref": logical_id(stack, "Notebook/Notebook")}


def test_cdk_nag_passes_on_the_notebook_without_acknowledgments(
    tmp_path_factory: pytest.TempPathFactory, container_directory: Path
) -> None:
    outdir = tmp_path_factory.mktemp("out")
    # GIVEN a notebook with the platform pieces it needs, in an app checked by the three packs
    app = cdk.App(context=cdk_context(), outdir=str(outdir))
    stack = cdk.Stack(app, "Test", env=cdk.Environment(account=TEST_ACCOUNT, region="us-east-1"))
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    image = AlgorithmImage(
        stack,
        "Image",
        directory=container_directory,
        encryption_key=key,
        removal_policy=cdk.RemovalPolicy.DESTROY,
        max_image_count=1,
        log_retention_days=7,
    )
    buckets = [s3.Bucket(stack, name) for name in ("Data", "Artifacts")]
    role = SageMakerExecutionRole(
        stack, "ExecutionRole", data_bucket=buckets[0], artifacts_bucket=buckets[1], image=image, encryption_key=key
    )
    ExplorationNotebook(
        stack, "Notebook", execution_role=role, encryption_key=key, subnet_id=SUBNET, security_group_ids=[GROUP]
    )
    add_compliance_checks(app)
    # WHEN it is synthesized (other test resources here have findings; only the notebook's matter)
    with contextlib.suppress(RuntimeError):
        app.synth()
    report = json.loads((outdir / "validation-report.json").read_text())
    # THEN no rule of any pack flags the notebook, its lifecycle configuration or its policy
    flagged = {
        (violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
        if construct["constructPath"].startswith("Test/Notebook/")
    }
    assert flagged == set()
    assert report["pluginReports"][0]["pluginName"] == "AwsSolutions"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"idle": cdk.Duration.minutes(4)}, r"idle must be at least 5 minutes"),
        ({"volume_size_gb": 4}, r"volume_size_gb must be 5-16384"),
        ({"instance_type": "t3.medium"}, r"instance_type must be a SageMaker instance type"),
        ({"subnet_id": "vpc-1"}, r"subnet_id must be a subnet id"),
        ({"security_group_ids": []}, r"security_group_ids must list security group ids"),
    ],
)
def test_bad_inputs_are_rejected_naming_the_field(
    stack: cdk.Stack, platform: Platform, kwargs: dict[str, Any], message: str
) -> None:
    """GIVEN one bad argument WHEN the notebook is built THEN a ValueError names the field and what is allowed."""
    with pytest.raises(ValueError, match=message):
        _notebook(stack, platform, **kwargs)


def test_every_problem_is_reported_at_once(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN a bad idle time, subnet and security groups
    WHEN the notebook is built
    THEN one ValueError names all three."""
    with pytest.raises(ValueError, match=r"^ExplorationNotebook Test/Notebook: 3 problems: idle .*subnet_id.*security"):
        _notebook(stack, platform, idle=cdk.Duration.minutes(1), subnet_id="vpc-1", security_group_ids=[])
