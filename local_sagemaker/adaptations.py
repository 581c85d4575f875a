"""Every way the emulated deployment differs from `cdk deploy` into AWS, and why: ONE table.

The synthesized templates never change for tests. `adapt()` makes the test's copy of a template
that moto can deploy; `ADAPTATIONS` says what it removes, rewrites or leaves to boto3, and is what
the README's "Proving it locally" table and the test output are checked against and printed from.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

REFERENCES_DIGEST = "emulator:references-digest"
REMOVED = "removed from the copy"
REWRITTEN = "rewritten in the copy"
BOTO3 = "skipped by moto; created through boto3 after the stack"
HELPER = "done by the deploy helper"
GAP = "not checked (gap)"


# The deploy-readiness checks (tests/delivery/test_deploy_readiness.py) that hold the templates against
# what AWS requires where the emulated deploy cannot: a row hiding a requirement names them.
READINESS = "tests/delivery/test_deploy_readiness.py::"
EVERY_REQUIREMENT = f"{READINESS}test_every_requirement_aws_documents_is_met"


@dataclass(frozen=True)
class Adaptation:
    """One difference: what it concerns, what the test does instead, and why (what moto needs).

    `hides` is the requirement AWS would check that the emulated deploy therefore does not, and
    `covered_by` the deploy-readiness tests that check it instead (tests/emulator/test_adaptations.py
    fails on a row hiding a requirement that no existing test covers).
    """

    subject: str
    handling: str
    why: str
    hides: str = ""
    covered_by: tuple[str, ...] = ()


# Resource types moto's CloudFormation has no model for: it skips them silently (a warning in its
# log). The deploy helper creates them with the template's properties through the service APIs.
SKIPPED_BY_MOTO = (
    "AWS::CloudWatch::Alarm",
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
    "AWS::S3::BucketPolicy",
    "AWS::SNS::TopicPolicy",
    "AWS::SNS::Subscription",
    "AWS::Scheduler::Schedule",
    "AWS::SageMaker::ModelPackageGroup",
    "AWS::SageMaker::InferenceComponent",
)

ADAPTATIONS: tuple[Adaptation, ...] = (
    Adaptation(
        "`Custom::CDKECRDeployment` (image copy), `Custom::S3AutoDeleteObjects` (dev buckets)",
        REMOVED,
        "Lambda-backed custom resources: moto does not run their Lambda functions (the functions, "
        "roles and code assets are still deployed). Image assets are out of scope: no Docker here.",
        hides="CloudFormation's lambda:InvokeFunction and each handler's calls under its role and the boundary",
        covered_by=(
            EVERY_REQUIREMENT,
            f"{READINESS}test_a_bucket_policy_granting_a_bounded_helper_role_what_the_boundary_denies_is_a_dead_grant",
        ),
    ),
    Adaptation(
        "`Tags` of `AWS::KMS::Key`",
        REMOVED,
        "moto 5.2.5 crashes on them (`KeyError: 'TagKey'`: its KMS tagging expects TagKey/TagValue).",
        hides="kms:TagResource of the key's create handler",
        covered_by=(EVERY_REQUIREMENT,),
    ),
    Adaptation(
        "`KeyPolicy` of `AWS::KMS::Key`",
        REWRITTEN,
        "moto stores the policy object as it is and then fails (HTTP 500) on every KMS call that "
        "checks it (`json.loads` of a dict); the copy has the same policy as a JSON string.",
    ),
    Adaptation(
        "`AWS::ECR::Repository` without `RepositoryName`",
        REWRITTEN,
        "moto generates a mixed-case name, which its own ECR validation then rejects; the copy sets "
        "the lowercase `<stack>-<logical id>` CloudFormation would generate.",
    ),
    Adaptation(
        "`Fn::GetStackOutput` (cross-stack references, `defaultCrossStackReferences: weak`)",
        REWRITTEN,
        "moto does not know the function: the copy has the producing stack's output value, read "
        "with DescribeStacks after that stack is deployed.",
        hides="cloudformation:DescribeStacks of the consuming stack's execution role",
        covered_by=(
            EVERY_REQUIREMENT,
            f"{READINESS}test_dropping_describe_stacks_fails_every_stack_reading_another_stacks_output",
        ),
    ),
    Adaptation(
        "`Ref` / `Fn::GetAtt Arn` of an alarm (endpoint rollback alarms, dashboard alarm widgets)",
        REWRITTEN,
        "moto skips alarms, then rejects references to them; the copy has the alarm's name and ARN, "
        "and the alarm is created with that name through boto3.",
        hides="the alarms' handler permissions (cloudwatch:PutMetricAlarm ...)",
        covered_by=(EVERY_REQUIREMENT,),
    ),
    Adaptation(
        "stack output `EndpointName`",
        REWRITTEN,
        "moto ignores the endpoint's `EndpointName` and names it `<stack>-<logical id>-<suffix>`; "
        "the copy's output is `Fn::GetAtt EndpointName`, so clients (the ops CLI) find the real one.",
    ),
    *(
        Adaptation(
            f"`{kind}`",
            BOTO3,
            "moto has no CloudFormation model for it; the boto3 call with the template's properties "
            "is validated against the service's API model (botocore) and stored by moto.",
            hides="the type's registry-schema handler permissions, and what AWS checks beyond them "
            "(Application Auto Scaling's access to its target)",
            covered_by=(
                EVERY_REQUIREMENT,
                f"{READINESS}test_dropping_what_application_auto_scaling_validates_fails_the_scalable_target",
            ),
        )
        for kind in SKIPPED_BY_MOTO
    ),
    Adaptation(
        "`AWS::S3::Bucket` versioning, public access block, ownership, lifecycle, access logging, request metrics",
        BOTO3,
        "moto's CloudFormation applies a bucket's encryption and tags only; the helper applies the "
        "other properties of the template with the S3 API (lifecycle rules converted to its shape).",
        hides="the bucket handler's permissions for those properties",
        covered_by=(EVERY_REQUIREMENT,),
    ),
    Adaptation(
        "replacement of a referenced resource (a new Model → new EndpointConfig → updated Endpoint)",
        REWRITTEN,
        "moto updates only resources whose own template text changed, so the endpoint config kept "
        "pointing at the deleted old model; each resource of the copy gets a `Metadata` digest of "
        "the resources it references, so moto updates the dependents as CloudFormation does.",
    ),
    Adaptation(
        "stack deletion order",
        HELPER,
        "moto deletes resources in template order, not in reverse dependency order, and then refuses "
        "to delete a role whose managed policy is still attached; the delete test detaches it first.",
    ),
    Adaptation(
        "change sets",
        HELPER,
        "moto's ExecuteChangeSet does not fill in stack outputs, so the helper deploys as "
        "`cdk deploy --method=direct` does: CreateStack / UpdateStack with the template URL.",
        hides="the change set's import of log groups SageMaker or a deleted stack left behind "
        "(--import-existing-resources)",
        covered_by=(
            EVERY_REQUIREMENT,
            f"{READINESS}test_without_importing_existing_resources_the_log_groups_sagemaker_creates_itself_fail",
        ),
    ),
    Adaptation(
        "`Rules: CheckBootstrapVersion`",
        HELPER,
        "moto ignores template rules; the helper checks the bootstrap version (SSM) against the "
        "manifest's `requiresBootstrapStackVersion`, as the CDK CLI does before deploying.",
    ),
    Adaptation(
        "container image asset",
        GAP,
        "no Docker: the image is neither built nor pushed; the model's image URI is only a string. The deploy "
        "helper puts a manifest without layers under its tag, so ECR calls on it (tagging an approved version's "
        "image) work.",
        hides="the image copy's permissions (its function's role, CloudFormation's invoke); the build "
        "itself needs Docker, run by no test here",
        covered_by=(EVERY_REQUIREMENT,),
    ),
    Adaptation(
        "endpoint `DeploymentConfig` (canary, auto-rollback), `RetainAllVariantProperties`",
        GAP,
        "moto accepts and ignores them; an update replaces the endpoint at once. What is checked is "
        "that the endpoint ends on the new endpoint config (`smoke` does the same in AWS).",
    ),
    Adaptation(
        "termination protection, bucket emptiness on delete",
        GAP,
        "moto deletes protected stacks and non-empty buckets; the delete test checks DeletionPolicy "
        "(what is retained), not these guards.",
    ),
    Adaptation(
        "key policies, IAM policy evaluation, encryption at rest; S3 `BucketKeyEnabled`, model "
        "`EnableNetworkIsolation`, log group `KmsKeyId`",
        GAP,
        "moto stores policies and encryption settings and answers with them, but does not enforce them; "
        "it drops those three properties (and has no AssociateKmsKey to set the last one); the "
        "snapshot and stack tests cover them.",
        hides="IAM policy evaluation: the execution role, each role's run-time needs within the boundary, "
        "KMS grants made as the caller, grants to bounded roles",
        covered_by=(
            EVERY_REQUIREMENT,
            f"{READINESS}test_dropping_the_kms_grant_sagemaker_makes_as_the_caller_fails_the_endpoint",
            f"{READINESS}test_dropping_a_vpc_network_interface_permission_fails_the_roles_in_the_vpc",
        ),
    ),
)


@dataclass
class AdaptedTemplate:
    """The test's copy of a template, and what `adapt` took out of it for boto3 to create."""

    template: dict[str, Any]
    removed: dict[str, str] = field(default_factory=dict)
    for_boto3: dict[str, dict[str, Any]] = field(default_factory=dict)


