"""The training pipeline: a Step Functions state machine that trains, checks, scores and reports."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from sagemaker_constructs.execution_role import SageMakerExecutionRole
from sagemaker_constructs.nag import acknowledge

# The execution's input document (README "Training stack"); only `data_prefix` is required.
INPUT_DATA_PREFIX = "data_prefix"
INPUT_SCORE_PREFIX = "score_prefix"
INPUT_OUTPUT_PREFIX = "output_prefix"
INPUT_HYPERPARAMETERS = "hyperparameters"
INPUT_INSTANCE_TYPE = "instance_type"
INPUT_INSTANCE_COUNT = "instance_count"
INPUT_TRANSFORM_INSTANCE_TYPE = "transform_instance_type"
INPUT_TRANSFORM_INSTANCE_COUNT = "transform_instance_count"
INPUT_COMMIT = "commit"
DEFAULT_OUTPUT_PREFIX = "pipeline"
DEFAULT_COMMIT = "unknown"
# Where the container finds checkpoints; SageMaker syncs it with CheckpointConfig.S3Uri.
CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"
# SageMaker's limits (CreateTrainingJob, CreateTransformJob).
MAX_JOB_NAME_LENGTH = 63
MAX_METRIC_DEFINITIONS = 40
MAX_METRIC_NAME_LENGTH = 255
MAX_METRIC_REGEX_LENGTH = 500
MAX_JOB_SECONDS = 28 * 24 * 3600
MAX_TRANSFORM_PAYLOAD_MB = 100
# StartExecution names an execution with a UUID (36 characters) unless the caller names it.
GENERATED_EXECUTION_NAME_LENGTH = 36
# The rules Step Functions creates to learn when a `.sync` SageMaker job ends.
_SYNC_RULES = (
    "StepFunctionsGetEventsForSageMakerTrainingJobsRule",
    "StepFunctionsGetEventsForSageMakerTransformJobsRule",
)
_NAME_PREFIX = re.compile(r"[a-z0-9](-*[a-z0-9])*")


@dataclass(frozen=True)
class TrainingJobOptions:
    """The training step: its defaults (an execution may override instances and hyperparameters) and limits.

    `max_wait` turns on managed spot training: SageMaker waits up to `max_wait` in all (spot capacity
    plus `max_runtime`) and resumes from the job's checkpoints after an interruption.
    """

    instance_type: str
    instance_count: int = 1
    volume_size_gb: int = 30
    max_runtime: cdk.Duration = cdk.Duration.days(1)
    max_wait: cdk.Duration | None = None
    input_mode: Literal["File", "FastFile"] = "File"
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    # How the train channel's files reach several instances; validation is always FullyReplicated (every
    # instance evaluates all of it, so all stop early together). Both work with the container.
    train_data_distribution: Literal["FullyReplicated", "ShardedByS3Key"] = "FullyReplicated"


@dataclass(frozen=True)
class TransformJobOptions:
    """The batch transform step. The container answers the same in `/execution-parameters`.

    The job passes `max_payload_mb` and `max_concurrent_transforms` to the container as
    SAGEMAKER_MAX_PAYLOAD_IN_MB and SAGEMAKER_MODEL_SERVER_WORKERS (one worker per concurrent
    request), so the job's settings and the server's cannot disagree.
    """

    instance_type: str
    instance_count: int = 1
    max_payload_mb: int = 6
    max_concurrent_transforms: int = 1
    invocation_timeout: cdk.Duration = cdk.Duration.minutes(10)


@dataclass(frozen=True)
class QualityGate:
    """Evaluate step: the training job's final `metric` must reach `threshold`, or no model is created."""

    metric: str
    threshold: float
    higher_is_better: bool = True


