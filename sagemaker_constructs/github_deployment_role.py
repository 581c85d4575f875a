"""A role that one GitHub repository's jobs in one GitHub environment assume, with no long-lived keys."""

from __future__ import annotations

import re
from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import region_info
from constructs import Construct

from sagemaker_constructs.nag import acknowledge
from sagemaker_constructs.validation import raise_if_any

# GitHub's OIDC issuer, and the audience aws-actions/configure-aws-credentials asks tokens for.
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
STS_AUDIENCE = "sts.amazonaws.com"
# The roles `cdk bootstrap` creates (DefaultStackSynthesizer): cdk-<qualifier>-<kind>-<account>-<region>.
BOOTSTRAP_ROLE_KINDS = ("deploy-role", "file-publishing-role", "image-publishing-role", "lookup-role")
# The bootstrap template's own rule for --qualifier.
_QUALIFIER = re.compile(r"[A-Za-z0-9_-]{1,10}")
_REPOSITORY = re.compile(r"(?=[^/]{1,39}/)[A-Za-z0-9](-?[A-Za-z0-9])*/[A-Za-z0-9._-]{1,100}")
# GitHub environment names: letters, digits, '-', '_', '.', at most 255 characters; '*' or ':' in
# one would widen or break the subject condition.
_ENVIRONMENT = re.compile(r"[A-Za-z0-9_.-]{1,255}")
# A deployment of prod with a canary can run past the one hour a session lasts by default.
DEFAULT_MAX_SESSION = cdk.Duration.hours(2)


def github_subject(repository: str, environment: str) -> str:
    """The `sub` claim of a job of `repository` (owner/name) that runs in GitHub environment `environment`."""
    return f"repo:{repository}:environment:{environment}"


def bootstrap_role_name(kind: str, *, qualifier: str, account: str, region: str) -> str:
    return f"cdk-{qualifier}-{kind}-{account}-{region}"


