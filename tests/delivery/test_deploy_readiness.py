"""The first real `cdk deploy` works: every requirement AWS documents for what the app deploys, met.

The check (tests/deploy_readiness/) runs on the shipped configuration and on the maximal one (every
optional feature on, VPC placement included), for both documented paths: README's default bootstrap
(CloudFormation with AdministratorAccess) and docs/delivery.md's scoped execution policies. Each
mutation test removes one requirement again, on an in-memory copy, and the check must name it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from delivery.permissions_boundary import PERMISSIONS_BOUNDARY_NAME
from tests.conftest import ROOT, Synthesized
from tests.delivery.conftest import PROD_ACCOUNT, access_stacks
from tests.deploy_readiness import (
    boundary_statements,
    deployment_of,
    execution_policy_statements,
    paths,
)
from tests.deploy_readiness.check import Finding, check
from tests.deploy_readiness.deploy_path import commands, imports_existing, makefile_deploy_imports, problems
from tests.deploy_readiness.model import Deployment, Stack
from tests.helpers import TEST_ACCOUNT

Statements = Sequence[Mapping[str, Any]]


def _findings(
    deployment: Deployment, execution: Statements, boundary: Statements | None = None, *, imports: bool = True
) -> list[Finding]:
    return check(
        deployment,
        execution=execution,
        boundary=boundary_statements() if boundary is None else boundary,
        boundary_name=PERMISSIONS_BOUNDARY_NAME,
        imports_existing=imports,
    )


@pytest.fixture(scope="module")
def shipped(synthesized: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    access = access_stacks(synthesized.config, tmp_path_factory.mktemp("access"))
    return deployment_of(synthesized.config, synthesized.templates, access)


@pytest.fixture(scope="module")
def maximal(maximal_synthesized: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    access = access_stacks(maximal_synthesized.config, tmp_path_factory.mktemp("access-maximal"))
    return deployment_of(maximal_synthesized.config, maximal_synthesized.templates, access)


def _imports(path: str) -> bool:
    """Whether that path's deploy command adopts named resources that already exist."""
    if path == "default bootstrap":
        return imports_existing(_readme_steps())
    return makefile_deploy_imports((ROOT / "Makefile").read_text())


@pytest.mark.parametrize("path", list(paths()))
@pytest.mark.parametrize("configuration", ["shipped", "maximal"])
def test_every_requirement_aws_documents_is_met(request: pytest.FixtureRequest, configuration: str, path: str) -> None:
    # GIVEN the app's stacks, what CloudFormation deploys them with on one documented path, and its deploy command
    deployment: Deployment = request.getfixturevalue(configuration)
    # WHEN every requirement AWS documents is checked THEN none is unmet
    findings = _findings(deployment, paths()[path], imports=_imports(path))
    assert not findings, f"{len(findings)} unmet requirement(s) on the {path} path:\n" + "\n".join(map(str, findings))


def test_the_maximal_configuration_checks_staging_s_registry_shared_with_prod_s_account(maximal: Deployment) -> None:
    # GIVEN the maximal configuration, prod in an account of its own WHEN its staging platform is read
    # THEN the check above ran over the policies that share staging's versions with prod's account: the group's,
    # the artifacts bucket's and the key's
    (platform,) = [stack for stack in maximal if stack.name == "Staging-Platform"]
    policies = [
        json.dumps(resource["Properties"].get(field, {}))
        for resource in platform.template["Resources"].values()
        for kind, field in (
            ("AWS::SageMaker::ModelPackageGroup", "ModelPackageGroupPolicy"),
            ("AWS::S3::BucketPolicy", "PolicyDocument"),
            ("AWS::KMS::Key", "KeyPolicy"),
        )
        if resource["Type"] == kind and PROD_ACCOUNT in json.dumps(resource["Properties"].get(field, {}))
    ]
    assert len(policies) == 3, policies


# -- mutations: each removes one requirement again, on a copy, and the check must say so ------------


def _without_action(statements: Statements, action: str) -> list[dict[str, Any]]:
    mutated = copy.deepcopy([dict(s) for s in statements])
    for statement in mutated:
        actions = statement.get("Action")
        if isinstance(actions, list):
            statement["Action"] = [a for a in actions if a != action]
        elif actions == action:
            statement["Action"] = []
    return mutated


def _named(findings: list[Finding], text: str) -> list[Finding]:
    return [finding for finding in findings if text in finding.what]