class TrainingPipeline(Construct):
    """A STANDARD Step Functions state machine: train → (evaluate) → create model → batch transform → notify.

    - **Train** (`createTrainingJob.sync`): the algorithm image, channels `train` and `validation`
      from `s3://<data>/<data_prefix>/train/` and `.../validation/` (CSV, label first), the
      container's `metric_definitions`, volume and output encrypted with the key, inter-container
      encryption on, and, with `TrainingJobOptions.max_wait`, managed spot training with checkpoints
      in `s3://<artifacts>/checkpoints/<job>/`. A CustomState, because CDK's
      `SageMakerCreateTrainingJob` has no spot or checkpoint properties.
    - **Evaluate** (with `quality_gate`): the job's final metric against the threshold.
    - **CreateModel** (CDK's `SageMakerCreateModel`): the trained artifact, network isolation on.
    - **Score** (`createTransformJob.sync`): every CSV line under `s3://<data>/<score_prefix>/`
      (default `<data_prefix>/score/`), MultiRecord batches of at most `max_payload_mb`, each
      output line the input line joined with its prediction, encrypted with the key. A CustomState,
      because `SageMakerCreateTransformJob` has no `DataProcessing` (JoinSource).
    - **Notify**: the report to `notification_topic`; the execution's output is that report.
    Every failure notifies the topic too and ends in a named Fail state with SageMaker's error and
    cause (for a job, its description, whose `FailureReason` says why).

    Jobs, models and transform jobs are named `<name_prefix>-<execution name>` and tagged with
    `tags`, `Commit` (from the input) and `PipelineExecution`. The state machine's role (`role`,
    policy `policy`) may create, describe, stop and tag only those, pass only the execution role
    (to SageMaker), publish only to the topic; it never reads the buckets itself. It logs ALL
    events with execution data to `log_group` (encrypted, `log_retention_days`) and traces with X-Ray.

    :param name_prefix: `<app>-<env>`; lowercase letters, digits and '-', short enough that a
        generated execution name (36 characters) still fits SageMaker's 63-character names.
    :param metric_definitions: SageMaker MetricDefinitions (`Name`, `Regex`), at most 40.
    :param tags: tags of every job and model (e.g. Environment, Project). @default none.
    :param removal_policy: of the log group. @default RETAIN.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name_prefix: str,
        image_uri: str,
        execution_role: SageMakerExecutionRole,
        data_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        notification_topic: sns.ITopic,
        metric_definitions: Sequence[Mapping[str, str]],
        training: TrainingJobOptions,
        transform: TransformJobOptions,
        quality_gate: QualityGate | None = None,
        tags: Mapping[str, str] | None = None,
        log_retention_days: int = 365,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id_)
        _check_name_prefix(name_prefix)
        _check_metric_definitions(metric_definitions)
        _check_training(training)
        _check_transform(transform)
        if quality_gate is not None and quality_gate.metric not in {d["Name"] for d in metric_definitions}:
            known = ", ".join(d["Name"] for d in metric_definitions)
            raise ValueError(
                f"quality_gate.metric must be one of the metric definitions ({known}), got {quality_gate.metric!r}"
            )
        self.name_prefix = name_prefix
        self.metric_definitions = [dict(d) for d in metric_definitions]
        self._data_bucket = data_bucket
        self._artifacts_bucket = artifacts_bucket
        self._key = encryption_key
        self._execution_role = execution_role
        self._tags = dict(tags or {})

        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(
                "states.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}}
            ),
            description=f"Runs the {name_prefix} training pipeline: SageMaker jobs named {name_prefix}-*",
        )
        self.policy = self._create_policy(notification_topic)

        self.log_group = logs.CfnLogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/vendedlogs/states/{name_prefix}-training-pipeline",
            retention_in_days=log_retention_days,
            kms_key_id=encryption_key.key_arn,
        )
        self.log_group.apply_removal_policy(removal_policy)

        definition = self._definition(training, transform, quality_gate, image_uri, notification_topic)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            state_machine_type=sfn.StateMachineType.STANDARD,
            # An immutable view: the tasks' own grants (sagemaker:* on every job, ListTags on '*') are
            # dropped; `policy` is everything the pipeline may do.
            role=self.role.without_policy_updates(),
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
            comment=f"{name_prefix}: train, evaluate, create model, batch transform, notify",
        )
        # Step Functions checks the log-delivery permissions when it creates the state machine.
        self.state_machine.node.add_dependency(self.role, self.policy)

    # ----- helpers an application uses --------------------------------------------------------------

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` start executions of the pipeline (and read how they went)."""
        start = self.state_machine.grant_start_execution(grantee)
        self.state_machine.grant_read(grantee)
        return start

    def add_schedule(
        self, id_: str, *, schedule: events.Schedule, execution_input: Mapping[str, Any], enabled: bool = True
    ) -> events.Rule:
        """An EventBridge rule that starts the pipeline with `execution_input` on `schedule`."""
        if INPUT_DATA_PREFIX not in execution_input:
            raise ValueError(f"execution_input must name {INPUT_DATA_PREFIX!r}, the key prefix of the data to use")
        rule = events.Rule(
            self,
            id_,
            schedule=schedule,
            enabled=enabled,
            description=f"Starts the {self.name_prefix} training pipeline (periodic batch scoring)",
        )
        rule.add_target(
            targets.SfnStateMachine(self.state_machine, input=events.RuleTargetInput.from_object(dict(execution_input)))
        )
        return rule

    def metric_failed(self, **kwargs: Any) -> Any:
        """Executions that failed (Sum), e.g. for an alarm."""
        return self.state_machine.metric_failed(**kwargs)

    def metric_succeeded(self, **kwargs: Any) -> Any:
        """Executions that succeeded (Sum)."""
        return self.state_machine.metric_succeeded(**kwargs)

    # ----- the definition ---------------------------------------------------------------------------

    def _definition(
        self,
        training: TrainingJobOptions,
        transform: TransformJobOptions,
        quality_gate: QualityGate | None,
        image_uri: str,
        topic: sns.ITopic,
    ) -> sfn.IChainable:
        defaults = sfn.Pass(
            self,
            "ApplyDefaults",
            comment="Defaults from the configuration; the input overrides them",
            parameters={
                "defaults": {
                    INPUT_OUTPUT_PREFIX: DEFAULT_OUTPUT_PREFIX,
                    INPUT_INSTANCE_TYPE: training.instance_type,
                    INPUT_INSTANCE_COUNT: training.instance_count,
                    INPUT_TRANSFORM_INSTANCE_TYPE: transform.instance_type,
                    INPUT_TRANSFORM_INSTANCE_COUNT: transform.instance_count,
                    INPUT_COMMIT: DEFAULT_COMMIT,
                    INPUT_HYPERPARAMETERS: {},
                },
                "input.$": "$",
            },
        )
        invalid = sfn.Fail(
            self,
            "InvalidInput",
            error="InvalidInput",
            cause=f"The input needs {INPUT_DATA_PREFIX!r}: a key prefix in the data bucket with train/ and "
            "validation/ under it. Prefixes are strings without a leading or trailing '/'.",
        )
        merge = sfn.Pass(
            self,
            "MergeInput",
            parameters={
                "args.$": "States.JsonMerge($.defaults, $.input, false)",
                "derived": {INPUT_SCORE_PREFIX + ".$": f"States.Format('{{}}/score', $.input.{INPUT_DATA_PREFIX})"},
                "default_hyperparameters": dict(sorted(training.hyperparameters.items())),
            },
        )
        prepare = sfn.Pass(
            self,
            "Prepare",
            comment="Hyperparameters: the configuration's, overridden by the input's; names from the execution",
            parameters={
                "args.$": "States.JsonMerge($.derived, $.args, false)",
                "hyperparameters.$": (
                    f"States.JsonMerge($.default_hyperparameters, $.args.{INPUT_HYPERPARAMETERS}, false)"
                ),
                "job_name.$": f"States.Format('{self.name_prefix}-{{}}', $$.Execution.Name)",
                "tags": self._job_tags(),
            },
        )
        train = self._training_state(training, image_uri)
        create_model = tasks.SageMakerCreateModel(
            self,
            "CreateModel",
            model_name=sfn.JsonPath.string_at("$.job_name"),
            primary_container=tasks.ContainerDefinition(
                image=tasks.DockerImage.from_registry(image_uri),
                model_s3_location=tasks.S3Location.from_json_expression("$.training.ModelArtifacts.S3ModelArtifacts"),
            ),
            # Immutable: S3Location would grant the role s3:GetObject and s3:ListBucket on '*'; the
            # execution role already reads the artifacts bucket, and nothing else.
            role=self._execution_role.role.without_policy_updates(),
            # The container needs no network: SageMaker brings the model and the batches to it.
            enable_network_isolation=True,
            tags=sfn.TaskInput.from_json_path_at("$.tags"),
            result_selector={"ModelArn.$": "$.ModelArn"},
            result_path="$.model",
        )
        score = self._transform_state(transform)
        report = sfn.Pass(
            self,
            "Report",
            parameters={
                "environment_prefix": self.name_prefix,
                **({"environment": self._tags["Environment"]} if "Environment" in self._tags else {}),
                "execution.$": "$$.Execution.Id",
                "commit.$": f"$.args.{INPUT_COMMIT}",
                "training_job.$": "$.training.TrainingJobName",
                "model_artifact.$": "$.training.ModelArtifacts.S3ModelArtifacts",
                "artifacts_bucket": self._artifacts_bucket.bucket_name,
                "model_name.$": "$.job_name",
                "transform_job.$": "$.job_name",
                "scores.$": "$.scores.TransformOutput.S3OutputPath",
                "hyperparameters.$": "$.hyperparameters",
            },
            result_path="$.report",
        )
        notify = tasks.SnsPublish(
            self,
            "NotifySucceeded",
            topic=topic,
            subject=f"{self.name_prefix}: training pipeline succeeded",
            message=sfn.TaskInput.from_json_path_at("$.report"),
            result_path=sfn.JsonPath.DISCARD,
            output_path="$.report",
        )

        train.add_catch(self._failure("Training", topic), errors=[sfn.Errors.ALL], result_path="$.error")
        create_model.add_catch(self._failure("ModelCreation", topic), errors=[sfn.Errors.ALL], result_path="$.error")
        score.add_catch(self._failure("Transform", topic), errors=[sfn.Errors.ALL], result_path="$.error")

        after_training: sfn.IChainable = create_model
        if quality_gate is not None:
            after_training = self._quality_gate(quality_gate, topic, create_model)
        create_model.next(score)
        score.next(report)
        report.next(notify)
        train.next(after_training)
        return defaults.next(
            sfn.Choice(self, "CheckInput").when(_valid_input(), merge.next(prepare).next(train)).otherwise(invalid)
        )

    def _training_state(self, training: TrainingJobOptions, image_uri: str) -> sfn.CustomState:
        stack = cdk.Stack.of(self)
        data = self._data_bucket.bucket_name
        artifacts = self._artifacts_bucket.bucket_name
        stopping: dict[str, int] = {"MaxRuntimeInSeconds": int(training.max_runtime.to_seconds())}
        spot: dict[str, Any] = {}
        if training.max_wait is not None:
            stopping["MaxWaitTimeInSeconds"] = int(training.max_wait.to_seconds())
            spot = {
                "EnableManagedSpotTraining": True,
                # Per job: SageMaker restarts an interrupted job from here, the container resumes.
                "CheckpointConfig": {
                    "S3Uri.$": f"States.Format('s3://{artifacts}/checkpoints/{{}}/', $.job_name)",
                    "LocalPath": CHECKPOINT_LOCAL_PATH,
                },
            }
        parameters: dict[str, Any] = {
            "TrainingJobName.$": "$.job_name",
            "RoleArn": self._execution_role.role.role_arn,
            "AlgorithmSpecification": {
                "TrainingImage": image_uri,
                "TrainingInputMode": training.input_mode,
                "MetricDefinitions": self.metric_definitions,
                "EnableSageMakerMetricsTimeSeries": True,
            },
            "HyperParameters.$": "$.hyperparameters",
            "InputDataConfig": [
                _channel("train", data, training.train_data_distribution),
                _channel("validation", data, "FullyReplicated"),
            ],
            "OutputDataConfig": {
                "S3OutputPath.$": f"States.Format('s3://{artifacts}/{{}}/models/', $.args.{INPUT_OUTPUT_PREFIX})",
                "KmsKeyId": self._key.key_arn,
            },
            "ResourceConfig": {
                "InstanceType.$": f"$.args.{INPUT_INSTANCE_TYPE}",
                "InstanceCount.$": f"$.args.{INPUT_INSTANCE_COUNT}",
                "VolumeSizeInGB": training.volume_size_gb,
                "VolumeKmsKeyId": self._key.key_arn,
            },
            "StoppingCondition": stopping,
            # Encrypts traffic between instances of a distributed job; nothing to encrypt on one instance,
            # so always on: an execution may ask for several instances.
            "EnableInterContainerTrafficEncryption": True,
            "Tags.$": "$.tags",
            **spot,
        }
        return sfn.CustomState(
            self,
            "Train",
            state_json={
                "Type": "Task",
                "Comment": "CreateTrainingJob (.sync): CDK's SageMakerCreateTrainingJob has no spot or checkpoints",
                "Resource": f"arn:{stack.partition}:states:::sagemaker:createTrainingJob.sync",
                "Parameters": parameters,
                "ResultPath": "$.training",
            },
        )

    def _transform_state(self, transform: TransformJobOptions) -> sfn.CustomState:
        stack = cdk.Stack.of(self)
        data = self._data_bucket.bucket_name
        artifacts = self._artifacts_bucket.bucket_name
        timeout = int(transform.invocation_timeout.to_seconds())
        parameters = {
            "TransformJobName.$": "$.job_name",
            "ModelName.$": "$.job_name",
            "BatchStrategy": "MultiRecord",
            "MaxPayloadInMB": transform.max_payload_mb,
            "MaxConcurrentTransforms": transform.max_concurrent_transforms,
            # What the container answers in /execution-parameters, from the same numbers.
            "Environment": {
                "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(transform.max_payload_mb),
                "SAGEMAKER_MODEL_SERVER_WORKERS": str(transform.max_concurrent_transforms),
                "SAGEMAKER_MODEL_SERVER_TIMEOUT": str(timeout),
            },
            "ModelClientConfig": {"InvocationsTimeoutInSeconds": timeout, "InvocationsMaxRetries": 1},
            "TransformInput": {
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri.$": f"States.Format('s3://{data}/{{}}/', $.args.{INPUT_SCORE_PREFIX})",
                    }
                },
                "ContentType": "text/csv",
                "SplitType": "Line",
                "CompressionType": "None",
            },
            "TransformOutput": {
                "S3OutputPath.$": (
                    f"States.Format('s3://{artifacts}/{{}}/scores/{{}}/', $.args.{INPUT_OUTPUT_PREFIX}, $.job_name)"
                ),
                "Accept": "text/csv",
                "AssembleWith": "Line",
                "KmsKeyId": self._key.key_arn,
            },
            "TransformResources": {
                "InstanceType.$": f"$.args.{INPUT_TRANSFORM_INSTANCE_TYPE}",
                "InstanceCount.$": f"$.args.{INPUT_TRANSFORM_INSTANCE_COUNT}",
                "VolumeKmsKeyId": self._key.key_arn,
            },
            # Each output line is the input line followed by its prediction.
            "DataProcessing": {"InputFilter": "$", "JoinSource": "Input", "OutputFilter": "$"},
            "Tags.$": "$.tags",
        }
        return sfn.CustomState(
            self,
            "Score",
            state_json={
                "Type": "Task",
                "Comment": "CreateTransformJob (.sync): CDK's SageMakerCreateTransformJob has no DataProcessing",
                "Resource": f"arn:{stack.partition}:states:::sagemaker:createTransformJob.sync",
                "Parameters": parameters,
                "ResultSelector": {"TransformOutput.$": "$.TransformOutput"},
                "ResultPath": "$.scores",
            },
        )

    def _quality_gate(self, gate: QualityGate, topic: sns.ITopic, then: sfn.IChainable) -> sfn.IChainable:
        read = sfn.Pass(
            self,
            "Evaluate",
            comment=f"The training job's final {gate.metric}",
            parameters={"values.$": f"$.training.FinalMetricDataList[?(@.MetricName == '{gate.metric}')].Value"},
            result_path="$.evaluation",
        )
        value = "$.evaluation.values[0]"
        meets = (
            sfn.Condition.number_greater_than_equals(value, gate.threshold)
            if gate.higher_is_better
            else sfn.Condition.number_less_than_equals(value, gate.threshold)
        )
        comparison = ">=" if gate.higher_is_better else "<="
        rejected = tasks.SnsPublish(
            self,
            "NotifyModelRejected",
            topic=topic,
            subject=f"{self.name_prefix}: model rejected by the quality gate",
            message=sfn.TaskInput.from_object(
                {
                    "execution.$": "$$.Execution.Id",
                    "training_job.$": "$.training.TrainingJobName",
                    "gate": f"{gate.metric} {comparison} {gate.threshold}",
                    "values.$": "$.evaluation.values",
                }
            ),
            result_path=sfn.JsonPath.DISCARD,
        ).next(
            sfn.Fail(
                self,
                "ModelRejected",
                error="ModelRejected",
                cause=f"The training job's final {gate.metric} does not meet {comparison} {gate.threshold}, "
                "or the job did not report it; no model was created",
            )
        )
        return read.next(
            sfn.Choice(self, "MeetsQualityGate")
            .when(sfn.Condition.and_(sfn.Condition.is_present(value), meets), then)
            .otherwise(rejected)
        )

    def _failure(self, stage: str, topic: sns.ITopic) -> sfn.IChainable:
        failed = sfn.Fail(self, f"{stage}Failed", error_path="$.error.Error", cause_path="$.error.Cause")
        notify = tasks.SnsPublish(
            self,
            f"Notify{stage}Failed",
            topic=topic,
            subject=f"{self.name_prefix}: training pipeline failed ({stage})",
            message=sfn.TaskInput.from_object(
                {
                    "execution.$": "$$.Execution.Id",
                    "stage": stage,
                    "error.$": "$.error.Error",
                    "cause.$": "$.error.Cause",
                }
            ),
            result_path=sfn.JsonPath.DISCARD,
        )
        # The pipeline's failure must surface even if the notification cannot be sent.
        notify.add_catch(failed, errors=[sfn.Errors.ALL], result_path="$.notification_error")
        return notify.next(failed)

    def _job_tags(self) -> list[dict[str, str]]:
        tags = [{"Key": key, "Value": value} for key, value in sorted(self._tags.items())]
        return [
            *tags,
            {"Key": "Commit", "Value.$": f"$.args.{INPUT_COMMIT}"},
            {"Key": "PipelineExecution", "Value.$": "$$.Execution.Name"},
        ]

    # ----- permissions ------------------------------------------------------------------------------

    def _create_policy(self, topic: sns.ITopic) -> iam.ManagedPolicy:
        def arn(resource: str, name: str, service: str = "sagemaker") -> str:
            # Pseudo parameters (not the stack's literal account): the nag acknowledgments below match them.
            return f"arn:{cdk.Aws.PARTITION}:{service}:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:{resource}/{name}"

        jobs = {kind: arn(kind, f"{self.name_prefix}-*") for kind in ("training-job", "model", "transform-job")}
        policy = iam.ManagedPolicy(
            self,
            "Policy",
            roles=[self.role],
            description=f"What the {self.name_prefix} training pipeline may do: its own SageMaker jobs only",
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
                # SageMakerExecutionRole.grant_pass_role's statement, here rather than in an inline policy.
                iam.PolicyStatement(
                    sid="PassExecutionRoleToSageMaker",
                    actions=["iam:PassRole"],
                    resources=[self._execution_role.role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                ),
                iam.PolicyStatement(
                    sid="LearnWhenJobsEnd",
                    actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                    resources=[arn("rule", name, service="events") for name in _SYNC_RULES],
                ),
                iam.PolicyStatement(
                    sid="AttachEncryptedVolumes",
                    actions=["kms:CreateGrant"],
                    resources=[self._key.key_arn],
                    conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
                ),
                iam.PolicyStatement(
                    sid="PublishToEncryptedTopic",
                    actions=["kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[self._key.key_arn],
                ),
                iam.PolicyStatement(sid="Notify", actions=["sns:Publish"], resources=[topic.topic_arn]),
                iam.PolicyStatement(
                    sid="DeliverLogs",
                    actions=[
                        "logs:CreateLogDelivery",
                        "logs:GetLogDelivery",
                        "logs:UpdateLogDelivery",
                        "logs:DeleteLogDelivery",
                        "logs:ListLogDeliveries",
                        "logs:PutResourcePolicy",
                        "logs:DescribeResourcePolicies",
                        "logs:DescribeLogGroups",
                    ],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="Trace",
                    actions=[
                        "xray:PutTraceSegments",
                        "xray:PutTelemetryRecords",
                        "xray:GetSamplingRules",
                        "xray:GetSamplingTargets",
                    ],
                    resources=["*"],
                ),
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
                f"{kind}/{self.name_prefix}-*]",
                f"Each execution names its {what} <prefix>-<execution name>, unknown at deploy time; "
                f"limited to this environment's prefix {self.name_prefix}-.",
            )
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "CloudWatch Logs vended-log delivery (logs:*LogDelivery*, resource policies) and X-Ray trace "
            "writes have no resource-level permissions; Step Functions needs them to log and trace.",
        )
        return policy


def _valid_input() -> sfn.Condition:
    """`data_prefix` is a string; each prefix given has no leading or trailing '/'."""

    def prefix_ok(name: str) -> sfn.Condition:
        path = f"$.input.{name}"
        return sfn.Condition.and_(
            sfn.Condition.is_string(path),
            sfn.Condition.not_(sfn.Condition.string_matches(path, "/*")),
            sfn.Condition.not_(sfn.Condition.string_matches(path, "*/")),
        )

    optional = [
        sfn.Condition.or_(sfn.Condition.is_not_present(f"$.input.{name}"), prefix_ok(name))
        for name in (INPUT_SCORE_PREFIX, INPUT_OUTPUT_PREFIX)
    ]
    return sfn.Condition.and_(
        sfn.Condition.is_present(f"$.input.{INPUT_DATA_PREFIX}"), prefix_ok(INPUT_DATA_PREFIX), *optional
    )


def _channel(name: str, bucket: str, distribution: str) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "ContentType": "text/csv",
        "CompressionType": "None",
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3DataDistributionType": distribution,
                "S3Uri.$": f"States.Format('s3://{bucket}/{{}}/{name}/', $.args.{INPUT_DATA_PREFIX})",
            }
        },
    }


