"""The DeploymentAccess stack: GitHub's OIDC provider and one deployment role per environment.

Who can get credentials (the trust policy) and what they allow (the one managed policy per role)
are pinned exactly: a statement that grants more than listed here fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from config import AppConfig, ConfigError, EnvironmentName, parse_config
from config.sections import DeliverySettings
from config.settings import DEFAULT_CONFIG_FILE
from sagemaker_constructs.github_deployment_role import GitHubDeploymentRole
from stacks import build_app
from stacks.compliance import add_compliance_checks
from stacks.deployment_access_stack import (
    QUALIFIER_CONTEXT_KEY,
    DeploymentAccessStack,
    add_deployment_access,
)
from tests.helpers import TEST_ACCOUNT, Synthesized, cdk_context, grants, new_app, of_type

REPOSITORY = "example-org/sagemaker-gbdt"  # config/environments.toml [delivery]
OIDC = "token.actions.githubusercontent.com"
PROVIDER_REF = {"Ref": "GitHubOidcProvider7EBF861F"}


@dataclass(frozen=True)
class AccessApp:
    stacks: list[DeploymentAccessStack]
    outdir: Path

    def template(self, index: int = 0) -> dict[str, Any]:
        path = self.outdir / f"{self.stacks[index].artifact_id}.template.json"
        template: dict[str, Any] = json.loads(path.read_text())
        return template


def _synthesize(config: AppConfig, outdir: Path, context: dict[str, Any] | None = None) -> AccessApp:
    """The DeploymentAccess stacks of `config` in an app with the project's flags and cdk-nag packs."""
    app = cdk.App(context=cdk_context() | (context or {}), outdir=str(outdir))
    stacks = add_deployment_access(app, config)
    add_compliance_checks(app)
    app.synth()
    return AccessApp(stacks, outdir)


@pytest.fixture(scope="module")
def access(app_config: AppConfig, tmp_path_factory: pytest.TempPathFactory) -> AccessApp:
    return _synthesize(app_config, tmp_path_factory.mktemp("access"))


def _raw_config() -> dict[str, Any]:
    raw: dict[str, Any] = tomllib.loads(DEFAULT_CONFIG_FILE.read_text())
    return raw


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _expected_grants(stage: str, environment: str, account: str = TEST_ACCOUNT) -> set[tuple[str, str]]:
    """Everything one environment's role may do: the bootstrap roles, and what `smoke` reads and calls."""
    bootstrap = [
        f"arn:aws:iam::{account}:role/cdk-hnb659fds-{kind}-{account}-us-east-1"
        for kind in ("deploy-role", "file-publishing-role", "image-publishing-role", "lookup-role")
    ]
    stack = f"arn:aws:cloudformation:us-east-1:{account}:stack/{stage}-Inference/*"
    endpoint = f"arn:aws:sagemaker:us-east-1:{account}:endpoint/sagemaker-gbdt-{environment}"
    versions = f"arn:aws:sagemaker:us-east-1:{account}:model-package/sagemaker-gbdt-{environment}/*"
    # Dev hosts its model as an inference component: a request naming it is authorized on its ARN too.
    component = f"arn:aws:sagemaker:us-east-1:{account}:inference-component/sagemaker-gbdt-{environment}-model"
    return (
        {(action, role) for action in ("sts:AssumeRole", "sts:TagSession") for role in bootstrap}
        | {(action, stack) for action in ("cloudformation:DescribeStacks", "cloudformation:ListStackResources")}
        | {(action, endpoint) for action in ("sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint")}
        # check-pin: the pinned version of the environment's group, and its key (by alias, see the test below)
        | {("sagemaker:DescribeModelPackage", versions), ("kms:Decrypt", f"arn:aws:kms:us-east-1:{account}:key/*")}
        | ({("sagemaker:InvokeEndpoint", component)} if environment == "dev" else set())
    )