def test_dropping_describe_stacks_fails_every_stack_reading_another_stacks_output(maximal: Deployment) -> None:
    findings = _findings(maximal, _without_action(execution_policy_statements(), "cloudformation:DescribeStacks"))
    named = _named(findings, "cloudformation:DescribeStacks")
    assert named and all("getstackoutput" in f.source for f in named)
    assert {"Prod-Training (Fn::GetStackOutput)", "Prod-Inference (Fn::GetStackOutput)"} <= {f.where for f in named}


def test_dropping_the_kms_grant_sagemaker_makes_as_the_caller_fails_the_endpoint(maximal: Deployment) -> None:
    findings = _findings(maximal, _without_action(execution_policy_statements(), "kms:CreateGrant"))
    endpoint = [f for f in _named(findings, "kms:CreateGrant") if "AWS::SageMaker::Endpoint" in f.where]
    assert endpoint and all("api-permissions-reference" in f.source for f in endpoint)


def test_dropping_what_application_auto_scaling_validates_fails_the_scalable_target(maximal: Deployment) -> None:
    action = "sagemaker:UpdateEndpointWeightsAndCapacities"
    findings = _named(_findings(maximal, _without_action(execution_policy_statements(), action)), action)
    assert findings and all("ScalableTarget" in f.where and "application" in f.source for f in findings)


def test_dropping_what_application_auto_scaling_validates_of_a_component_fails_its_scalable_target(
    shipped: Deployment,
) -> None:
    # GIVEN the shipped configuration (the maximal one's dev is asynchronous; the shipped dev hosts an inference
    # component) and the execution policy without DescribeInferenceComponent WHEN dev's copy-count target is checked
    action = "sagemaker:DescribeInferenceComponent"
    findings = _named(_findings(shipped, _without_action(execution_policy_statements(), action)), action)
    # THEN both the component (its handlers) and the scalable target (Application Auto Scaling's check) fail
    assert any("ScalableTarget" in f.where and "application" in f.source for f in findings)
    assert any("AWS::SageMaker::InferenceComponent" in f.where for f in findings)


def test_a_role_bounded_by_another_account_s_boundary_is_named(maximal: Deployment) -> None:
    # GIVEN the maximal configuration (prod in an account of its own) with prod's roles bounded by the boundary of
    # the test account, where dev and staging deploy (each administrator creates the boundary in their own account)
    other = f"arn:aws:iam::{TEST_ACCOUNT}:policy/{PERMISSIONS_BOUNDARY_NAME}"
    stacks = []
    for stack in maximal:
        template = copy.deepcopy(dict(stack.template))
        for resource in template.get("Resources", {}).values():
            if stack.account == PROD_ACCOUNT and "PermissionsBoundary" in resource.get("Properties", {}):
                resource["Properties"]["PermissionsBoundary"] = other
        stacks.append(Stack(stack.name, template, stack.account, stack.region))
    # WHEN checked
    findings = _named(_findings(Deployment(stacks), paths()["default bootstrap"]), f"has the boundary {other}, not ")
    # THEN prod's roles are named, with the boundary of their own account; dev's and staging's are not
    expected = f"not arn:aws:iam::{PROD_ACCOUNT}:policy/{PERMISSIONS_BOUNDARY_NAME}"
    assert findings and all(f.what.endswith(expected) and f.where.startswith("Prod-") for f in findings)


@pytest.mark.parametrize("where", ["role", "boundary"])
def test_dropping_a_vpc_network_interface_permission_fails_the_roles_in_the_vpc(
    maximal: Deployment, where: str
) -> None:
    action = "ec2:CreateNetworkInterface"
    boundary = boundary_statements()
    deployment = maximal
    if where == "boundary":
        boundary = _without_action(boundary, action)
    else:
        deployment = _mutated(maximal, lambda resource: _drop_policy_action(resource, action))
    findings = _named(_findings(deployment, paths()["default bootstrap"], boundary), action)
    assert findings and all("sagemaker-roles" in f.source for f in findings)
    assert any("AWS::SageMaker::Model" in f.where for f in findings)
    assert any("StateMachine" in f.where for f in findings)  # the training jobs' VpcConfig


@pytest.mark.parametrize(
    ("action", "page"),
    [
        ("sagemaker:CreateModelPackage", "supported-services-awssdk"),
        ("kms:GenerateDataKey", "ModelPackageSecurityConfig"),
    ],
)
def test_dropping_what_registering_a_version_needs_fails_the_training_pipeline(
    maximal: Deployment, action: str, page: str
) -> None:
    # GIVEN the pipeline's role without one thing its Register state (an SDK integration) needs
    deployment = _mutated(maximal, lambda resource: _drop_policy_action(resource, action))
    # WHEN the run-time needs are checked THEN every environment's pipeline is named, citing the page saying why
    findings = _named(_findings(deployment, paths()["default bootstrap"]), action)
    named = {f.where.split("/")[0] for f in findings if "Pipeline" in f.where and page in f.source}
    assert named == {"Dev-Training", "Staging-Training", "Prod-Training"}


