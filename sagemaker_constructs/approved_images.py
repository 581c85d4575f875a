"""Keeps the image of every approved model package version, however it was approved.

The image repository's lifecycle keeps images tagged `approved-<group>-<version>` (config.contract); `sagemaker_ops
approve` tags them, but a version approved in the console, by another tool or registered Approved (dev's
auto_approve) would not be. SageMaker sends "SageMaker Model Package State Change" to EventBridge on every change
of a version (https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html): a rule
on the group's Approved versions starts a state machine that tags the version's image (SDK integrations only).
"""

from __future__ import annotations

from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from config.contract import APPROVED, APPROVED_IMAGE_TAG_PREFIX, state_machine_log_group_name
from sagemaker_constructs.log_groups import LogSettings
from sagemaker_constructs.model_registry import ModelRegistry
from sagemaker_constructs.nag import acknowledge
from sagemaker_constructs.state_machines import (
    acknowledge_log_and_trace,
    log_and_trace_statements,
    logged_state_machine,
    starter_role,
    state_machine_role,
)

STATE_MACHINE = "approved-images"
MODEL_PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"


class ApprovedImageKeeper(Construct):
    """An EventBridge rule on `registry`'s versions becoming Approved, and the state machine it starts.

    The state machine (`state_machine`) describes the version (the event names it), and where its image is one of
    `repository`'s, reads the image's manifest by its tag and puts it again as `approved-<group>-<version>`; a
    tag there already (approved twice, or by `sagemaker_ops approve` first) is success. Its role may only describe
    the group's versions (and decrypt them with `encryption_key`), read and tag images of `repository`, log and
    trace. A version whose image is gone fails the execution: that version cannot be served anyway.

    :param encryption_key: the key the group's versions are encrypted with; an argument of its own, as they are not
        the log's.
    :param logs: the key, retention and removal policy of the state machine's log group (`log_group`).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name_prefix: str,
        registry: ModelRegistry,
        repository: ecr.IRepository,
        encryption_key: kms.IKey,
        logs: LogSettings,
    ) -> None:
        super().__init__(scope, id_)
        self.role = state_machine_role(
            self, "Role", description=f"Tags the images of {name_prefix}'s approved versions"
        )
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    sid="ReadVersions", actions=["sagemaker:DescribeModelPackage"], resources=[registry.versions_arn]
                ),
                # A version's information is encrypted with the key (its SecurityConfig): reading it decrypts.
                iam.PolicyStatement(sid="DecryptVersions", actions=["kms:Decrypt"], resources=[encryption_key.key_arn]),
                iam.PolicyStatement(
                    sid="TagImages",
                    actions=["ecr:BatchGetImage", "ecr:PutImage"],
                    resources=[repository.repository_arn],
                ),
                *log_and_trace_statements(),
            ],
        )
        acknowledge(
            self.policy,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:"
            f"model-package/{registry.group_name}/*]",
            "SageMaker numbers each version of the group (<group>/<n>); the state machine reads the one the event "
            f"names, of this environment's group {registry.group_name} only.",
        )
        acknowledge_log_and_trace(self.policy)
        # Called as the drift monitor calls it, then what starts it (duplicates pairs the two): one helper, our values.
        self.state_machine, self.log_group = logged_state_machine(
            self,
            "StateMachine",
            definition=self._definition(repository),
            role=self.role,
            policy=self.policy,
            log_group_name=state_machine_log_group_name(name_prefix, STATE_MACHINE),
            logs=logs,
            comment=f"{name_prefix}: tag the image of an approved model package version so the lifecycle keeps it",
        )
        self.rule = events.Rule(
            self,
            "Approved",
            description=f"A version of {registry.group_name} became Approved: keep its image",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=[MODEL_PACKAGE_STATE_CHANGE],
                detail={"ModelPackageGroupName": [registry.group_name], "ModelApprovalStatus": [APPROVED]},
            ),
        )
        self.rule.add_target(
            targets.SfnStateMachine(
                self.state_machine,
                role=starter_role(
                    self,
                    "Start",
                    service="events.amazonaws.com",
                    state_machine=self.state_machine,
                    description=f"Lets EventBridge tag {name_prefix}'s approved images",
                ),
            )
        )

    def _definition(self, repository: ecr.IRepository) -> sfn.IChainable:
        describe = tasks.CallAwsService(
            self,
            "DescribeVersion",
            service="sagemaker",
            action="describeModelPackage",
            parameters={"ModelPackageName": sfn.JsonPath.string_at("$.detail.ModelPackageArn")},
            iam_resources=["*"],  # the role is immutable: the policy above is what it may do
            result_selector={
                "approval.$": "$.ModelApprovalStatus",
                # <repository URI>:<tag>: ECR image URIs have no other ':'.
                "image.$": "States.StringSplit($.InferenceSpecification.Containers[0].Image, ':')",
                "kept_as.$": f"States.Format('{APPROVED_IMAGE_TAG_PREFIX}{{}}-{{}}', $.ModelPackageGroupName, "
                "$.ModelPackageVersion)",
            },
            result_path="$.version",
        )
        read = tasks.CallAwsService(
            self,
            "ReadImage",
            service="ecr",
            action="batchGetImage",
            parameters={
                "RepositoryName": repository.repository_name,
                "ImageIds": [{"ImageTag": sfn.JsonPath.string_at("$.version.image[1]")}],
            },
            iam_resources=["*"],
            result_selector={"manifest.$": "$.Images[0].ImageManifest"},
            result_path="$.read",
        )
        keep = tasks.CallAwsService(
            self,
            "KeepImage",
            service="ecr",
            action="putImage",
            parameters={
                "RepositoryName": repository.repository_name,
                "ImageManifest": sfn.JsonPath.string_at("$.read.manifest"),
                "ImageTag": sfn.JsonPath.string_at("$.version.kept_as"),
            },
            iam_resources=["*"],
            result_path=sfn.JsonPath.DISCARD,
        )
        kept = sfn.Succeed(self, "Kept")
        keep.add_catch(sfn.Succeed(self, "KeptAlready"), errors=["Ecr.ImageAlreadyExistsException"])
        ours = sfn.Condition.and_(
            sfn.Condition.string_equals("$.version.approval", APPROVED),
            sfn.Condition.string_equals("$.version.image[0]", repository.repository_uri),
        )
        choose = sfn.Choice(self, "ApprovedWithOurImage").when(ours, read.next(keep.next(kept)))
        return describe.next(choose.otherwise(sfn.Succeed(self, "NothingToKeep")))