class GitHubDeploymentRole(Construct):
    """An IAM role for the GitHub Actions jobs of one repository in one GitHub environment.

    Creates `role`, trusted through `provider` (GitHub's OIDC provider) only for tokens whose audience
    is `sts.amazonaws.com` and whose subject is `repo:<repository>:environment:<environment>`: a job
    of another repository, branch without that environment, or pull request gets no credentials.
    Its one policy (`policy`) allows `sts:AssumeRole` and `sts:TagSession` on the four CDK bootstrap
    roles of `account` and `region`, so the CDK CLI deploys with the bootstrap roles' permissions and
    nothing else; `allow_smoke_test()` adds the read-only calls of `python -m sagemaker_ops smoke`,
    `allow_pin_check()` those of `check-pin`.

    @default max_session_duration 2 hours (DEFAULT_MAX_SESSION)
    @default qualifier the bootstrap default, `hnb659fds`
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        provider: iam.IOidcProvider,
        repository: str,
        environment: str,
        account: str,
        region: str,
        qualifier: str = cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER,
        max_session_duration: cdk.Duration = DEFAULT_MAX_SESSION,
    ) -> None:
        super().__init__(scope, id_)
        errors = []
        if not _REPOSITORY.fullmatch(repository):
            errors.append(f"repository must be owner/name as on GitHub; got {repository!r}")
        if not _ENVIRONMENT.fullmatch(environment):
            errors.append(f"environment must be 1-255 letters, digits, '-', '_' or '.'; got {environment!r}")
        if not _QUALIFIER.fullmatch(qualifier):
            errors.append(
                f"qualifier must be 1-10 letters, digits, '-' or '_' (cdk bootstrap's rule); got {qualifier!r}"
            )
        raise_if_any(self, errors)
        self.repository = repository
        self.environment = environment
        self.subject = github_subject(repository, environment)
        self._account = account
        self._region = region
        self._key_acknowledged = False
        principal = iam.WebIdentityPrincipal(
            provider.oidc_provider_arn,
            conditions={
                "StringEquals": {f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE, f"{GITHUB_OIDC_HOST}:sub": self.subject}
            },
        ).with_session_tags()  # configure-aws-credentials tags the session with repository, workflow, actor
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=principal,
            description=f"GitHub Actions: {repository}, environment {environment}",
            max_session_duration=max_session_duration,
        )
        stack = cdk.Stack.of(self)
        self.bootstrap_role_arns = [
            stack.format_arn(
                service="iam",
                region="",
                account=account,
                resource="role",
                resource_name=bootstrap_role_name(kind, qualifier=qualifier, account=account, region=region),
            )
            for kind in BOOTSTRAP_ROLE_KINDS
        ]
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description=f"Assume the CDK bootstrap roles of {environment}; read-only checks after a deploy",
            statements=[
                iam.PolicyStatement(
                    sid="AssumeCdkBootstrapRoles",
                    actions=["sts:AssumeRole", "sts:TagSession"],
                    resources=self.bootstrap_role_arns,
                )
            ],
            roles=[self.role],
        )

    def _arn(self, service: str, resource: str, name: str) -> str:
        """An ARN in the deployed environment's account and region (which this role's stack need not be in)."""
        return cdk.Stack.of(self).format_arn(
            service=service, region=self._region, account=self._account, resource=resource, resource_name=name
        )

    def allow_smoke_test(
        self, *, stack_names: Sequence[str], endpoint_name: str, component_name: str | None = None
    ) -> None:
        """Allow what `python -m sagemaker_ops smoke` calls: describe the stacks, describe and invoke the endpoint
        (and `component_name`, the inference component it hosts, if any: a request naming it is authorized on the
        component's ARN too, as on the Service Authorization Reference's inference-component resource type)."""
        self._allow_reading_stacks(
            "ReadStacks", ["cloudformation:DescribeStacks", "cloudformation:ListStackResources"], stack_names
        )
        self.policy.add_statements(
            iam.PolicyStatement(
                sid="SmokeTestEndpoint",
                actions=["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"],
                # SageMaker's ARNs spell endpoint names in lowercase.
                resources=[self._arn("sagemaker", "endpoint", endpoint_name.lower())],
            ),
        )
        if component_name is not None:
            self.policy.add_statements(
                iam.PolicyStatement(
                    sid="SmokeTestInferenceComponent",
                    actions=["sagemaker:InvokeEndpoint"],
                    resources=[self._arn("sagemaker", "inference-component", component_name)],
                )
            )

    def _allow_reading_stacks(self, sid: str, actions: Sequence[str], stack_names: Sequence[str]) -> None:
        """Allow `actions`, which read a stack, on the stacks named `stack_names` (whatever id CloudFormation gave
        them)."""
        self.policy.add_statements(
            iam.PolicyStatement(
                sid=sid,
                actions=list(actions),
                resources=[self._arn("cloudformation", "stack", f"{name}/*") for name in stack_names],
            )
        )
        for name in stack_names:
            acknowledge(
                self.policy,
                f"AwsSolutions-IAM5[Resource::{_nag_arn('cloudformation', self._region, self._account)}"
                f":stack/{name}/*]",
                "A stack's ARN ends in the id CloudFormation gives it at creation; the wildcard stands for that "
                "id only, under one stack name, and the actions allowed on it only read the stack.",
            )

    def allow_pin_check(self, *, group_name: str, key_alias: str) -> None:
        """Allow what `python -m sagemaker_ops check-pin` calls before a deploy: describe a version of the model
        package group `group_name`, whose information its environment's key (alias `key_alias`) encrypts.

        The key's ARN is another stack's (the environment's Platform): the statement names the key by its alias,
        the KMS condition key for that (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html,
        kms:ResourceAliases), not by a key id this stack cannot know.
        """
        versions = self._arn("sagemaker", "model-package", f"{group_name}/*")
        self.policy.add_statements(
            iam.PolicyStatement(
                sid="CheckThePinnedVersion", actions=["sagemaker:DescribeModelPackage"], resources=[versions]
            ),
            self._key_by_alias("DecryptTheVersion", ["kms:Decrypt"], key_alias),
        )
        prefix = _nag_arn("sagemaker", self._region, self._account)
        acknowledge(
            self.policy,
            f"AwsSolutions-IAM5[Resource::{prefix}:model-package/{group_name}/*]",
            "The wildcard stands for the version number of the one model package group the environment serves; "
            "the one action allowed on it reads the version's approval.",
        )
        self._acknowledge_key_by_alias()

    def _key_by_alias(self, sid: str, actions: list[str], key_alias: str) -> iam.PolicyStatement:
        """`actions` on the environment's key, named by its alias `key_alias`: any key of this account and region
        whose aliases include it (kms:ResourceAliases), acknowledged by `_acknowledge_key_by_alias`."""
        return iam.PolicyStatement(
            sid=sid,
            actions=actions,
            resources=[self._arn("kms", "key", "*")],
            conditions={"ForAnyValue:StringEquals": {"kms:ResourceAliases": f"alias/{key_alias}"}},
        )

    def _acknowledge_key_by_alias(self) -> None:
        """Acknowledge the `key/*` of the statements that name the environment's key by its alias, once for all of
        them (the pin check's and an asynchronous smoke test's), with one reason that covers each."""
        if self._key_acknowledged:
            return
        self._key_acknowledged = True
        acknowledge(
            self.policy,
            f"AwsSolutions-IAM5[Resource::{_nag_arn('kms', self._region, self._account)}:key/*]",
            "Limited by kms:ResourceAliases to the one key whose alias is the environment's, whose id another "
            "stack creates: kms:Decrypt to read the pinned version it encrypts and, in an asynchronous "
            "environment, kms:GenerateDataKey and kms:Decrypt for the smoke test's request and answer.",
        )

    def allow_asynchronous_smoke_test(
        self,
        *,
        stack_names: Sequence[str],
        endpoint_name: str,
        key_alias: str,
        input_prefix: str,
        result_prefixes: Sequence[str],
    ) -> None:
        """Allow what `sagemaker_ops smoke` calls on an asynchronous endpoint beyond `allow_smoke_test`: read the
        artifacts bucket's name from `stack_names` (the Platform stack), put the request under `input_prefix`,
        InvokeEndpointAsync, then look for the answer by listing its key under one of `result_prefixes` and get it,
        all encrypted with the environment's key (alias `key_alias`).

        The bucket's name is generated by CloudFormation in another stack: the statements name every bucket of
        the environment's account (aws:ResourceAccount) and the prefixes only, and the key by its alias
        (kms:ResourceAliases), as allow_pin_check does.
        """
        in_account = {"StringEquals": {"aws:ResourceAccount": self._account}}
        objects = cdk.Stack.of(self).format_arn
        self._allow_reading_stacks("ReadTheArtifactsBucketName", ["cloudformation:DescribeStacks"], stack_names)
        self.policy.add_statements(
            iam.PolicyStatement(
                sid="SmokeTestAsynchronously",
                actions=["sagemaker:InvokeEndpointAsync"],
                resources=[self._arn("sagemaker", "endpoint", endpoint_name.lower())],
            ),
            iam.PolicyStatement(
                sid="PutTheAsynchronousRequest",
                actions=["s3:PutObject"],
                resources=[
                    objects(service="s3", region="", account="", resource="*", resource_name=f"{input_prefix}*")
                ],
                conditions=in_account,
            ),
            iam.PolicyStatement(
                sid="ReadTheAsynchronousAnswer",
                actions=["s3:GetObject"],
                resources=[
                    objects(service="s3", region="", account="", resource="*", resource_name=f"{prefix}*")
                    for prefix in result_prefixes
                ],
                conditions=in_account,
            ),
            iam.PolicyStatement(
                sid="SeeWhetherTheAnswerIsThere",
                actions=["s3:ListBucket"],
                resources=[objects(service="s3", region="", account="", resource="*")],
                conditions={**in_account, "StringLike": {"s3:prefix": [f"{prefix}*" for prefix in result_prefixes]}},
            ),
            self._key_by_alias("EncryptTheAsynchronousRequest", ["kms:GenerateDataKey", "kms:Decrypt"], key_alias),
        )
        buckets = f"arn:{_partition(self._region)}:s3:::*"
        reason = (
            "The artifacts bucket's name is generated in the environment's Platform stack, which this stack cannot "
            "read: the wildcard stands for the bucket, limited to this environment's account (aws:ResourceAccount) "
            "and to the asynchronous requests' and answers' prefixes; the key is limited by its alias."
        )
        for resource in [buckets, *(f"{buckets}/{prefix}*" for prefix in (input_prefix, *result_prefixes))]:
            acknowledge(self.policy, f"AwsSolutions-IAM5[Resource::{resource}]", reason)
        self._acknowledge_key_by_alias()


def _nag_arn(service: str, region: str, account: str) -> str:
    """An ARN's prefix as cdk-nag spells it in a finding: the region's partition, the account or `<AWS::AccountId>`."""
    account_text = "<AWS::AccountId>" if cdk.Token.is_unresolved(account) else account
    return f"arn:{_partition(region)}:{service}:{region}:{account_text}"


def _partition(region: str) -> str:
    """The partition of `region` as cdk-nag spells it in a finding (aws where the region is unknown)."""
    return region_info.RegionInfo.get(region).partition or "aws"
