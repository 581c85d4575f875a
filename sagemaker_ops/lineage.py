"""A model package version's lineage: its approval and what produced it, as `status` and `promote` show it.

The training pipeline records it with every version it registers
(`sagemaker_constructs/training_pipeline/registration.py`, keys from `config.contract`). The metrics are read from
the one place they are recorded: the version's model quality statistics, the training job's final metrics as a
JSON document in S3 (ModelMetrics.ModelQuality.Statistics.S3Uri).
"""

from __future__ import annotations

import json
from typing import Any

from config.contract import (
    LINEAGE_COMMIT,
    LINEAGE_DATA,
    LINEAGE_EXECUTION,
    LINEAGE_TRAINING_JOB,
    PENDING_APPROVAL,
    PROMOTED_FROM,
    REGISTRY_METADATA_KEYS,
)
from sagemaker_ops.deployment import Deployment


def metrics_document(described: dict[str, Any]) -> str | None:
    """The S3 URI of the version's model quality statistics (the final metrics), if it has them."""
    statistics = ((described.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics") or {}
    uri = statistics.get("S3Uri")
    return str(uri) if uri else None


def final_metrics(s3: Any, uri: str | None) -> dict[str, float]:
    """The metrics of a FinalMetricDataList document (`[{"MetricName": ..., "Value": ...}, ...]`) at `uri`."""
    if uri is None:
        return {}
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return {str(metric["MetricName"]): float(metric["Value"]) for metric in document}


def decision(described: dict[str, Any]) -> dict[str, Any]:
    """What a DescribeModelPackage answer says about the version's approval: which, why, by whom and when."""
    # A version registered Approved (dev's auto_approve) was decided when it was created.
    modified_by = described.get("LastModifiedBy") or described.get("CreatedBy") or {}
    approver = (modified_by.get("IamIdentity") or {}).get("Arn") or modified_by.get("UserProfileName")
    decided = described.get("ModelApprovalStatus") != PENDING_APPROVAL
    return {
        "version": f"{described.get('ModelPackageGroupName')}/{described.get('ModelPackageVersion')}",
        "approval": described.get("ModelApprovalStatus"),
        "approval_description": described.get("ApprovalDescription"),
        "decided_by": approver if decided else None,
        "decided_at": _iso(described.get("LastModifiedTime") or described.get("CreationTime")) if decided else None,
    }


def lineage(described: dict[str, Any], s3: Any) -> dict[str, Any]:
    """What a DescribeModelPackage answer says about the version: its decision, training job, data, metrics (read
    with the S3 client `s3` from the version's statistics document)."""
    metadata = dict(described.get("CustomerMetadataProperties") or {})
    containers = (described.get("InferenceSpecification") or {}).get("Containers") or [{}]
    return {
        **decision(described),
        "training_job": metadata.get(LINEAGE_TRAINING_JOB),
        "data": metadata.get(LINEAGE_DATA),
        "commit": metadata.get(LINEAGE_COMMIT),
        "execution": metadata.get(LINEAGE_EXECUTION),
        "promoted_from": metadata.get(PROMOTED_FROM),
        "metrics": final_metrics(s3, metrics_document(described)),
        "metrics_document": metrics_document(described),
        "hyperparameters": {key: value for key, value in metadata.items() if key not in REGISTRY_METADATA_KEYS},
        "image": containers[0].get("Image"),
        "model_artifact": containers[0].get("ModelDataUrl"),
    }


def served_lineage(deployment: Deployment) -> dict[str, Any] | None:
    """The lineage of the version the endpoint's model was created from; None for a model of an artifact pin."""
    sagemaker = deployment.client("sagemaker")
    model = sagemaker.describe_model(ModelName=deployment.model_name)
    container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
    arn = container.get("ModelPackageName")
    if not arn:
        return None
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    return {"package": described["ModelPackageArn"], **lineage(described, deployment.client("s3"))}


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else (str(value) if value else None)