@pytest.mark.parametrize("action", ["sns:Publish", "s3:PutObject", "s3:GetObject", "kms:GenerateDataKey"])
def test_dropping_what_an_asynchronous_endpoint_needs_fails_its_endpoint_config(
    maximal: Deployment, action: str
) -> None:
    # GIVEN the maximal configuration (dev asynchronous) with the roles lacking one thing serving asynchronously needs
    deployment = _mutated(maximal, lambda resource: _drop_policy_action(resource, action))
    # WHEN the run-time needs are checked
    findings = _named(_findings(deployment, paths()["default bootstrap"]), action)
    # THEN dev's asynchronous endpoint config is named, citing the pages that say why; the real-time ones are not
    named = [f for f in findings if "AWS::SageMaker::EndpointConfig" in f.where]
    assert named and all(f.where.startswith("Dev-Inference") and "async-inference" in f.source for f in named)


def _register_approved_only(resource: dict[str, Any]) -> None:
    if resource["Type"] == "AWS::IAM::ManagedPolicy":
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            status = statement.get("Condition", {}).get("StringEquals", {})
            if "sagemaker:ModelApprovalStatus" in status:
                status["sagemaker:ModelApprovalStatus"] = "Approved"


def test_a_role_allowed_another_approval_status_than_its_register_state_sends_fails_the_pipeline(
    maximal: Deployment,
) -> None:
    # GIVEN the pipelines' roles allowed to register versions Approved only, while staging's and prod's Register
    # states send PendingManualApproval
    deployment = _mutated(maximal, _register_approved_only)
    # WHEN the run-time needs are checked THEN those pipelines are named: the condition is evaluated against the
    # status the state sends
    findings = _named(_findings(deployment, paths()["default bootstrap"]), "sagemaker:CreateModelPackage")
    assert {"Staging-Training", "Prod-Training"} <= {f.where.split("/")[0] for f in findings if "Pipeline" in f.where}


def test_a_bucket_policy_granting_a_bounded_helper_role_what_the_boundary_denies_is_a_dead_grant(
    maximal: Deployment,
) -> None:
    def grant_more(resource: dict[str, Any]) -> None:
        if resource["Type"] == "AWS::S3::BucketPolicy":
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                if statement["Effect"] == "Allow" and "s3:PutBucketPolicy" in statement["Action"]:
                    statement["Action"] = [*statement["Action"], "s3:PutBucketAcl"]

    findings = _named(_findings(_mutated(maximal, grant_more), paths()["default bootstrap"]), "s3:PutBucketAcl")
    assert findings and all("AutoDeleteObjects" in f.what and "boundaries" in f.source for f in findings)


def test_without_importing_existing_resources_the_log_groups_sagemaker_creates_itself_fail(shipped: Deployment) -> None:
    findings = [f for f in _findings(shipped, paths()["default bootstrap"], imports=False) if f.kind == "name"]
    names = {f.what.split()[2] for f in findings if f.what.startswith("SageMaker creates")}
    assert {"/aws/sagemaker/TrainingJobs", "/aws/sagemaker/TransformJobs", "/aws/sagemaker/ProcessingJobs"} <= names
    assert any("/aws/sagemaker/Endpoints/sagemaker-gbdt-prod is retained" in f.what for f in findings)


def test_a_log_group_named_like_one_sagemaker_creates_itself_fails(shipped: Deployment) -> None:
    def rename(resource: dict[str, Any]) -> None:
        if resource["Type"] == "AWS::Logs::LogGroup" and "vendedlogs" in json.dumps(resource):
            resource["Properties"]["LogGroupName"] = "/aws/sagemaker/TrainingJobs"

    findings = _named(_findings(_mutated(shipped, rename), paths()["default bootstrap"]), "/aws/sagemaker/TrainingJobs")
    # THEN dev's (deleted with its stack, so not importable) is a SageMaker-created name, and the retained
    # ones of staging and prod meet prod Platform's log group of the same name
    assert any(f.where.startswith("Dev-Training") and "logging-cloudwatch" in f.source for f in findings)
    assert all("AlreadyExists" in f.what for f in findings)
    assert any(f.where.startswith("Staging-Training") and "too" in f.what for f in findings)


# -- helpers of the mutations ---------------------------------------------------------------------