def physical_alarm_name(stack_name: str, logical_id: str, properties: Mapping[str, Any]) -> str:
    """The alarm's `AlarmName`, or the name the copy uses where CloudFormation would generate one."""
    name = properties.get("AlarmName")
    return name if isinstance(name, str) else f"{stack_name}-{logical_id}"


def adapt(
    template: Mapping[str, Any],
    *,
    stack_name: str,
    region: str,
    account: str,
    stack_outputs: Callable[[str], Mapping[str, str]],
) -> AdaptedTemplate:
    """A deployable copy of `template` for moto (see ADAPTATIONS); `template` is not changed."""
    copied: dict[str, Any] = copy.deepcopy(dict(template))
    resources: dict[str, Any] = copied["Resources"]
    result = AdaptedTemplate(copied)
    alarms: dict[str, str] = {}
    for logical_id, resource in list(resources.items()):
        if _take_out(logical_id, resource, result):
            if resource["Type"] == "AWS::CloudWatch::Alarm":
                alarms[logical_id] = physical_alarm_name(stack_name, logical_id, resource["Properties"])
        else:
            _fix_for_moto(copied, logical_id, resource, stack_name)
    for logical_id in result.removed:
        del resources[logical_id]

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            if "Fn::GetStackOutput" in node:
                reference = node["Fn::GetStackOutput"]
                return stack_outputs(reference["StackName"])[reference["OutputName"]]
            if node.get("Ref") in alarms:
                return alarms[node["Ref"]]
            get_att = node.get("Fn::GetAtt")
            if get_att and get_att[0] in alarms:
                return f"arn:aws:cloudwatch:{region}:{account}:alarm:{alarms[get_att[0]]}"
            return {key: rewrite(value) for key, value in node.items()}
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    for section in ("Resources", "Outputs"):
        copied[section] = rewrite(copied.get(section, {}))
    result.for_boto3 = rewrite(result.for_boto3)
    resources = copied["Resources"]
    for resource in resources.values():
        depends = resource.get("DependsOn")
        if depends:
            kept = [d for d in ([depends] if isinstance(depends, str) else depends) if d not in result.removed]
            resource["DependsOn"] = kept
            if not kept:
                del resource["DependsOn"]
    _add_reference_digests(resources)
    dangling = _references(copied) & set(result.removed)
    if dangling:
        raise ValueError(f"{stack_name}: the copy still references removed resources {sorted(dangling)}")
    return result


