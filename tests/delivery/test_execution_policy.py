"""The CloudFormation execution policies of delivery/: enough for every resource the app creates, no more.

`cdk bootstrap --cloudformation-execution-policies` attaches them to the role CloudFormation deploys
with (docs/delivery.md), instead of AdministratorAccess.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any

import pytest

from config import EnvironmentName
from tests.conftest import ROOT, Synthesized
from tests.delivery.conftest import all_templates

POLICY_FILES = sorted((ROOT / "delivery").glob("cloudformation-execution-policy-*.json"))
# IAM's limit on a customer managed policy, counted without whitespace.
MAX_MANAGED_POLICY_CHARS = 6144
# A table, its rows alike in shape only (duplicates pairs them): each type's actions spelled out as IAM names them,
# irregular ones (Register/Deregister, Subscribe, ScheduleKeyDeletion) among them, to be found in the policies.
# What CloudFormation calls to create and delete each resource type the stacks use (the handlers'
# first calls, from each type's schema); a new type must be added here and to the policy.
LIFECYCLE_ACTIONS = {
    "AWS::ApplicationAutoScaling::ScalableTarget": (
        "application-autoscaling:RegisterScalableTarget",
        "application-autoscaling:DeregisterScalableTarget",
    ),
    "AWS::ApplicationAutoScaling::ScalingPolicy": (
        "application-autoscaling:PutScalingPolicy",
        "application-autoscaling:DeleteScalingPolicy",
    ),
    "AWS::CloudWatch::Alarm": ("cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"),
    "AWS::CloudWatch::Dashboard": ("cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards"),
    "AWS::ECR::Repository": ("ecr:CreateRepository", "ecr:DeleteRepository"),
    "AWS::Events::Rule": ("events:PutRule", "events:DeleteRule"),
    "AWS::IAM::ManagedPolicy": ("iam:CreatePolicy", "iam:DeletePolicy"),
    "AWS::IAM::OIDCProvider": ("iam:CreateOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider"),
    "AWS::IAM::Role": ("iam:CreateRole", "iam:DeleteRole"),
    "AWS::KMS::Alias": ("kms:CreateAlias", "kms:DeleteAlias"),
    "AWS::KMS::Key": ("kms:CreateKey", "kms:ScheduleKeyDeletion"),
    "AWS::Lambda::Function": ("lambda:CreateFunction", "lambda:DeleteFunction"),
    "AWS::Logs::LogGroup": ("logs:CreateLogGroup", "logs:DeleteLogGroup"),
    "AWS::S3::Bucket": ("s3:CreateBucket", "s3:DeleteBucket"),
    "AWS::S3::BucketPolicy": ("s3:PutBucketPolicy", "s3:DeleteBucketPolicy"),
    "AWS::SNS::Subscription": ("sns:Subscribe", "sns:Unsubscribe"),
    "AWS::Scheduler::Schedule": ("scheduler:CreateSchedule", "scheduler:DeleteSchedule"),
    "AWS::SNS::Topic": ("sns:CreateTopic", "sns:DeleteTopic"),
    "AWS::SNS::TopicPolicy": ("sns:SetTopicAttributes",),
    "AWS::SageMaker::Endpoint": ("sagemaker:CreateEndpoint", "sagemaker:DeleteEndpoint"),
    "AWS::SageMaker::EndpointConfig": ("sagemaker:CreateEndpointConfig", "sagemaker:DeleteEndpointConfig"),
    "AWS::SageMaker::InferenceComponent": (
        "sagemaker:CreateInferenceComponent",
        "sagemaker:DeleteInferenceComponent",
    ),
    "AWS::SageMaker::Model": ("sagemaker:CreateModel", "sagemaker:DeleteModel"),
    "AWS::SageMaker::ModelPackageGroup": ("sagemaker:CreateModelPackageGroup", "sagemaker:DeleteModelPackageGroup"),
    "AWS::SageMaker::NotebookInstance": ("sagemaker:CreateNotebookInstance", "sagemaker:DeleteNotebookInstance"),
    "AWS::SageMaker::NotebookInstanceLifecycleConfig": (
        "sagemaker:CreateNotebookInstanceLifecycleConfig",
        "sagemaker:DeleteNotebookInstanceLifecycleConfig",
    ),
    "AWS::StepFunctions::StateMachine": ("states:CreateStateMachine", "states:DeleteStateMachine"),
    # Custom resources: CloudFormation invokes their provider function.
    "Custom::*": ("lambda:InvokeFunction",),
}


def _statements() -> list[dict[str, Any]]:
    return [statement for path in POLICY_FILES for statement in json.loads(path.read_text())["Statement"]]


def _allowed_actions() -> list[str]:
    actions: list[str] = []
    for statement in _statements():
        if statement["Effect"] != "Allow":
            continue
        action = statement["Action"]
        actions += action if isinstance(action, list) else [action]
    return actions


def _allows(action: str) -> bool:
    return any(fnmatchcase(action, pattern) for pattern in _allowed_actions())


@pytest.fixture(scope="module", params=["shipped", "maximal"])
def templates(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Every template the app synthesizes, shipped and with every optional feature on (tests/delivery/conftest.py):
    each environment's stacks and the access stack."""
    fixture = {"shipped": "synthesized", "maximal": "maximal_synthesized"}[request.param]
    synthesized: Synthesized = request.getfixturevalue(fixture)
    return all_templates(synthesized, tmp_path_factory.mktemp("access"))


