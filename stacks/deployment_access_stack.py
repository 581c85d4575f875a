"""GitHub's way into an AWS account: deployed once per account by an administrator (docs/delivery.md).

`cdk deploy DeploymentAccess` (one stack per account; several are named after their environments,
e.g. `DeploymentAccessDevStaging` and `DeploymentAccessProd`). It sits outside the per-environment
stages, so the deployment workflow, which deploys `Dev/*`, `Staging/*` and `Prod/*`, never changes
its own access.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from config import AppConfig, EnvironmentConfig
from config.contract import ASYNC_INPUT_PREFIX, inference_component_name
from config.sections import DeliverySettings
from delivery.permissions_boundary import apply_permissions_boundary
from sagemaker_constructs.github_deployment_role import GITHUB_OIDC_URL, STS_AUDIENCE, GitHubDeploymentRole
from stacks._common import environment_prefix
from stacks.environment_stage import BOOTSTRAP_QUALIFIER_CONTEXT_KEY

STACK_ID = "DeploymentAccess"
# The context key DefaultStackSynthesizer reads its qualifier from: roles and templates agree.
QUALIFIER_CONTEXT_KEY = BOOTSTRAP_QUALIFIER_CONTEXT_KEY
# What `python -m sagemaker_ops smoke` reads (sagemaker_ops/deployment.py: `<Stage>-<stack id>`).
SMOKE_STACK_IDS = ("Inference",)


class DeploymentAccessStack(cdk.Stack):
    """GitHub's OIDC provider in one account, and one `GitHubDeploymentRole` per environment in it.

    `roles` maps environment name to its construct; each role's ARN is a stack output
    (`DeployRoleArn<Stage>`) to store in the GitHub environment of that name as `AWS_ROLE_ARN`.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        app_name: str,
        delivery: DeliverySettings,
        environments: Sequence[EnvironmentConfig],
        qualifier: str = cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER,
        **kwargs: Any,
    ) -> None:
        accounts = {settings.account for settings in environments}
        if not environments or len(accounts) != 1:
            raise ValueError(f"environments must share one account; got {sorted(map(str, accounts))}")
        first = environments[0]
        super().__init__(scope, id_, env=cdk.Environment(account=first.account, region=first.region), **kwargs)
        cdk.Tags.of(self).add("Project", app_name)
        # Deployed through the same execution policy as the stages: its roles need the boundary too.
        apply_permissions_boundary(self)
        # One provider per account and issuer URL: IAM refuses a second.
        self.provider = iam.OidcProviderNative(
            self, "GitHubOidcProvider", url=GITHUB_OIDC_URL, client_ids=[STS_AUDIENCE]
        )
        self.roles: dict[str, GitHubDeploymentRole] = {}
        for settings in environments:
            stage = settings.name.stage_id
            role = GitHubDeploymentRole(
                self,
                f"{stage}DeployRole",
                provider=self.provider,
                repository=delivery.repository,
                environment=stage,
                account=settings.account or cdk.Aws.ACCOUNT_ID,
                region=settings.region,
                # Its own bootstrap roles where the environment has a qualifier of its own (docs/security.md).
                qualifier=delivery.bootstrap_qualifiers.get(settings.name, qualifier),
            )
            # The endpoint's name, and the model package group's and the key alias's (PlatformStack).
            prefix = environment_prefix(app_name, settings)
            role.allow_smoke_test(
                stack_names=[f"{stage}-{stack_id}" for stack_id in SMOKE_STACK_IDS],
                endpoint_name=prefix,
                component_name=inference_component_name(prefix) if settings.endpoint.inference_component else None,
            )
            role.allow_pin_check(group_name=prefix, key_alias=prefix)
            asynchronous = settings.endpoint.asynchronous
            if asynchronous is not None:
                role.allow_asynchronous_smoke_test(
                    stack_names=[f"{stage}-Platform"],
                    endpoint_name=prefix,
                    key_alias=prefix,
                    input_prefix=ASYNC_INPUT_PREFIX,
                    result_prefixes=(asynchronous.output_prefix, asynchronous.failure_prefix),
                )
            cdk.CfnOutput(
                self,
                f"DeployRoleArn{stage}",
                value=role.role.role_arn,
                description=f"AWS_ROLE_ARN of the GitHub environment {stage}",
            )
            self.roles[settings.name.value] = role


def add_deployment_access(app: cdk.App, config: AppConfig) -> list[DeploymentAccessStack]:
    """One DeploymentAccess stack per account of `config` (none without a [delivery] section).

    Environments that leave `account` out share the account of the credentials in use.
    """
    if config.delivery is None:
        return []
    by_account: dict[str | None, list[EnvironmentConfig]] = {}
    for settings in config.environments.values():
        by_account.setdefault(settings.account, []).append(settings)
    qualifier = app.node.try_get_context(QUALIFIER_CONTEXT_KEY) or cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER
    stacks = []
    for environments in by_account.values():
        suffix = "" if len(by_account) == 1 else "".join(s.name.stage_id for s in environments)
        stacks.append(
            DeploymentAccessStack(
                app,
                f"{STACK_ID}{suffix}",
                app_name=config.app_name,
                delivery=config.delivery,
                environments=environments,
                qualifier=qualifier,
                description=f"{config.app_name}: GitHub OIDC provider and deployment roles of "
                + ", ".join(s.name.value for s in environments),
                termination_protection=True,
            )
        )
    return stacks