def _check_name_prefix(name_prefix: str) -> None:
    longest = MAX_JOB_NAME_LENGTH - 1 - GENERATED_EXECUTION_NAME_LENGTH
    if not _NAME_PREFIX.fullmatch(name_prefix) or len(name_prefix) > longest:
        raise ValueError(
            f"name_prefix must be 1-{longest} lowercase letters, digits or '-' (so that "
            f"<prefix>-<generated execution name> fits SageMaker's {MAX_JOB_NAME_LENGTH} characters), "
            f"got {name_prefix!r}"
        )


def _check_metric_definitions(definitions: Sequence[Mapping[str, str]]) -> None:
    if not 1 <= len(definitions) <= MAX_METRIC_DEFINITIONS:
        raise ValueError(f"metric_definitions must hold 1-{MAX_METRIC_DEFINITIONS} entries, got {len(definitions)}")
    names: set[str] = set()
    for index, definition in enumerate(definitions):
        if set(definition) != {"Name", "Regex"}:
            raise ValueError(f"metric_definitions[{index}] must have exactly Name and Regex, got {sorted(definition)}")
        name, regex = definition["Name"], definition["Regex"]
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_METRIC_NAME_LENGTH:
            raise ValueError(f"metric_definitions[{index}].Name must be 1-{MAX_METRIC_NAME_LENGTH} characters")
        if not isinstance(regex, str) or not 1 <= len(regex) <= MAX_METRIC_REGEX_LENGTH:
            raise ValueError(f"metric_definitions[{index}].Regex must be 1-{MAX_METRIC_REGEX_LENGTH} characters")
        if name in names:
            raise ValueError(f"metric_definitions[{index}].Name {name!r} is defined twice")
        names.add(name)
        try:
            compiled = re.compile(regex)
        except re.error as error:
            raise ValueError(f"metric_definitions[{index}].Regex is not a regular expression: {error}") from None
        if compiled.groups < 1:
            raise ValueError(f"metric_definitions[{index}].Regex must capture the value in a group")