def _resource_types(templates: list[dict[str, Any]]) -> set[str]:
    return {
        resource["Type"]
        for template in templates
        for resource in template.get("Resources", {}).values()
        if resource["Type"] != "AWS::CDK::Metadata"
    }


def test_the_policies_are_valid_documents_within_the_managed_policy_limit() -> None:
    assert [path.name for path in POLICY_FILES] == [
        "cloudformation-execution-policy-iam.json",
        "cloudformation-execution-policy-services.json",
    ]
    for path in POLICY_FILES:
        text = path.read_text()
        document = json.loads(text)
        assert document["Version"] == "2012-10-17"
        assert len("".join(text.split())) <= MAX_MANAGED_POLICY_CHARS, f"{path.name}: over IAM's limit"


def test_they_allow_and_never_grant_whole_services_or_everything() -> None:
    # The only denials guard the permissions boundary (tests/delivery/test_permissions_boundary.py).
    denials = [statement["Sid"] for statement in _statements() if statement["Effect"] != "Allow"]
    assert denials == ["NeverChangeTheBoundary", "NeverRemoveARolesBoundary"]
    for statement in _statements():
        assert not {"NotAction", "NotResource", "NotPrincipal"} & set(statement), statement["Sid"]
    for action in _allowed_actions():
        _service, _, name = action.partition(":")
        assert name and name != "*", f"{action}: a whole service"
        assert not name.startswith("*"), f"{action}: too wide a pattern"
    # IAM is where a deployment could give itself more: every IAM action is explicit or conditioned.
    assert not _allows("iam:CreateUser")
    assert not _allows("iam:CreateAccessKey")
    assert not _allows("iam:PutUserPolicy")
    assert not _allows("sts:AssumeRole")


def test_every_resource_type_the_app_creates_can_be_created_and_deleted(templates: list[dict[str, Any]]) -> None:
    # GIVEN every template the app synthesizes: each environment's stacks and the access stack
    types = _resource_types(templates)
    assert "AWS::SageMaker::Endpoint" in types
    assert "AWS::IAM::OIDCProvider" in types
    # THEN each type is known here, and the policies allow CloudFormation's calls for it
    for resource_type in sorted(types):
        key = "Custom::*" if resource_type.startswith("Custom::") else resource_type
        assert key in LIFECYCLE_ACTIONS, (
            f"{resource_type} is new: add its create and delete actions to LIFECYCLE_ACTIONS and to "
            "delivery/cloudformation-execution-policy-*.json"
        )
        for action in LIFECYCLE_ACTIONS[key]:
            assert _allows(action), f"{resource_type} needs {action} in delivery/cloudformation-execution-policy-*.json"


def test_iam_resources_are_limited_to_names_these_stacks_give(synthesized: Synthesized) -> None:
    # CloudFormation names a role or policy it creates `<stack name>-<logical id>-<suffix>`: the
    # policy's name patterns must cover every stack of the app, and nothing more general.
    (iam,) = [s for s in _statements() if s["Sid"] == "RolesAndPoliciesOfTheseStacks"]
    prefixes = {arn.split("/", 1)[1].rstrip("*") for arn in iam["Resource"]}
    assert prefixes == {*(f"{name.stage_id}-" for name in EnvironmentName), "DeploymentAccess"}
    for stage in EnvironmentName:
        manifest = json.loads((synthesized.outdir / f"assembly-{stage.stage_id}" / "manifest.json").read_text())
        for artifact in manifest["artifacts"].values():
            if artifact["type"] == "aws:cloudformation:stack":
                name = artifact["properties"]["stackName"]
                assert any(name.startswith(prefix) for prefix in prefixes), name
    (attach,) = [s for s in _statements() if s["Sid"] == "AttachOnlyTheseStacksPoliciesAndLambdaLogging"]
    aws_managed = [arn for arn in attach["Condition"]["ArnLike"]["iam:PolicyARN"] if ":iam::aws:" in arn]
    assert aws_managed == ["arn:*:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]


def test_the_aws_managed_policies_the_stacks_attach_are_the_ones_allowed(templates: list[dict[str, Any]]) -> None:
    text = json.dumps(templates)
    assert text.count(":iam::aws:policy/") == text.count(":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")


def test_the_documented_bootstrap_uses_both_policies() -> None:
    docs = (ROOT / "docs" / "delivery.md").read_text()
    for path in POLICY_FILES:
        assert f"file://delivery/{path.name}" in docs
    assert "--cloudformation-execution-policies" in docs
    assert "AdministratorAccess" in docs  # said what it replaces


def test_roles_are_passed_to_every_service_that_the_app_lets_assume_them(templates: list[dict[str, Any]]) -> None:
    # GIVEN every service principal an app role trusts (CloudFormation passes the role to that
    # service when it creates the resource using it: a Lambda function, a state machine, a schedule)
    services = {
        service
        for template in templates
        for resource in template.get("Resources", {}).values()
        if resource["Type"] == "AWS::IAM::Role"
        for statement in resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        for service in _as_list(statement.get("Principal", {}).get("Service", []))
    }
    assert "scheduler.amazonaws.com" in services  # the drift stack's schedule
    # THEN the execution policy may pass a role to each of them
    (passing,) = [s for s in _statements() if s["Sid"] == "PassTheseStacksRolesToTheirServices"]
    passed_to = set(passing["Condition"]["StringEquals"]["iam:PassedToService"])
    assert services - passed_to == set(), "add them to iam:PassedToService in cloudformation-execution-policy-iam.json"


def _as_list(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]
