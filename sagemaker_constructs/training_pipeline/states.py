"""The pipeline's state JSON as pure functions: from the options and names to Step Functions parameters.

Nothing here creates a construct; `construct.py` wraps these documents in states. Every key of the
execution's input document comes from `config.contract` (sagemaker_ops writes the same keys).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import aws_stepfunctions as sfn

from config.contract import (
    ASYNC_PREFIX,
    CONTAINER,
    DEFAULT_COMMIT,
    DEFAULT_OUTPUT_PREFIX,
    INPUT_COMMIT,
    INPUT_DATA_PREFIX,
    INPUT_HYPERPARAMETERS,
    INPUT_INSTANCE_COUNT,
    INPUT_INSTANCE_TYPE,
    INPUT_OUTPUT_PREFIX,
    INPUT_SCORE_PREFIX,
    INPUT_TRANSFORM_INSTANCE_COUNT,
    INPUT_TRANSFORM_INSTANCE_TYPE,
)
from sagemaker_constructs.state_machines import task_state
from sagemaker_constructs.training_pipeline.options import TrainingJobOptions, TransformJobOptions

# Where the container finds checkpoints; SageMaker syncs it with CheckpointConfig.S3Uri.
CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"
INVALID_INPUT_CAUSE = (
    f"The input needs {INPUT_DATA_PREFIX!r}: a key prefix in the data bucket with train/ and "
    "validation/ under it. Prefixes are strings without a leading or trailing '/'. "
    f"{INPUT_OUTPUT_PREFIX!r} must not lie under {ASYNC_PREFIX}, where asynchronous inference's objects expire."
)


def defaults(training: TrainingJobOptions, transform: TransformJobOptions) -> dict[str, Any]:
    """ApplyDefaults: the configuration's values, which the execution's input overrides."""
    return {
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
    }


def merge_input(training: TrainingJobOptions) -> dict[str, Any]:
    """MergeInput: the input over the defaults; the score prefix derived from the data prefix."""
    return {
        "args.$": "States.JsonMerge($.defaults, $.input, false)",
        "derived": {INPUT_SCORE_PREFIX + ".$": f"States.Format('{{}}/score', $.input.{INPUT_DATA_PREFIX})"},
        "default_hyperparameters": dict(sorted(training.hyperparameters.items())),
    }


def prepare(name_prefix: str, tags: Mapping[str, str]) -> dict[str, Any]:
    """Prepare: the hyperparameters, the jobs' name and tags."""
    return {
        "args.$": "States.JsonMerge($.derived, $.args, false)",
        "hyperparameters.$": f"States.JsonMerge($.default_hyperparameters, $.args.{INPUT_HYPERPARAMETERS}, false)",
        "job_name.$": f"States.Format('{name_prefix}-{{}}', $$.Execution.Name)",
        "tags": job_tags(tags),
    }


def job_tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """The tags of every job and model: `tags`, then the commit (from the input) and the execution."""
    fixed = [{"Key": key, "Value": value} for key, value in sorted(tags.items())]
    return [
        *fixed,
        {"Key": "Commit", "Value.$": f"$.args.{INPUT_COMMIT}"},
        {"Key": "PipelineExecution", "Value.$": "$$.Execution.Name"},
    ]


def report(name_prefix: str, tags: Mapping[str, str], artifacts_bucket: str) -> dict[str, Any]:
    """Report: what the execution produced (the notification and the execution's output)."""
    return {
        "environment_prefix": name_prefix,
        **({"environment": tags["Environment"]} if "Environment" in tags else {}),
        "execution.$": "$$.Execution.Id",
        "commit.$": f"$.args.{INPUT_COMMIT}",
        "training_job.$": "$.training.TrainingJobName",
        "model_artifact.$": "$.training.ModelArtifacts.S3ModelArtifacts",
        "artifacts_bucket": artifacts_bucket,
        "hyperparameters.$": "$.hyperparameters",
    }


def valid_input() -> sfn.Condition:
    """`data_prefix` is a string; each prefix given has no leading or trailing '/'; `output_prefix` is not under
    ASYNC_PREFIX."""

    def prefix_ok(name: str) -> sfn.Condition:
        path = f"$.input.{name}"
        return sfn.Condition.and_(
            sfn.Condition.is_string(path),
            sfn.Condition.not_(sfn.Condition.string_matches(path, "/*")),
            sfn.Condition.not_(sfn.Condition.string_matches(path, "*/")),
        )

    output = f"$.input.{INPUT_OUTPUT_PREFIX}"
    # The models and scores written under output_prefix must not be where asynchronous inference's objects expire.
    kept = sfn.Condition.and_(
        prefix_ok(INPUT_OUTPUT_PREFIX),
        sfn.Condition.not_(sfn.Condition.string_equals(output, ASYNC_PREFIX.rstrip("/"))),
        sfn.Condition.not_(sfn.Condition.string_matches(output, f"{ASYNC_PREFIX}*")),
    )
    optional = [
        sfn.Condition.or_(sfn.Condition.is_not_present(f"$.input.{INPUT_SCORE_PREFIX}"), prefix_ok(INPUT_SCORE_PREFIX)),
        sfn.Condition.or_(sfn.Condition.is_not_present(output), kept),
    ]
    return sfn.Condition.and_(
        sfn.Condition.is_present(f"$.input.{INPUT_DATA_PREFIX}"), prefix_ok(INPUT_DATA_PREFIX), *optional
    )


def channel(name: str, bucket: str, distribution: str) -> dict[str, Any]:
    """An input channel: CSV files under s3://<bucket>/<data_prefix>/<name>/."""
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


