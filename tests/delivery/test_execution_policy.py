"""The CloudFormation execution policies of delivery/: enough for every resource the app creates, no more.

`cdk bootstrap --cloudformation-execution-policies` attaches them to the role CloudFormation deploys
with (docs/delivery.md), instead of AdministratorAccess.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

import pytest

from config import EnvironmentName
from tests.conftest import ROOT, Synthesized
from tests.delivery.conftest import access_stacks
from tests.deploy_readiness import deployment_of
from tests.deploy_readiness.check import needed_handler_permissions
from tests.deploy_readiness.model import Deployment, Stack
from tests.deploy_readiness.requirements import CUSTOM_RESOURCE_ACTION

POLICY_FILES = sorted((ROOT / "delivery").glob("cloudformation-execution-policy-*.json"))
# IAM's limit on a customer managed policy, counted without whitespace.
MAX_MANAGED_POLICY_CHARS = 6144


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


def _allows(action: str, allowed: Sequence[str] | None = None) -> bool:
    # IAM matches action names case-insensitively.
    patterns = _allowed_actions() if allowed is None else allowed
    return any(fnmatchcase(action.lower(), pattern.lower()) for pattern in patterns)


@pytest.fixture(scope="module", params=["shipped", "maximal"])
def deployment(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """Every stack the app synthesizes, shipped and with every optional feature on (tests/delivery/conftest.py):
    each environment's stacks and the access stack, each with its region."""
    fixture = {"shipped": "synthesized", "maximal": "maximal_synthesized"}[request.param]
    synthesized: Synthesized = request.getfixturevalue(fixture)
    access = access_stacks(synthesized.config, tmp_path_factory.mktemp("access"))
    return deployment_of(synthesized.config, synthesized.templates, access)


@pytest.fixture(scope="module")
def templates(deployment: Deployment) -> list[Mapping[str, Any]]:
    return [stack.template for stack in deployment]


def _uncovered(deployment: Deployment, allowed: Sequence[str]) -> list[str]:
    """Each call CloudFormation makes to create, update or delete a resource of `deployment` that no `allowed` action
    pattern matches: what its type's registry schema lists (less what its properties never need: EXCUSED in
    tests/deploy_readiness/requirements.py), or for a custom resource invoking its provider function."""
    problems = []
    for stack, logical_id, resource in deployment.resources():
        kind = resource["Type"]
        where = f"{stack.name}/{logical_id} ({kind})"
        if kind.startswith("Custom::"):
            needed: Iterable[str] = (CUSTOM_RESOURCE_ACTION,)
        else:
            handlers = needed_handler_permissions(kind, resource.get("Properties", {}), stack.region)
            if handlers is None:
                problems.append(f"{where}: no registry schema says what CloudFormation calls for it")
                continue
            needed = handlers
        problems += [f"{where} needs {action}" for action in needed if not _allows(action, allowed)]
    return problems


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


def test_every_resource_the_app_creates_can_be_created_updated_and_deleted(deployment: Deployment) -> None:
    # GIVEN every stack the app synthesizes: each environment's and the access stack
    types = {resource["Type"] for _, _, resource in deployment.resources()}
    assert {"AWS::SageMaker::Endpoint", "AWS::IAM::OIDCProvider"} < types
    # THEN the policies allow every call CloudFormation makes for each resource (its type's schema's handlers),
    # checked by action name here; tests/delivery/test_deploy_readiness.py holds them to resources and conditions too
    problems = _uncovered(deployment, _allowed_actions())
    assert not problems, (
        "add to delivery/cloudformation-execution-policy-*.json, or to EXCUSED in tests/deploy_readiness/"
        "requirements.py what those properties never need:\n" + "\n".join(problems)
    )


def test_a_call_the_policies_miss_or_a_type_without_a_schema_is_named() -> None:
    # GIVEN a stack with an endpoint, a queue (a type the policies do not cover) and a type no schema describes
    stack = Stack(
        "Dev-Platform",
        {
            "Resources": {
                "Endpoint": {"Type": "AWS::SageMaker::Endpoint", "Properties": {}},
                "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
                "Unknown": {"Type": "AWS::Made::Up", "Properties": {}},
                "AutoDelete": {"Type": "Custom::S3AutoDeleteObjects", "Properties": {}},
            }
        },
        "111111111111",
        "us-east-1",
    )
    allowed = [action for action in _allowed_actions() if action != "sagemaker:CreateEndpoint"]
    # WHEN it is held against the policies less sagemaker:CreateEndpoint
    problems = _uncovered(Deployment([stack]), allowed)
    # THEN each is named: the endpoint's missing call, the queue's calls and the unknown type; the custom resource's
    # provider may be invoked
    assert "Dev-Platform/Queue (AWS::SQS::Queue) needs sqs:CreateQueue" in problems
    assert [problem for problem in problems if "(AWS::SQS::Queue)" not in problem] == [
        "Dev-Platform/Endpoint (AWS::SageMaker::Endpoint) needs sagemaker:CreateEndpoint",
        "Dev-Platform/Unknown (AWS::Made::Up): no registry schema says what CloudFormation calls for it",
    ]


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


def test_the_aws_managed_policies_the_stacks_attach_are_the_ones_allowed(templates: list[Mapping[str, Any]]) -> None:
    text = json.dumps(templates)
    assert text.count(":iam::aws:policy/") == text.count(":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")


def test_the_documented_bootstrap_uses_both_policies() -> None:
    docs = (ROOT / "docs" / "delivery.md").read_text()
    for path in POLICY_FILES:
        assert f"file://delivery/{path.name}" in docs
    assert "--cloudformation-execution-policies" in docs
    assert "AdministratorAccess" in docs  # said what it replaces


def test_roles_are_passed_to_every_service_that_the_app_lets_assume_them(templates: list[Mapping[str, Any]]) -> None:
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