def _take_out(logical_id: str, resource: dict[str, Any], result: AdaptedTemplate) -> bool:
    """Custom resources go; types moto skips go too, to be created through boto3."""
    kind = resource["Type"]
    if kind.startswith("Custom::") or kind in SKIPPED_BY_MOTO:
        result.removed[logical_id] = kind
        if kind in SKIPPED_BY_MOTO:
            result.for_boto3[logical_id] = resource
        return True
    return False


def _fix_for_moto(template: dict[str, Any], logical_id: str, resource: dict[str, Any], stack_name: str) -> None:
    kind = resource["Type"]
    properties = resource.setdefault("Properties", {})
    if kind == "AWS::KMS::Key":
        properties.pop("Tags", None)
        properties["KeyPolicy"] = _policy_text(properties["KeyPolicy"])
    elif kind == "AWS::ECR::Repository" and "RepositoryName" not in properties:
        properties["RepositoryName"] = f"{stack_name}-{logical_id}".lower()
    elif kind == "AWS::SageMaker::Endpoint":
        _read_endpoint_name_back(template, logical_id, resource)


def _read_endpoint_name_back(template: dict[str, Any], logical_id: str, endpoint: dict[str, Any]) -> None:
    name = endpoint["Properties"].get("EndpointName")
    for output in template.get("Outputs", {}).values():
        if name is not None and output["Value"] == name:
            output["Value"] = {"Fn::GetAtt": [logical_id, "EndpointName"]}


