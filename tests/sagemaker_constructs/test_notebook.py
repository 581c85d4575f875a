"""ExplorationNotebook: private, encrypted, no root, stopped when idle; cdk-nag's notebook rules pass as is."""

from __future__ import annotations

import base64
import contextlib
import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from sagemaker_constructs import ExplorationNotebook, NotebookRole
from sagemaker_constructs.notebook import on_start_script
from stacks.compliance import add_compliance_checks
from tests.helpers import (
    TEST_ACCOUNT,
    Platform,
    cdk_context,
    logical_id,
    make_platform,
    one_of_type,
    template_of,
    validation_findings,
)

SUBNET = "subnet-0123456789abcdef0"
GROUP = "sg-0123456789abcdef0"


def _notebook(stack: cdk.Stack, platform: Platform, **kwargs: Any) -> ExplorationNotebook:
    arguments: dict[str, Any] = {"subnet_id": SUBNET, "security_group_ids": [GROUP], **kwargs}
    role = NotebookRole(
        stack,
        "NotebookRole",
        name_prefix="app-dev",
        data_bucket=s3.Bucket(stack, "NotebookData"),
        artifacts_bucket=platform.artifacts,
        encryption_key=platform.key,
    )
    return ExplorationNotebook(stack, "Notebook", role=role, encryption_key=platform.key, **arguments)


def test_it_is_private_encrypted_without_root_and_runs_as_its_own_role(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN a notebook in a subnet with a security group
    WHEN it is synthesized
    THEN it has no internet access and no root, IMDSv2 only, an encrypted volume, and a role of its own."""
    notebook = _notebook(stack, platform)
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
            "RoleArn": {"Fn::GetAtt": [logical_id(stack, "NotebookRole/Role"), "Arn"]},
            "NotebookInstanceName": "app-dev-notebook",
        },
    )
    assert notebook.role is not platform.role.role


def test_its_role_reads_data_writes_only_its_prefix_and_starts_nothing(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN a notebook
    WHEN its role's policy is synthesized
    THEN it reads both buckets, writes only notebook/ of the artifacts bucket and its own log streams,
    and may neither pass a role nor create or start anything."""
    _notebook(stack, platform)
    template = template_of(stack)
    statements = {
        s["Sid"]: s
        for s in template["Resources"][logical_id(stack, "NotebookRole/Policy")]["Properties"]["PolicyDocument"][
            "Statement"
        ]
    }
    writes = statements["WriteOwnPrefix"]
    assert writes["Resource"]["Fn::Join"][1][-1] == "/notebook/*"
    assert statements["WriteOwnLogs"]["Resource"]["Fn::Join"][1][-1].endswith(":log-stream:app-dev-notebook/*")
    actions = [a for s in statements.values() for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    assert not [a for a in actions if a.startswith(("iam:", "states:", "sagemaker:"))]


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
    _notebook(stack, make_platform(stack, container_directory))
    add_compliance_checks(app)
    # WHEN it is synthesized (other test resources here have findings; only the notebook's matter)
    with contextlib.suppress(RuntimeError):
        app.synth()
    report = json.loads((outdir / "validation-report.json").read_text())
    # THEN no rule of any pack flags the notebook, its lifecycle configuration or its policy
    flagged = {
        (rule, path)
        for rule, path in validation_findings(outdir)
        if path.startswith(("Test/Notebook/", "Test/NotebookRole/"))
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
