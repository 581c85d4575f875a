"""Registering a model that passed the quality gate as a version of the environment's model package group.

Step Functions has no optimised integration for CreateModelPackage: Register is an AWS SDK integration
(https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html), whose role needs
`sagemaker:CreateModelPackage` itself. What the version records (the lineage `sagemaker_ops status` shows):

- `InferenceSpecification`: the image and the trained artifact, which a Model created from the version serves;
- `MetadataProperties`: `GeneratedBy` the training job's ARN, `CommitId` the execution's commit;
- `CustomerMetadataProperties`: the hyperparameters the job trained with (as DescribeTrainingJob gives them),
  and, under `pipeline/...` keys no hyperparameter name can take (they hold no '/'), the training job, the
  data it trained on, the commit and the execution;
- `ModelMetrics.ModelQuality.Statistics`: the training job's final metrics (its FinalMetricDataList as JSON),
  which WriteMetrics puts next to the model first (`<output_prefix>/models/<job>/output/metrics.json`, with the
  environment's key): the API takes model metrics as an S3 document only (botocore's MetricsSource: ContentType
  and S3Uri). That document is the one record of the metrics; `sagemaker_ops` reads it back as the lineage;
- `SecurityConfig.KmsKeyId`: the environment's key encrypts the version's information
  (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ModelPackageSecurityConfig.html);
- `ModelApprovalStatus`: PendingManualApproval, or Approved where the environment approves automatically (dev).

The metadata map holds at most 50 entries of limited keys and values (botocore's CustomerMetadataMap): the
configuration and `sagemaker_ops train -p` refuse hyperparameters that break it (`config.registry_metadata`).
"""

from __future__ import annotations

from typing import Any

from config.contract import (
    APPROVED,
    INPUT_COMMIT,
    INPUT_DATA_PREFIX,
    INPUT_OUTPUT_PREFIX,
    LINEAGE_COMMIT,
    LINEAGE_DATA,
    LINEAGE_EXECUTION,
    LINEAGE_TRAINING_JOB,
    PENDING_APPROVAL,
)
from sagemaker_constructs.state_machines import task_state

# The final metrics' document, next to the model the job wrote (`<output_prefix>/models/<job>/output/`).
METRICS_DOCUMENT = "metrics.json"
METRICS_CONTENT_TYPE = "application/json"


def job_output_pattern(name_prefix: str, name: str = "*") -> str:
    """The keys of this environment's training jobs' outputs (any output prefix): the model, the metrics' document."""
    return f"*/models/{name_prefix}-*/output/{name}"


def metrics_key_pattern(name_prefix: str) -> str:
    """The keys WriteMetrics may write, for the state machine's policy: any output prefix, this environment's jobs."""
    return job_output_pattern(name_prefix, METRICS_DOCUMENT)


def lineage(data_bucket: str) -> dict[str, Any]:
    """Lineage: the metadata the version records besides the hyperparameters, and where its metrics go."""
    return {
        "metadata": {
            f"{LINEAGE_TRAINING_JOB}.$": "$.training.TrainingJobName",
            f"{LINEAGE_DATA}.$": f"States.Format('s3://{data_bucket}/{{}}/', $.args.{INPUT_DATA_PREFIX})",
            f"{LINEAGE_COMMIT}.$": f"$.args.{INPUT_COMMIT}",
            f"{LINEAGE_EXECUTION}.$": "$$.Execution.Name",
        },
        # The job's own output folder: S3OutputPath (states.training_job) + <job>/output/.
        "metrics_key.$": (
            f"States.Format('{{}}/models/{{}}/output/{METRICS_DOCUMENT}', $.args.{INPUT_OUTPUT_PREFIX}, "
            "$.training.TrainingJobName)"
        ),
    }


def write_metrics(*, partition: str, artifacts_bucket: str, key_arn: str) -> dict[str, Any]:
    """WriteMetrics: PutObject (SDK integration) of the job's FinalMetricDataList, encrypted with the key."""
    return task_state(
        partition,
        "aws-sdk:s3:putObject",
        {
            "Bucket": artifacts_bucket,
            "Key.$": "$.lineage.metrics_key",
            "Body.$": "States.JsonToString($.training.FinalMetricDataList)",
            "ContentType": METRICS_CONTENT_TYPE,
            "ServerSideEncryption": "aws:kms",
            "SSEKMSKeyId": key_arn,
        },
        result_path="$.metrics_document",
        # A CustomState cannot discard a result (CDK drops a null ResultPath): keep the small part that says which.
        result_selector={"ETag.$": "$.ETag"},
        comment="The final metrics as the version's model quality statistics (an S3 document is what the API takes)",
    )


def approval_status(auto_approve: bool) -> str:
    """The status Register gives every version, and the only one the pipeline's role may register with."""
    return APPROVED if auto_approve else PENDING_APPROVAL


def register(
    *, partition: str, group_name: str, image_uri: str, key_arn: str, approval_status: str, artifacts_bucket: str
) -> dict[str, Any]:
    """Register: CreateModelPackage in `group_name` (SDK integration), its ARN into `$.package`."""
    parameters = {
        "ModelPackageGroupName": group_name,
        "ModelPackageDescription.$": (
            f"States.Format('Training job {{}}, commit {{}}', $.training.TrainingJobName, $.args.{INPUT_COMMIT})"
        ),
        "InferenceSpecification": {
            "Containers": [{"Image": image_uri, "ModelDataUrl.$": "$.training.ModelArtifacts.S3ModelArtifacts"}],
            # What the pipeline's transform and the endpoint send and accept.
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        "ModelApprovalStatus": approval_status,
        "MetadataProperties": {"GeneratedBy.$": "$.training.TrainingJobArn", "CommitId.$": f"$.args.{INPUT_COMMIT}"},
        # The lineage last: a hyperparameter can never overwrite it.
        "CustomerMetadataProperties.$": "States.JsonMerge($.training.HyperParameters, $.lineage.metadata, false)",
        "ModelMetrics": {
            "ModelQuality": {
                "Statistics": {
                    "ContentType": METRICS_CONTENT_TYPE,
                    "S3Uri.$": f"States.Format('s3://{artifacts_bucket}/{{}}', $.lineage.metrics_key)",
                }
            }
        },
        "SecurityConfig": {"KmsKeyId": key_arn},
        "Tags.$": "$.tags",
    }
    return task_state(
        partition,
        "aws-sdk:sagemaker:createModelPackage",
        parameters,
        result_path="$.package",
        result_selector={"ModelPackageArn.$": "$.ModelPackageArn"},
        comment="CreateModelPackage (AWS SDK integration: Step Functions has no optimised one)",
    )