def _mutated(deployment: Deployment, change: Any) -> Deployment:
    stacks = []
    for stack in deployment:
        template = copy.deepcopy(dict(stack.template))
        for resource in template.get("Resources", {}).values():
            change(resource)
        stacks.append(Stack(stack.name, template, stack.account, stack.region))
    return Deployment(stacks)


def _drop_policy_action(resource: dict[str, Any], action: str) -> None:
    if resource["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            if isinstance(actions, list) and action in actions:
                statement["Action"] = [a for a in actions if a != action]
            elif actions == action:
                statement["Action"] = []


# -- README's deploy path, walked against the synthesized app -------------------------------------


def _readme_steps() -> list[list[str]]:
    return commands((ROOT / "README.md").read_text(), "## Deploying")


def _environments(deployment_config: Synthesized) -> dict[str, str]:
    return {name.value: name.stage_id for name in deployment_config.config.environments}


def test_readmes_deploy_commands_run_in_an_order_aws_accepts(shipped: Deployment, synthesized: Synthesized) -> None:
    # GIVEN README's "Deploying" commands WHEN walked in order against the synthesized app
    steps = _readme_steps()
    # THEN the boundary and the bootstrap come first, every stack named exists, producers go first
    assert problems(steps, shipped, _environments(synthesized)) == []
    assert any(step[:3] == ["npx", "cdk", "deploy"] for step in steps)


def test_removing_the_step_that_creates_the_boundary_fails_the_walk(
    shipped: Deployment, synthesized: Synthesized
) -> None:
    steps = [step for step in _readme_steps() if step[:3] != ["aws", "iam", "create-policy"]]
    found = problems(steps, shipped, _environments(synthesized))
    assert found and all(PERMISSIONS_BOUNDARY_NAME in problem for problem in found)


def test_deploying_a_stack_before_the_one_whose_outputs_it_reads_fails_the_walk(
    shipped: Deployment, synthesized: Synthesized
) -> None:
    steps = [
        [
            "aws",
            "iam",
            "create-policy",
            "--policy-name",
            PERMISSIONS_BOUNDARY_NAME,
            "--policy-document",
            "file://delivery/permissions-boundary.json",
        ],
        ["npx", "cdk", "bootstrap"],
        ["npx", "cdk", "deploy", "Dev/Training"],
    ]
    assert problems(steps, shipped, _environments(synthesized)) == [
        "npx cdk deploy Dev/Training: Dev-Training reads outputs of ['Dev-Platform'], not deployed before or with it"
    ]


def test_a_key_policy_without_the_services_that_use_the_key_fails_their_resources(shipped: Deployment) -> None:
    def only_the_account(resource: dict[str, Any]) -> None:
        if resource["Type"] == "AWS::KMS::Key":
            statements = resource["Properties"]["KeyPolicy"]["Statement"]
            resource["Properties"]["KeyPolicy"]["Statement"] = [
                s for s in statements if "Service" not in s["Principal"]
            ]

    findings = _findings(_mutated(shipped, only_the_account), paths()["default bootstrap"])
    logs = [f for f in findings if "AWS::Logs::LogGroup" in f.where and "encrypt-log-data-kms" in f.source]
    topics = [f for f in findings if "AWS::SNS::Topic" in f.where and "sns-key-management" in f.source]
    assert logs and topics
    assert {f.where.split("/")[0] for f in logs} >= {"Prod-Platform", "Prod-Inference", "Prod-Training"}


def test_a_job_role_that_cannot_write_its_checkpoints_fails_spot_training(
    shipped: Deployment, synthesized: Synthesized
) -> None:
    # GIVEN dev's spot training (CheckpointConfig) WHEN its role loses s3:PutObject THEN the check names it
    if not synthesized.config.environment("dev").training.use_spot:
        pytest.skip("dev does not train on spot in config/environments.toml")
    mutated = _mutated(shipped, lambda resource: _drop_policy_action(resource, "s3:PutObject"))
    findings = _named(_findings(mutated, paths()["default bootstrap"]), "s3:PutObject")
    assert any(f.where.startswith("Dev-Training") and "model-checkpoints" in f.source for f in findings)


def test_deploying_the_endpoint_before_a_model_is_trained_and_pinned_fails_the_walk(
    shipped: Deployment, synthesized: Synthesized
) -> None:
    steps = [step for step in _readme_steps() if step[:3] != ["python", "-m", "sagemaker_ops"]]
    found = problems(steps, shipped, _environments(synthesized))
    assert found and all("Dev-Inference before a model is trained and pinned" in problem for problem in found)