def test_one_stack_holds_the_provider_and_a_role_and_policy_per_environment(access: AccessApp) -> None:
    # GIVEN the shipped configuration: three environments in one account
    # WHEN the DeploymentAccess stacks are built THEN there is one, with GitHub's provider for STS
    assert [stack.stack_name for stack in access.stacks] == ["DeploymentAccess"]
    template = Template.from_json(access.template())
    template.resource_count_is("AWS::IAM::OIDCProvider", 1)
    template.has_resource_properties(
        "AWS::IAM::OIDCProvider", {"Url": f"https://{OIDC}", "ClientIdList": ["sts.amazonaws.com"]}
    )
    template.resource_count_is("AWS::IAM::Role", 3)
    template.resource_count_is("AWS::IAM::ManagedPolicy", 3)
    assert set(_resources(access.template(), "AWS::IAM::Policy")) == set()  # no inline policy to overlook
    outputs = access.template()["Outputs"]
    assert {key for key in outputs if key.startswith("DeployRoleArn")} == {
        "DeployRoleArnDev",
        "DeployRoleArnStaging",
        "DeployRoleArnProd",
    }


@pytest.mark.parametrize("environment", list(EnvironmentName))
def test_the_trust_policy_admits_only_the_repository_in_that_github_environment(
    access: AccessApp, environment: EnvironmentName
) -> None:
    # GIVEN the role of one environment
    # WHEN its trust policy is resolved
    role = access.stacks[0].roles[environment.value]
    trust = access.stacks[0].resolve(role.role.assume_role_policy.to_json()) if role.role.assume_role_policy else {}
    # THEN exactly one statement: GitHub's web identity, with an exact audience and subject; no wildcard
    # (StringLike), no other principal, no other action than the assume and its session tags
    assert trust["Statement"] == [
        {
            "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"],
            "Condition": {
                "StringEquals": {
                    f"{OIDC}:aud": "sts.amazonaws.com",
                    f"{OIDC}:sub": f"repo:{REPOSITORY}:environment:{environment.stage_id}",
                }
            },
            "Effect": "Allow",
            "Principal": {"Federated": PROVIDER_REF},
        }
    ]


@pytest.mark.parametrize("environment", list(EnvironmentName))
def _granted(access: AccessApp, environment: EnvironmentName) -> tuple[list[dict[str, Any]], set[tuple[str, str]]]:
    """The statements of the one managed policy of `environment`'s role, and the pairs they grant."""
    stack = access.stacks[0]
    role = stack.roles[environment.value].role.node.default_child
    assert isinstance(role, cdk.CfnElement)
    policies = [
        policy
        for policy in _resources(access.template(), "AWS::IAM::ManagedPolicy").values()
        if policy["Properties"]["Roles"] == [{"Ref": stack.get_logical_id(role)}]
    ]
    assert len(policies) == 1
    statements: list[dict[str, Any]] = policies[0]["Properties"]["PolicyDocument"]["Statement"]
    return statements, set().union(*(grants(statement) for statement in statements))


@pytest.mark.parametrize("environment", list(EnvironmentName))
def test_no_statement_grants_more_than_the_bootstrap_roles_the_smoke_test_and_the_pin_check(
    access: AccessApp, environment: EnvironmentName
) -> None:
    # GIVEN each role's only policy
    # WHEN its statements are read
    statements, granted = _granted(access, environment)
    # THEN every statement allows (no Deny to reason about, no NotAction/NotResource); the one condition limits
    # Decrypt to the key whose alias is the environment's
    alias = {"ForAnyValue:StringEquals": {"kms:ResourceAliases": f"alias/sagemaker-gbdt-{environment.value}"}}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert set(statement) - {"Condition"} == {"Sid", "Effect", "Action", "Resource"}, statement
        assert statement.get("Condition") == (alias if statement["Action"] == "kms:Decrypt" else None)
    # AND together they grant exactly the listed pairs of action and resource
    assert granted == _expected_grants(environment.stage_id, environment.value)