def _add_reference_digests(resources: dict[str, Any]) -> None:
    digests: dict[str, str] = {}

    def digest(logical_id: str) -> str:
        if logical_id not in digests:
            resource = resources[logical_id]
            referenced = sorted(_references(resource) & set(resources) - {logical_id})
            text = json.dumps(resource, sort_keys=True) + "".join(digest(r) for r in referenced)
            digests[logical_id] = hashlib.sha256(text.encode()).hexdigest()
        return digests[logical_id]

    for logical_id in list(resources):
        referenced = sorted(_references(resources[logical_id]) & set(resources) - {logical_id})
        if referenced:
            combined = "".join(digest(r) for r in referenced)
            resources[logical_id].setdefault("Metadata", {})[REFERENCES_DIGEST] = hashlib.sha256(
                combined.encode()
            ).hexdigest()


def _policy_text(policy: Any) -> str:
    text = json.dumps(policy)
    if '"Ref"' in text or '"Fn::' in text:
        raise ValueError("a key policy with intrinsic functions cannot become a JSON string; extend the adaptation")
    return text


def _references(node: Any) -> set[str]:
    if isinstance(node, dict):
        found: set[str] = set()
        if isinstance(node.get("Ref"), str):
            found.add(node["Ref"])
        if isinstance(node.get("Fn::GetAtt"), list):
            found.add(node["Fn::GetAtt"][0])
        for value in node.values():
            found |= _references(value)
        return found
    if isinstance(node, list):
        return set().union(*(_references(item) for item in node)) if node else set()
    return set()


def markdown_table() -> str:
    """The README's table of adaptations (a test keeps the README in step with ADAPTATIONS)."""
    rows = [
        f"| {a.subject} | {a.handling} | {a.why} | {a.hides or '-'} |"
        + (" " + ", ".join(f"`{t.split('::')[1]}`" for t in a.covered_by) + " |" if a.covered_by else " - |")
        for a in ADAPTATIONS
    ]
    header = "| what | how the test handles it | why | hides | covered by (tests/delivery/test_deploy_readiness.py) |"
    return "\n".join([header, "| --- | --- | --- | --- | --- |", *rows])


def summary() -> str:
    """One line per adaptation, for the test output."""
    return "\n".join(f"- {a.subject}: {a.handling}" for a in ADAPTATIONS)
