"""Registering a model that passed the quality gate as a version of the environment's model package group.

Step Functions has no optimised integration for CreateModelPackage: Register is an AWS SDK integration
(https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html), whose role needs
`sagemaker:CreateModelPackage` itself. What the version records (the lineage `sagemaker_ops status` shows):

- `InferenceSpecification`: the image and the trained artifact, which a Model created from the version serves;
- `MetadataProperties`: `GeneratedBy` the training job's ARN, `CommitId` the execution's commit;
- `CustomerMetadataProperties`: the hyperparameters the job trained with (as DescribeTrainingJob gives them),
  and, under `pipeline/...` keys no hyperparameter name can take (they hold no '/'), the training job, the
  data it trained on, the commit, the execution and, with a quality gate, `quality_gate/<metric>`: its value;
- `SecurityConfig.KmsKeyId`: the environment's key encrypts the version's information
  (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ModelPackageSecurityConfig.html);
- `ModelApprovalStatus`: PendingManualApproval, or Approved where the environment approves automatically (dev).

The metadata map holds at most 50 entries of values in letters, digits, spaces and `_.:/=+-@`
(botocore's CustomerMetadataMap): a run whose hyperparameters break that fails at Register, notified.
"""

from __future__ import annotations

from typing import Any

from config.contract import (
    APPROVED,
    INPUT_COMMIT,
    INPUT_DATA_PREFIX,
    LINEAGE_COMMIT,
    LINEAGE_DATA,
    LINEAGE_EXECUTION,
    LINEAGE_TRAINING_JOB,
    PENDING_APPROVAL,
    QUALITY_GATE_PREFIX,
)


def lineage(data_bucket: str, gate_metric: str | None) -> dict[str, Any]:
    """Lineage: what the version records besides the hyperparameters, as CustomerMetadataProperties entries."""
    entries: dict[str, Any] = {
        f"{LINEAGE_TRAINING_JOB}.$": "$.training.TrainingJobName",
        f"{LINEAGE_DATA}.$": f"States.Format('s3://{data_bucket}/{{}}/', $.args.{INPUT_DATA_PREFIX})",
        f"{LINEAGE_COMMIT}.$": f"$.args.{INPUT_COMMIT}",
        f"{LINEAGE_EXECUTION}.$": "$$.Execution.Name",
    }
    if gate_metric is not None:
        # The gate read the value into $.evaluation; a metadata value is a string.
        entries[f"{QUALITY_GATE_PREFIX}{gate_metric}.$"] = "States.Format('{}', $.evaluation.values[0])"
    return entries


def register(*, partition: str, group_name: str, image_uri: str, key_arn: str, auto_approve: bool) -> dict[str, Any]:
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
        "ModelApprovalStatus": APPROVED if auto_approve else PENDING_APPROVAL,
        "MetadataProperties": {"GeneratedBy.$": "$.training.TrainingJobArn", "CommitId.$": f"$.args.{INPUT_COMMIT}"},
        # The lineage last: a hyperparameter can never overwrite it.
        "CustomerMetadataProperties.$": "States.JsonMerge($.training.HyperParameters, $.lineage, false)",
        "SecurityConfig": {"KmsKeyId": key_arn},
        "Tags.$": "$.tags",
    }
    # A Task state in Step Functions' own JSON, alike in shape to states.py's Score (duplicates pairs them).
    return {
        "Type": "Task",
        "Comment": "CreateModelPackage (AWS SDK integration: Step Functions has no optimised one)",
        "Resource": f"arn:{partition}:states:::aws-sdk:sagemaker:createModelPackage",
        "Parameters": parameters,
        "ResultSelector": {"ModelPackageArn.$": "$.ModelPackageArn"},
        "ResultPath": "$.package",
    }
