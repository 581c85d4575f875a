"""CreateModel → Score: the pipeline's batch transform, with the model the run trained or an approved version.

Where versions await a person's approval (staging, prod), a run's new model is a candidate: the environment's
scores come from the version it serves (`TransformJobOptions.model_package_arn`, its approved pin), as its
endpoint's predictions do; the candidate is scored once approved and pinned. Dev scores with what it trained.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from sagemaker_constructs.training_pipeline import states
from sagemaker_constructs.training_pipeline.options import TransformJobOptions

TRAINED_MODEL = "$.training.ModelArtifacts.S3ModelArtifacts"


def scoring_states(
    scope: Construct,
    transform: TransformJobOptions,
    *,
    image_uri: str,
    role: iam.IRole,
    partition: str,
    key_arn: str,
    data_bucket: str,
    artifacts_bucket: str,
) -> tuple[tasks.SageMakerCreateModel, sfn.CustomState]:
    """CreateModel (named after the run) and Score, the transform job of that model."""
    if transform.model_package_arn is None:
        container = tasks.ContainerDefinition(
            image=tasks.DockerImage.from_registry(image_uri),
            model_s3_location=tasks.S3Location.from_json_expression(TRAINED_MODEL),
        )
    else:
        # The version names its image and artifact (CreateModel's ModelPackageName), as the endpoint's Model does.
        container = tasks.ContainerDefinition(model_package_name=transform.model_package_arn)
    create_model = tasks.SageMakerCreateModel(
        scope,
        "CreateModel",
        model_name=sfn.JsonPath.string_at("$.job_name"),
        primary_container=container,
        # Immutable: S3Location would grant the role s3:GetObject and s3:ListBucket on '*'; the
        # execution role already reads the artifacts bucket, and nothing else.
        role=role,
        # The container needs no network: SageMaker brings the model and the batches to it.
        enable_network_isolation=True,
        tags=sfn.TaskInput.from_json_path_at("$.tags"),
        result_selector={"ModelArn.$": "$.ModelArn"},
        result_path="$.model",
    )
    state_json = states.transform_job(
        transform, partition=partition, key_arn=key_arn, data_bucket=data_bucket, artifacts_bucket=artifacts_bucket
    )
    return create_model, sfn.CustomState(scope, "Score", state_json=state_json)


def report(transform: TransformJobOptions) -> dict[str, Any]:
    """What Report says of the scoring: the model, the job, where the scores are, and which model scored."""
    scored_with = (
        {"scored_with.$": TRAINED_MODEL}
        if transform.model_package_arn is None
        else {"scored_with": transform.model_package_arn}
    )
    return {
        "model_name.$": "$.job_name",
        "transform_job.$": "$.job_name",
        "scores.$": "$.scores.TransformOutput.S3OutputPath",
        **scored_with,
    }