def _check_training(training: TrainingJobOptions) -> None:
    runtime = training.max_runtime.to_seconds()
    if not 1 <= runtime <= MAX_JOB_SECONDS:
        raise ValueError(f"training.max_runtime must be 1 s to 28 days, got {runtime:g} s")
    if training.max_wait is not None and not runtime < training.max_wait.to_seconds() <= MAX_JOB_SECONDS:
        raise ValueError(
            f"training.max_wait must exceed max_runtime ({runtime:g} s) and be at most 28 days, "
            f"got {training.max_wait.to_seconds():g} s"
        )
    if not 1 <= training.instance_count <= 100:
        raise ValueError(f"training.instance_count must be 1-100, got {training.instance_count}")
    if not 1 <= training.volume_size_gb <= 16384:
        raise ValueError(f"training.volume_size_gb must be 1-16384, got {training.volume_size_gb}")
    if training.input_mode not in {"File", "FastFile"}:
        raise ValueError(f"training.input_mode must be File or FastFile, got {training.input_mode!r}")
    for name, value in training.hyperparameters.items():
        if not isinstance(value, str):
            raise ValueError(f"training.hyperparameters[{name!r}] must be a string (SageMaker passes strings)")


def _check_transform(transform: TransformJobOptions) -> None:
    if not 1 <= transform.max_payload_mb <= MAX_TRANSFORM_PAYLOAD_MB:
        raise ValueError(
            f"transform.max_payload_mb must be 1-{MAX_TRANSFORM_PAYLOAD_MB}, got {transform.max_payload_mb}"
        )
    if transform.max_concurrent_transforms < 1:
        raise ValueError(
            f"transform.max_concurrent_transforms must be at least 1, got {transform.max_concurrent_transforms}"
        )
    if transform.max_payload_mb * transform.max_concurrent_transforms > MAX_TRANSFORM_PAYLOAD_MB:
        raise ValueError(
            "transform.max_concurrent_transforms x max_payload_mb must not exceed "
            f"{MAX_TRANSFORM_PAYLOAD_MB} MB, got {transform.max_concurrent_transforms} x {transform.max_payload_mb}"
        )
    if transform.instance_count < 1:
        raise ValueError(f"transform.instance_count must be at least 1, got {transform.instance_count}")


def metric_definitions_from_json(text: str) -> list[dict[str, str]]:
    """Parse a MetricDefinitions JSON document (the container's metric_definitions.json)."""
    parsed = json.loads(text)
    if not isinstance(parsed, list) or not all(isinstance(d, dict) for d in parsed):
        raise ValueError('metric definitions must be a JSON list of {"Name": ..., "Regex": ...} objects')
    _check_metric_definitions(parsed)
    return parsed
