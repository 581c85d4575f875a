"""The permissions boundary of delivery/permissions-boundary.json: every app role within it, every role bound by it.

The CloudFormation execution policy lets a deployment create roles named like the stacks' roles;
the boundary caps what any such role may do at what the app's roles need, so a deployment is not
an administrator in effect (docs/delivery.md, one-time setup).
"""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from typing import Any

import pytest

from delivery.permissions_boundary import PERMISSIONS_BOUNDARY_FILE, PERMISSIONS_BOUNDARY_NAME
from tests.conftest import ROOT, TEST_ACCOUNT, Synthesized
from tests.delivery.conftest import PROD_ACCOUNT, all_templates

EXECUTION_POLICY = ROOT / "delivery" / "cloudformation-execution-policy-iam.json"
# The AWS managed policy the stacks attach (test_execution_policy.py pins that it is the only one):
# its actions, as AWS publishes them.
AWS_MANAGED_ACTIONS = {
    "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": (
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    )
}
POLICY_TYPES = ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy")
# What CloudFormation can only do on a role that carries the boundary.
# IAM's limit on a customer managed policy (the boundary is one), counted without whitespace.
MAX_MANAGED_POLICY_CHARS = 6144
BOUNDED_ROLE_ACTIONS = {"iam:CreateRole", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary", "iam:AttachRolePolicy"}


def _boundary() -> list[dict[str, Any]]:
    document = json.loads(PERMISSIONS_BOUNDARY_FILE.read_text())
    assert document["Version"] == "2012-10-17"
    statements: list[dict[str, Any]] = document["Statement"]
    return statements


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _boundary_allows(action: str) -> bool:
    return any(
        fnmatchcase(action.lower(), pattern.lower())
        for statement in _boundary()
        for pattern in _as_list(statement["Action"])
    )


@pytest.fixture(scope="module")
def shipped(synthesized: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Every template of the shipped configuration: each stage's stacks and the access stack."""
    return all_templates(synthesized, tmp_path_factory.mktemp("access"))


@pytest.fixture(scope="module")
def maximal(maximal_synthesized: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Every template with every optional feature on (tests/delivery/conftest.py): their roles and grants too."""
    return all_templates(maximal_synthesized, tmp_path_factory.mktemp("access-maximal"))


@pytest.fixture(scope="module", params=["shipped", "maximal"])
def templates(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    """Each configuration's templates in turn."""
    chosen: list[dict[str, Any]] = request.getfixturevalue(request.param)
    return chosen


def _resources(templates: list[dict[str, Any]], *types: str) -> list[dict[str, Any]]:
    return [r for t in templates for r in t.get("Resources", {}).values() if r["Type"] in types]


def _granted_actions(templates: list[dict[str, Any]]) -> set[str]:
    documents = [
        policy["PolicyDocument"]
        for role in _resources(templates, "AWS::IAM::Role")
        for policy in role["Properties"].get("Policies", [])
    ]
    documents += [p["Properties"]["PolicyDocument"] for p in _resources(templates, *POLICY_TYPES)]
    actions = {
        action
        for document in documents
        for statement in document["Statement"]
        if statement["Effect"] == "Allow"
        for action in _as_list(statement["Action"])
    }
    for role in _resources(templates, "AWS::IAM::Role"):
        for arn in role["Properties"].get("ManagedPolicyArns", []):
            if isinstance(arn, dict) and ("Ref" in arn or "Fn::GetStackOutput" in arn):
                continue  # one of the app's own managed policies: its document is counted above
            key = arn["Fn::Sub"] if isinstance(arn, dict) and "Fn::Sub" in arn else json.dumps(arn)
            assert key in AWS_MANAGED_ACTIONS, f"{key}: an AWS managed policy whose actions this test does not know"
            actions.update(AWS_MANAGED_ACTIONS[key])
    return actions


def _bucket_policy_grants_to_roles(templates: list[dict[str, Any]]) -> set[str]:
    return {
        action
        for policy in _resources(templates, "AWS::S3::BucketPolicy")
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Allow" and "Fn::GetAtt" in json.dumps(statement.get("Principal", {}))
        for action in _as_list(statement["Action"])
    }


def test_every_action_the_apps_roles_are_granted_is_inside_the_boundary(templates: list[dict[str, Any]]) -> None:
    # GIVEN every action any role of the app is granted: inline, in its managed policies, AWS managed
    actions = _granted_actions(templates)
    assert "sagemaker:CreateTrainingJob" in actions
    assert "sts:AssumeRole" in actions  # the GitHub deployment roles
    # THEN the boundary allows each, or the role would be refused it in AWS
    outside = sorted(action for action in actions if not _boundary_allows(action))
    assert outside == [], f"add to delivery/permissions-boundary.json (and publish a new version): {outside}"


def test_the_boundary_grants_nothing_the_apps_roles_are_not_granted(
    shipped: list[dict[str, Any]], maximal: list[dict[str, Any]]
) -> None:
    # Derived from the templates, not wider: an action no role of either configuration uses is a
    # permission nobody reviewed.
    granted = {action.lower() for action in _granted_actions(shipped) | _granted_actions(maximal)}
    # Bucket policies grant CDK's auto-delete role wildcards (`s3:GetBucket*`): the boundary lets through
    # only the calls its handler makes (tests/deploy_readiness/requirements.py, CUSTOM_RESOURCE_CALLS).
    bucket_grants = {a.lower() for a in _bucket_policy_grants_to_roles(shipped + maximal)}
    boundary = {action.lower() for statement in _boundary() for action in _as_list(statement["Action"])}
    assert {a for a in boundary - granted if not any(fnmatchcase(a, grant) for grant in bucket_grants)} == set()
    for statement in _boundary():
        assert statement["Effect"] == "Allow"
        assert not {"NotAction", "NotResource"} & set(statement), statement["Sid"]
    # Nothing in it lets a role change IAM, other than passing the stacks' roles to their services.
    assert [a for a in boundary if a.startswith("iam:")] == ["iam:passrole"]


def test_the_boundary_fits_a_managed_policy() -> None:
    # IAM counts a customer managed policy's characters without whitespace; create-policy refuses more.
    assert len("".join(PERMISSIONS_BOUNDARY_FILE.read_text().split())) <= MAX_MANAGED_POLICY_CHARS


def test_the_maximal_configuration_turns_every_optional_feature_on(maximal_synthesized: Synthesized) -> None:
    # GIVEN the maximal configuration THEN each feature that brings roles or grants of its own is on
    # somewhere, so that the coverage tests above see them
    environments = maximal_synthesized.config.environments.values()
    assert all(e.tuning is not None and e.transform.schedule is not None for e in environments)
    assert all(e.notebook.enabled and e.training.vpc for e in environments)
    assert any(e.endpoint.vpc for e in environments)
    assert any(e.drift.active(e.endpoint) and e.drift.retrain_on_drift for e in environments)
    actions = _granted_actions([t for by_stack in maximal_synthesized.templates.values() for t in by_stack.values()])
    assert {"sagemaker:CreateHyperParameterTuningJob", "states:StartExecution"} <= actions


def test_passing_and_assuming_roles_is_limited_to_the_stacks_and_the_cdk_bootstrap_roles() -> None:
    (passing,) = [s for s in _boundary() if "iam:PassRole" in _as_list(s["Action"])]
    assert passing["Resource"] == ["arn:*:iam::*:role/Dev-*", "arn:*:iam::*:role/Staging-*", "arn:*:iam::*:role/Prod-*"]
    (assuming,) = [s for s in _boundary() if "sts:AssumeRole" in _as_list(s["Action"])]
    assert assuming["Resource"] == "arn:*:iam::*:role/cdk-*"


def test_every_role_of_every_stack_carries_the_boundary(templates: list[dict[str, Any]]) -> None:
    # GIVEN every role the app creates: each stage's, CDK's custom-resource roles, the access stack's
    roles = _resources(templates, "AWS::IAM::Role")
    assert len(roles) > 5
    # The stack's account: given (the test account, or the maximal configuration's prod account), or the deploying
    # one's (`AWS::AccountId`). That each is its own stack's account, the deploy-readiness check compares per stack.
    own_account = re.compile(
        rf'"arn:aws:iam::({TEST_ACCOUNT}|{PROD_ACCOUNT}):policy/{PERMISSIONS_BOUNDARY_NAME}"'
        rf'|\{{"Fn::Join": \["", \["arn:", \{{"Ref": "AWS::Partition"\}}, ":iam::", \{{"Ref": "AWS::AccountId"\}}, '
        rf'":policy/{PERMISSIONS_BOUNDARY_NAME}"\]\]\}}'
    )
    for role in roles:
        # THEN its PermissionsBoundary is the boundary policy of its own account
        boundary = role["Properties"].get("PermissionsBoundary")
        assert boundary is not None, role
        assert own_account.fullmatch(json.dumps(boundary)), boundary


def test_the_execution_policy_creates_and_changes_roles_only_with_the_boundary() -> None:
    # GIVEN the execution policy's statements on roles
    statements = json.loads(EXECUTION_POLICY.read_text())["Statement"]
    boundary_arn = f"arn:*:iam::${{aws:PrincipalAccount}}:policy/{PERMISSIONS_BOUNDARY_NAME}"
    for statement in statements:
        if statement["Effect"] != "Allow":
            continue
        bounded = BOUNDED_ROLE_ACTIONS & set(_as_list(statement["Action"]))
        # THEN each that allows creating a role or widening its permissions requires the boundary
        if bounded:
            assert statement["Condition"]["StringLike"] == {"iam:PermissionsBoundary": boundary_arn}, statement["Sid"]
    allowed = {a for s in statements if s["Effect"] == "Allow" for a in _as_list(s["Action"])}
    assert allowed >= BOUNDED_ROLE_ACTIONS
    assert "iam:DeleteRolePermissionsBoundary" not in allowed


def test_a_deployment_can_neither_change_the_boundary_policy_nor_remove_a_roles_boundary() -> None:
    statements = {s["Sid"]: s for s in json.loads(EXECUTION_POLICY.read_text())["Statement"]}
    policy = statements["NeverChangeTheBoundary"]
    assert policy["Effect"] == "Deny"
    assert policy["Resource"] == f"arn:*:iam::*:policy/{PERMISSIONS_BOUNDARY_NAME}"
    assert set(policy["Action"]) >= {"iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:SetDefaultPolicyVersion"}
    removal = statements["NeverRemoveARolesBoundary"]
    assert (removal["Effect"], removal["Action"], removal["Resource"]) == (
        "Deny",
        "iam:DeleteRolePermissionsBoundary",
        "*",
    )
    # The boundary's name matches none of the names the deployment may create or change policies under.
    (iam_statement,) = [s for s in statements.values() if s["Sid"] == "RolesAndPoliciesOfTheseStacks"]
    arn = f"arn:aws:iam::123456789012:policy/{PERMISSIONS_BOUNDARY_NAME}"
    assert not any(fnmatchcase(arn, pattern) for pattern in iam_statement["Resource"])


def test_the_documented_setup_creates_the_boundary_policy_under_its_name() -> None:
    docs = (ROOT / "docs" / "delivery.md").read_text()
    assert (
        f"aws iam create-policy --policy-name {PERMISSIONS_BOUNDARY_NAME} \\\n"
        f"    --policy-document file://delivery/{PERMISSIONS_BOUNDARY_FILE.name}"
    ) in docs
