"""The IAM policy of the training pipeline's state machine: its own jobs only, never the buckets."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import constructs
import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from config.contract import PENDING_APPROVAL
from sagemaker_constructs.execution_role import SageMakerExecutionRole
from sagemaker_constructs.key_statements import attach_encrypted_volumes_statement
from sagemaker_constructs.model_registry import ModelRegistry
from sagemaker_constructs.nag import acknowledge, acknowledge_while_synthesizing
from sagemaker_constructs.state_machines import (
    acknowledge_log_and_trace,
    log_and_trace_statements,
    pass_execution_role_statement,
    sync_rules_statement,
)
from sagemaker_constructs.training_pipeline.registration import metrics_key_pattern

# The rules Step Functions creates to learn when a `.sync` SageMaker job ends.
_SYNC_RULES = (
    "StepFunctionsGetEventsForSageMakerTrainingJobsRule",
    "StepFunctionsGetEventsForSageMakerTransformJobsRule",
)
# The rule Step Functions creates to learn when a `.sync` tuning job ends.
_TUNING_SYNC_RULE = "StepFunctionsGetEventsForSageMakerTuningJobsRule"


def pipeline_policy(
    scope: Construct,
    id_: str,
    *,
    name_prefix: str,
    role: iam.IRole,
    execution_role: SageMakerExecutionRole,
    encryption_key: kms.IKey,
    topic: sns.ITopic,
    artifacts_bucket: s3.IBucket,
    tuning: bool = False,
    model_registry: ModelRegistry | None = None,
    registered_as: str = PENDING_APPROVAL,
) -> iam.ManagedPolicy:
    """Everything the pipeline's state machine may do, as one managed policy attached to `role`.

    Create, describe, stop and tag its own SageMaker jobs and models (`<name_prefix>-*`), pass only the
    execution role and only to SageMaker, learn when `.sync` jobs end, attach encrypted volumes, publish
    to `topic`, deliver its logs and traces. In S3 only the final metrics' documents (below): SageMaker reads and
    writes the data with the execution role.
    With `tuning`, also its own hyperparameter tuning jobs (`<name_prefix>-*`; their training jobs are
    named `<tuning job>-<n>-<id>`, so the training-job statement covers describing the best one).
    With `model_registry`, also register versions of that group (with status `registered_as` only) and tag them,
    and put the final metrics' document of each of its jobs into `artifacts_bucket` (nothing else, no read); the
    key statement below lets SageMaker encrypt the versions' information, and S3 the document (SSE-KMS needs
    kms:GenerateDataKey of the writer: https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html),
    with the key as the caller.
    """

    def arn(resource: str, name: str, service: str = "sagemaker") -> str:
        # Pseudo parameters (not the stack's literal account): the nag acknowledgments below match them.
        return f"arn:{cdk.Aws.PARTITION}:{service}:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:{resource}/{name}"

    kinds = ("training-job", "model", "transform-job", *(("hyper-parameter-tuning-job",) if tuning else ()))
    jobs = {kind: arn(kind, f"{name_prefix}-*") for kind in kinds}
    tuning_statements = (
        [
            # What Step Functions' .sync tuning integration needs, and listing the jobs' training jobs and tags: checked
            # against the deploy-readiness table of that integration (tests/deploy_readiness/requirements.py).
            iam.PolicyStatement(
                sid="RunTuningJobs",
                actions=[
                    "sagemaker:CreateHyperParameterTuningJob",
                    "sagemaker:DescribeHyperParameterTuningJob",
                    "sagemaker:StopHyperParameterTuningJob",
                    # In Step Functions' own policy for the .sync tuning integration.
                    "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
                    "sagemaker:AddTags",
                    "sagemaker:ListTags",
                ],
                resources=[jobs["hyper-parameter-tuning-job"]],
            )
        ]
        if tuning
        else []
    )
    rules = (*_SYNC_RULES, *((_TUNING_SYNC_RULE,) if tuning else ()))
    policy = iam.ManagedPolicy(
        scope,
        id_,
        roles=[role],
        description=f"What the {name_prefix} training pipeline may do: its own SageMaker jobs only",
        statements=[
            iam.PolicyStatement(
                sid="RunTrainingJobs",
                actions=[
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:AddTags",
                    "sagemaker:ListTags",
                ],
                resources=[jobs["training-job"]],
            ),
            *tuning_statements,
            *(model_registry.register_statements(registered_as) if model_registry else []),
            *(
                [
                    iam.PolicyStatement(
                        sid="WriteFinalMetrics",
                        actions=["s3:PutObject"],
                        resources=[artifacts_bucket.arn_for_objects(metrics_key_pattern(name_prefix))],
                    )
                ]
                if model_registry
                else []
            ),
            iam.PolicyStatement(
                sid="CreateModels",
                actions=["sagemaker:CreateModel", "sagemaker:AddTags", "sagemaker:ListTags"],
                resources=[jobs["model"]],
            ),
            iam.PolicyStatement(
                sid="RunTransformJobs",
                actions=[
                    "sagemaker:CreateTransformJob",
                    "sagemaker:DescribeTransformJob",
                    "sagemaker:StopTransformJob",
                    "sagemaker:AddTags",
                    "sagemaker:ListTags",
                ],
                resources=[jobs["transform-job"]],
            ),
            pass_execution_role_statement(execution_role),
            sync_rules_statement([arn("rule", name, service="events") for name in rules]),
            attach_encrypted_volumes_statement(encryption_key),
            iam.PolicyStatement(
                sid="PublishToEncryptedTopic",
                actions=["kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"],
                resources=[encryption_key.key_arn],
            ),
            iam.PolicyStatement(sid="Notify", actions=["sns:Publish"], resources=[topic.topic_arn]),
            *log_and_trace_statements(),
        ],
    )
    for kind, what in (
        ("training-job", "training jobs"),
        ("model", "models"),
        ("transform-job", "transform jobs"),
    ):
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:"
            f"{kind}/{name_prefix}-*]",
            f"Each execution names its {what} <prefix>-<execution name>, unknown at deploy time; "
            f"limited to this environment's prefix {name_prefix}-.",
        )
    if tuning:
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:"
            f"hyper-parameter-tuning-job/{name_prefix}-*]",
            "Each execution names its tuning job <prefix>-<hash of the execution name>, unknown at deploy "
            f"time; limited to this environment's prefix {name_prefix}-.",
        )
    if model_registry is not None:
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:"
            f"model-package/{model_registry.group_name}/*]",
            "SageMaker numbers each registered version of the group (<group>/<n>); limited to this "
            f"environment's group {model_registry.group_name}.",
        )
    if model_registry is not None:
        # The bucket is another stack's: how the finding spells its ARN is known once references are resolved.
        policy.node.add_validation(_AcknowledgeMetricsDocuments(policy, artifacts_bucket, name_prefix))
    acknowledge_log_and_trace(policy)
    return policy


@jsii.implements(constructs.IValidation)
class _AcknowledgeMetricsDocuments:
    """Acknowledges the wildcard of WriteFinalMetrics, its bucket's ARN spelled as cdk-nag spells a resolved one."""

    def __init__(self, policy: iam.ManagedPolicy, bucket: s3.IBucket, name_prefix: str) -> None:
        self._policy, self._bucket, self._name_prefix = policy, bucket, name_prefix

    def validate(self) -> list[str]:
        arn = _flattened(cdk.Stack.of(self._policy).resolve(self._bucket.bucket_arn))
        acknowledge_while_synthesizing(
            self._policy,
            f"AwsSolutions-IAM5[Resource::{arn}/{metrics_key_pattern(self._name_prefix)}]",
            "The final metrics' document of each of this environment's training jobs, under the execution's output "
            "prefix and the job's name, both unknown at deploy time; this one file name only, no read.",
        )
        return []


def _flattened(value: Any) -> str:
    """A resolved reference as cdk-nag's findings name it (its utils/flatten-cfn-reference)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::ImportValue":
            return _flattened(argument)
        if function == "Fn::Join":
            return str(argument[0]).join(_flattened(part) for part in argument[1])
    return json.dumps(value, separators=(",", ":"))