def test_no_other_role_or_policy_references_the_roles(access: AccessApp) -> None:
    """GIVEN the stack's template WHEN its roles are read THEN none has managed policy ARNs or inline policies of its
    own, and sessions last two hours."""
    # Nothing else in the stack can widen a role: every managed policy belongs to one role, and
    # roles have no managed policy ARNs of their own (AWS-managed or other).
    template = access.template()
    for role in _resources(template, "AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]
        assert "Policies" not in role["Properties"]
        assert role["Properties"]["MaxSessionDuration"] == 7200


def test_the_smoke_grants_name_the_stack_and_endpoint_the_app_deploys(
    access: AccessApp, synthesized: Synthesized
) -> None:
    # GIVEN the whole app as synthesized: each environment's Inference stack and its endpoint
    for environment in EnvironmentName:
        stage = environment.stage_id
        manifest = json.loads((synthesized.outdir / f"assembly-{stage}" / "manifest.json").read_text())
        (stack_name,) = [
            artifact["properties"]["stackName"]
            for artifact in manifest["artifacts"].values()
            if artifact["type"] == "aws:cloudformation:stack" and artifact["displayName"] == f"{stage}/Inference"
        ]
        (endpoint_name,) = [
            resource["Properties"]["EndpointName"]
            for resource in synthesized.template(environment.value, "Inference")["Resources"].values()
            if resource["Type"] == "AWS::SageMaker::Endpoint"
        ]
        # WHEN that environment's role's grants are read
        # THEN the role may read exactly that stack and describe and invoke exactly that endpoint
        _, granted = _granted(access, environment)
        stack_arn = f"arn:aws:cloudformation:us-east-1:{TEST_ACCOUNT}:stack/{stack_name}/*"
        endpoint_arn = f"arn:aws:sagemaker:us-east-1:{TEST_ACCOUNT}:endpoint/{endpoint_name.lower()}"
        assert ("cloudformation:DescribeStacks", stack_arn) in granted
        assert ("cloudformation:ListStackResources", stack_arn) in granted
        assert ("sagemaker:DescribeEndpoint", endpoint_arn) in granted
        assert ("sagemaker:InvokeEndpoint", endpoint_arn) in granted
        # AND exactly the inference component the stack hosts the model as, where it does
        components = of_type(synthesized.template(environment.value, "Inference"), "AWS::SageMaker::InferenceComponent")
        named = {c["Properties"]["InferenceComponentName"] for c in components.values()}
        invoked = {r.split("/", 1)[1] for a, r in granted if a == "sagemaker:InvokeEndpoint" and "inference-comp" in r}
        assert invoked == named


def test_cdk_nag_finds_nothing_unacknowledged(access: AccessApp) -> None:
    # GIVEN the stack checked by the project's three packs (the fixture synthesized it: it passed)
    # WHEN the validation report is read
    report = json.loads((access.outdir / "validation-report.json").read_text())
    # THEN every pack succeeded with no violation
    for plugin in report["pluginReports"]:
        assert plugin["conclusion"] == "success", plugin["pluginName"]
        assert plugin["violations"] == []


def test_cfn_lint_finds_nothing_in_the_template(access: AccessApp) -> None:
    """GIVEN the synthesized template WHEN cfn-lint checks it THEN it reports nothing."""
    template = access.outdir / f"{access.stacks[0].artifact_id}.template.json"
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(cfn_lint), "--format", "parseable", "--", str(template)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_template_matches_the_reviewed_snapshot(access: AccessApp, snapshot: SnapshotAssertion) -> None:
    """GIVEN the template with the account masked WHEN compared THEN it equals the reviewed snapshot."""
    masked = json.loads(json.dumps(access.template(), sort_keys=True).replace(TEST_ACCOUNT, "<account>"))
    assert masked == snapshot.use_extension(JSONSnapshotExtension)(name="DeploymentAccess")


def test_environments_in_other_accounts_get_a_stack_in_their_account(tmp_path: Path) -> None:
    # GIVEN prod in an account of its own
    raw = _raw_config()
    raw["environments"]["prod"]["account"] = "210987654321"
    config = parse_config(raw, default_account=TEST_ACCOUNT)
    # WHEN the stacks are built (cdk-nag included)
    access = _synthesize(config, tmp_path)
    # THEN one stack per account, named after its environments, each role in its own account
    assert [stack.stack_name for stack in access.stacks] == ["DeploymentAccessDevStaging", "DeploymentAccessProd"]
    assert [stack.account for stack in access.stacks] == [TEST_ACCOUNT, "210987654321"]
    assert set(access.stacks[0].roles) == {"dev", "staging"}
    prod = access.template(1)
    (policy,) = _resources(prod, "AWS::IAM::ManagedPolicy").values()
    granted = set().union(*(grants(s) for s in policy["Properties"]["PolicyDocument"]["Statement"]))
    assert granted == _expected_grants("Prod", "prod", account="210987654321")


def test_an_environment_in_another_region_gets_that_regions_bootstrap_roles(tmp_path: Path) -> None:
    # GIVEN staging in another region of the same account
    raw = _raw_config()
    raw["environments"]["staging"]["region"] = "eu-west-1"
    config = parse_config(raw, default_account=TEST_ACCOUNT)
    # WHEN the stack is built (cdk-nag included)
    access = _synthesize(config, tmp_path)
    # THEN still one stack (IAM is global), and staging's role names the bootstrap roles, stack and
    # endpoint of eu-west-1
    assert [stack.stack_name for stack in access.stacks] == ["DeploymentAccess"]
    _, granted = _granted(access, EnvironmentName.STAGING)
    expected = {
        (action, resource.replace("us-east-1", "eu-west-1"))
        for action, resource in _expected_grants("Staging", "staging")
    }
    assert granted == expected


def test_accounts_left_out_resolve_to_the_deploying_account(tmp_path: Path) -> None:
    # GIVEN the shipped configuration synthesized without a default account (as in CI's synth job)
    config = parse_config(_raw_config())
    # WHEN the stack is built (cdk-nag included)
    access = _synthesize(config, tmp_path)
    # THEN one environment-agnostic-account stack whose ARNs use AWS::AccountId (cdk-nag still passes)
    assert len(access.stacks) == 1
    assert cdk.Token.is_unresolved(access.stacks[0].account)
    text = json.dumps(access.template())
    assert '"Ref": "AWS::AccountId"' in text
    assert TEST_ACCOUNT not in text


def test_the_bootstrap_qualifier_is_the_one_the_synthesizer_uses(tmp_path: Path, app_config: AppConfig) -> None:
    # GIVEN a custom qualifier in the context the DefaultStackSynthesizer reads
    # WHEN the stack is built
    access = _synthesize(app_config, tmp_path, context={QUALIFIER_CONTEXT_KEY: "delivery1"})
    # THEN the roles may assume that qualifier's bootstrap roles, and only those
    text = json.dumps(access.template())
    assert "cdk-delivery1-deploy-role-" in text
    assert "hnb659fds" not in text


def test_with_a_qualifier_per_environment_devs_role_cannot_assume_prods_bootstrap_roles(tmp_path: Path) -> None:
    # GIVEN one shared account, each environment bootstrapped with a qualifier of its own
    raw = _raw_config()
    raw["delivery"]["bootstrap_qualifiers"] = {"dev": "gbdt-dev", "staging": "gbdt-stg", "prod": "gbdt-prod"}
    config = parse_config(raw, default_account=TEST_ACCOUNT)
    # WHEN the access stack and the stages are synthesized (cdk-nag included)
    access = _synthesize(config, tmp_path / "access")
    app, stages = build_app(config, context=cdk_context(), outdir=str(tmp_path / "app"))
    app.synth()
    # THEN each role may assume its own environment's four bootstrap roles and no other's
    qualifiers = raw["delivery"]["bootstrap_qualifiers"]
    for name, qualifier in qualifiers.items():
        _, granted = _granted(access, EnvironmentName(name))
        resources = {resource for _, resource in granted}
        bootstrap = [r for r in resources if ":role/cdk-" in r]
        assert len(bootstrap) == 4, bootstrap
        assert all(f":role/cdk-{qualifier}-" in r for r in bootstrap), bootstrap
        others = [q for q in qualifiers.values() if q != qualifier]
        assert not any(f"cdk-{other}-" in r for r in resources for other in others)
    # AND each stage's stacks deploy through, and publish to, that stage's bootstrap roles only
    for name, stage in stages.items():
        manifest = json.loads((Path(stage.outdir) / "manifest.json").read_text())
        stacks = [a for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"]
        assert stacks
        for artifact in stacks:
            assert f"cdk-{qualifiers[name]}-deploy-role-" in artifact["properties"]["assumeRoleArn"]
        text = json.dumps(manifest)
        assert not any(f"cdk-{q}-" in text for q in qualifiers.values() if q != qualifiers[name]), name
        assert "hnb659fds" not in text


@pytest.mark.parametrize(
    ("qualifiers", "message"),
    [
        ({"dev": "same", "prod": "same"}, "bootstrap_qualifiers must differ per environment"),
        ({"prod": "Prod"}, "a cdk bootstrap qualifier"),  # S3 refuses uppercase in the staging bucket's name
        ({"prod": "toolongqualifier"}, "a cdk bootstrap qualifier"),
        ({"prod": ""}, "a cdk bootstrap qualifier"),
        ({"prod": "a*"}, "a cdk bootstrap qualifier"),
        ({"qa": "gbdt-qa"}, "bootstrap_qualifiers"),
    ],
)
def test_a_bad_or_shared_bootstrap_qualifier_is_refused(qualifiers: dict[str, str], message: str) -> None:
    # GIVEN [delivery] bootstrap_qualifiers with a bad value, an unknown environment, or one shared
    raw = _raw_config()
    raw["delivery"]["bootstrap_qualifiers"] = qualifiers
    # WHEN it is loaded THEN the error names the section and what is wrong
    with pytest.raises(ConfigError, match=r"\[delivery\]") as error:
        parse_config(raw)
    assert message in str(error.value)


def test_no_delivery_section_no_stack() -> None:
    """GIVEN a configuration without [delivery] WHEN deployment access is added THEN no stack."""
    raw = _raw_config()
    del raw["delivery"]
    config = parse_config(raw, default_account=TEST_ACCOUNT)
    assert config.delivery is None
    assert add_deployment_access(new_app(), config) == []


# Each field: what it must be, and values that would widen or break the trust policy's subject ('*', ':', '/').
BAD_GITHUB_NAMES = {
    "github_owner": ("a GitHub user or organization", ["-org", "my--org", "o" * 40, "a-" * 20 + "a", "org/other", "*"]),
    "github_repository": ("a GitHub repository name", ["..", "repo:environment:Prod", "repo/other", "*", ""]),
}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [(field, value, message) for field, (message, values) in BAD_GITHUB_NAMES.items() for value in values],
)
def test_a_bad_owner_or_repository_is_refused_naming_the_section_and_field(
    field: str, value: str, message: str
) -> None:
    # GIVEN a value that would widen or break the trust policy's subject ('*', ':', '/')
    raw = _raw_config()
    raw["delivery"][field] = value
    # WHEN the configuration is parsed
    # THEN the configuration does not load, and the error says where and what is allowed
    with pytest.raises(ConfigError, match=rf"\[delivery\]: {field}: must be {message}"):
        parse_config(raw)


def test_an_unknown_or_missing_delivery_field_is_refused() -> None:
    """GIVEN [delivery] with an unknown field, or without github_repository WHEN parsed THEN ConfigError names the
    section and the field."""
    raw = _raw_config()
    raw["delivery"]["github_org"] = "x"
    with pytest.raises(ConfigError, match=r"\[delivery\]: github_org: unknown field"):
        parse_config(raw)
    raw = _raw_config()
    del raw["delivery"]["github_repository"]
    with pytest.raises(ConfigError, match=r"\[delivery\]: github_repository: required field is missing"):
        parse_config(raw)


def test_the_longest_valid_names_are_accepted() -> None:
    """GIVEN the longest valid owner and repository names WHEN the settings are built THEN they are accepted."""
    delivery = DeliverySettings(github_owner="a-" * 19 + "b", github_repository="r" * 100)
    assert delivery.repository == f"{'a-' * 19}b/{'r' * 100}"


@pytest.mark.parametrize(
    ("argument", "value", "message"),
    [
        ("repository", "owner", "repository must be owner/name"),
        ("repository", "owner/*", "repository must be owner/name"),
        ("repository", "a-" * 20 + "a/repo", "repository must be owner/name"),
        ("environment", "*", "environment must be 1-255 letters"),
        ("environment", "Prod:ref:refs/heads/main", "environment must be 1-255 letters"),
        ("environment", "", "environment must be 1-255 letters"),
        ("qualifier", "toolongqualifier", "qualifier must be 1-10 letters"),
    ],
)
def test_the_role_refuses_a_subject_or_qualifier_that_could_widen_it(
    stack: cdk.Stack, argument: str, value: str, message: str
) -> None:
    # GIVEN a provider WHEN a role is asked for with a wildcard or malformed part THEN ValueError names it
    provider = cdk.aws_iam.OidcProviderNative(stack, "Provider", url="https://token.actions.githubusercontent.com")
    arguments: dict[str, Any] = {"repository": REPOSITORY, "environment": "Prod", "qualifier": "hnb659fds"}
    arguments[argument] = value
    with pytest.raises(ValueError, match=message):
        GitHubDeploymentRole(stack, "Role", provider=provider, account=TEST_ACCOUNT, region="us-east-1", **arguments)


def test_environments_of_several_accounts_cannot_share_one_stack(app_config: AppConfig) -> None:
    """GIVEN dev and prod in different accounts WHEN one DeploymentAccess stack is built for both THEN ValueError."""
    assert app_config.delivery is not None
    dev, prod = (
        app_config.environment("dev"),
        app_config.environment("prod").model_copy(update={"account": "210987654321"}),
    )
    with pytest.raises(ValueError, match="environments must share one account"):
        DeploymentAccessStack(
            new_app(), "DeploymentAccess", app_name="x", delivery=app_config.delivery, environments=[dev, prod]
        )


@pytest.mark.parametrize("pin_check", [False, True], ids=["async-smoke-only", "async-smoke-and-pin-check"])
def test_the_key_by_alias_is_acknowledged_once_for_each_grant_that_uses_it(tmp_path: Path, pin_check: bool) -> None:
    """GIVEN a deployment role granted the asynchronous smoke test, with or without the pin check
    WHEN synthesized with the project's cdk-nag packs
    THEN nothing is left unacknowledged, and the key's one acknowledgment names every use of it (GenerateDataKey
    and Decrypt), whichever grant came first."""
    app = cdk.App(context=cdk_context(), outdir=str(tmp_path))
    stack = cdk.Stack(app, "Access", env=cdk.Environment(account=TEST_ACCOUNT, region="us-east-1"))
    provider = cdk.aws_iam.OidcProviderNative(stack, "Provider", url=f"https://{OIDC}")
    role = GitHubDeploymentRole(
        stack, "Role", provider=provider, repository=REPOSITORY, environment="Dev", account=TEST_ACCOUNT,
        region="us-east-1",
    )  # fmt: skip
    role.allow_asynchronous_smoke_test(
        stack_names=["app-dev-Platform"], endpoint_name="app-dev", key_alias="app-dev",
        input_prefix="in/", result_prefixes=["out/", "failed/"],
    )  # fmt: skip
    if pin_check:
        role.allow_pin_check(group_name="app-dev", key_alias="app-dev")
    add_compliance_checks(app)
    app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert all(plugin["violations"] == [] for plugin in report["pluginReports"])
    reasons = [
        reason
        for entry in role.policy.node.metadata
        if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
        for rule, reason in entry.data.items()
        if rule.endswith(":key/*]")
    ]
    assert len(reasons) == 1 and all(action in reasons[0] for action in ("kms:GenerateDataKey", "kms:Decrypt"))