def training_job(
    training: TrainingJobOptions,
    *,
    partition: str,
    image_uri: str,
    role_arn: str,
    key_arn: str,
    data_bucket: str,
    artifacts_bucket: str,
    metric_definitions: Sequence[Mapping[str, str]],
) -> dict[str, Any]:
    """Train: CreateTrainingJob (.sync), with managed spot training and checkpoints when `max_wait` is set."""
    stopping: dict[str, int] = {"MaxRuntimeInSeconds": int(training.max_runtime.to_seconds())}
    spot: dict[str, Any] = {}
    if training.max_wait is not None:
        stopping["MaxWaitTimeInSeconds"] = int(training.max_wait.to_seconds())
        spot = {
            "EnableManagedSpotTraining": True,
            # Per job: SageMaker restarts an interrupted job from here, the container resumes.
            "CheckpointConfig": {
                "S3Uri.$": f"States.Format('s3://{artifacts_bucket}/checkpoints/{{}}/', $.job_name)",
                "LocalPath": CHECKPOINT_LOCAL_PATH,
            },
        }
    parameters: dict[str, Any] = {
        "TrainingJobName.$": "$.job_name",
        "RoleArn": role_arn,
        "AlgorithmSpecification": {
            "TrainingImage": image_uri,
            "TrainingInputMode": training.input_mode,
            "MetricDefinitions": [dict(d) for d in metric_definitions],
            "EnableSageMakerMetricsTimeSeries": True,
        },
        "HyperParameters.$": "$.hyperparameters",
        "InputDataConfig": [
            channel("train", data_bucket, training.train_data_distribution),
            channel("validation", data_bucket, "FullyReplicated"),
        ],
        "OutputDataConfig": {
            "S3OutputPath.$": f"States.Format('s3://{artifacts_bucket}/{{}}/models/', $.args.{INPUT_OUTPUT_PREFIX})",
            "KmsKeyId": key_arn,
        },
        "ResourceConfig": {
            "InstanceType.$": f"$.args.{INPUT_INSTANCE_TYPE}",
            "InstanceCount.$": f"$.args.{INPUT_INSTANCE_COUNT}",
            "VolumeSizeInGB": training.volume_size_gb,
            "VolumeKmsKeyId": key_arn,
        },
        "StoppingCondition": stopping,
        # Encrypts traffic between instances of a distributed job; nothing to encrypt on one instance,
        # so always on: an execution may ask for several instances.
        "EnableInterContainerTrafficEncryption": True,
        "Tags.$": "$.tags",
        **spot,
        **_isolation(training),
    }
    return task_state(
        partition,
        "sagemaker:createTrainingJob.sync",
        parameters,
        result_path="$.training",
        comment="CreateTrainingJob (.sync): CDK's SageMakerCreateTrainingJob has no spot or checkpoints",
    )


def _isolation(training: TrainingJobOptions) -> dict[str, Any]:
    """EnableNetworkIsolation and VpcConfig, when the options ask for them."""
    placement: dict[str, Any] = {"EnableNetworkIsolation": True} if training.network_isolation else {}
    if training.vpc_subnet_ids:
        placement["VpcConfig"] = {
            "Subnets": list(training.vpc_subnet_ids),
            "SecurityGroupIds": list(training.vpc_security_group_ids),
        }
    return placement


def transform_job(
    transform: TransformJobOptions, *, partition: str, key_arn: str, data_bucket: str, artifacts_bucket: str
) -> dict[str, Any]:
    """Score: CreateTransformJob (.sync), each output line the input line joined with its prediction."""
    timeout = int(transform.invocation_timeout.to_seconds())
    parameters = {
        "TransformJobName.$": "$.job_name",
        "ModelName.$": "$.job_name",
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": transform.max_payload_mb,
        "MaxConcurrentTransforms": transform.max_concurrent_transforms,
        # What the container answers in /execution-parameters, from the same numbers.
        "Environment": {
            CONTAINER.environment.max_payload_mb: str(transform.max_payload_mb),
            CONTAINER.environment.server_workers: str(transform.max_concurrent_transforms),
            CONTAINER.environment.server_timeout: str(timeout),
        },
        "ModelClientConfig": {"InvocationsTimeoutInSeconds": timeout, "InvocationsMaxRetries": 1},
        "TransformInput": {
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri.$": f"States.Format('s3://{data_bucket}/{{}}/', $.args.{INPUT_SCORE_PREFIX})",
                }
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
            "CompressionType": "None",
        },
        "TransformOutput": {
            "S3OutputPath.$": (
                f"States.Format('s3://{artifacts_bucket}/{{}}/scores/{{}}/', $.args.{INPUT_OUTPUT_PREFIX}, $.job_name)"
            ),
            "Accept": "text/csv",
            "AssembleWith": "Line",
            "KmsKeyId": key_arn,
        },
        "TransformResources": {
            "InstanceType.$": f"$.args.{INPUT_TRANSFORM_INSTANCE_TYPE}",
            "InstanceCount.$": f"$.args.{INPUT_TRANSFORM_INSTANCE_COUNT}",
            "VolumeKmsKeyId": key_arn,
        },
        # Each output line is the input line followed by its prediction.
        "DataProcessing": {"InputFilter": "$", "JoinSource": "Input", "OutputFilter": "$"},
        "Tags.$": "$.tags",
    }
    return task_state(
        partition,
        "sagemaker:createTransformJob.sync",
        parameters,
        result_path="$.scores",
        result_selector={"TransformOutput.$": "$.TransformOutput"},
        comment="CreateTransformJob (.sync): CDK's SageMakerCreateTransformJob has no DataProcessing",
    )
