"""The IAM policies of the training pipeline's state machine: its own jobs only, in S3 only its metrics' documents."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from config.contract import PENDING_APPROVAL
from sagemaker_constructs.execution_role import SageMakerExecutionRole
from sagemaker_constructs.key_statements import attach_encrypted_volumes_statement
from sagemaker_constructs.model_registry import ModelRegistry
from sagemaker_constructs.nag import acknowledge
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
    tuning: bool = False,
    model_registry: ModelRegistry | None = None,
    registered_as: str = PENDING_APPROVAL,
) -> iam.ManagedPolicy:
    """Everything the pipeline's state machine may do, as one managed policy attached to `role`.

    Create, describe, stop and tag its own SageMaker jobs and models (`<name_prefix>-*`), pass only the
    execution role and only to SageMaker, learn when `.sync` jobs end, attach encrypted volumes, publish
    to `topic`, deliver its logs and traces. No S3: SageMaker reads and writes the data with the execution role,
    and the final metrics' documents are `final_metrics_policy`'s, which the role attaches besides.
    With `tuning`, also its own hyperparameter tuning jobs (`<name_prefix>-*`; their training jobs are
    named `<tuning job>-<n>-<id>`, so the training-job statement covers describing the best one).
    With `model_registry`, also register versions of that group (with status `registered_as` only) and tag them;
    the key statement below lets SageMaker encrypt the versions' information, and S3 the metrics' document
    (SSE-KMS needs kms:GenerateDataKey of the writer:
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html), with the key as the caller.
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
    acknowledge_log_and_trace(policy)
    return policy


def final_metrics_policy(
    scope: Construct, id_: str, *, artifacts_bucket: s3.IBucket, name_prefix: str
) -> iam.ManagedPolicy:
    """Put the final metrics' document of each of `name_prefix`'s training jobs into `artifacts_bucket`, nothing else
    and no read: what the pipeline's WriteMetrics needs (the pipeline's role attaches it, `metrics_policy`).

    Made in the bucket's own stack, where the bucket's ARN is its `Fn::GetAtt`, which cdk-nag's finding spells
    `<LogicalId.Arn>` and the stack's logical id is known while the policy is constructed: the acknowledgment of
    the key pattern's wildcard is made with it. (In the pipeline's stack the ARN is a cross-stack reference, whose
    spelling CDK settles only at synthesis.)
    """
    resource = artifacts_bucket.node.default_child
    if cdk.Stack.of(scope) is not cdk.Stack.of(artifacts_bucket) or not isinstance(resource, cdk.CfnElement):
        raise ValueError("final_metrics_policy belongs in the stack that creates the artifacts bucket")
    pattern = metrics_key_pattern(name_prefix)
    policy = iam.ManagedPolicy(
        scope,
        id_,
        description=f"The {name_prefix} training pipeline writes its jobs' final metrics' documents",
        statements=[
            iam.PolicyStatement(
                sid="WriteFinalMetrics", actions=["s3:PutObject"], resources=[artifacts_bucket.arn_for_objects(pattern)]
            )
        ],
    )
    bucket = cdk.Stack.of(scope).get_logical_id(resource)
    acknowledge(
        policy,
        f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/{pattern}]",
        "The final metrics' document of each of this environment's training jobs, under the execution's output "
        "prefix and the job's name, both unknown at deploy time; this one file name only, no read.",
    )
    return policy
