"""A model package version's lineage: its approval and what produced it, as `status` and `promote` show it.

The training pipeline records it with every version it registers
(`sagemaker_constructs/training_pipeline/registration.py`, keys from `config.contract`).
"""

from __future__ import annotations

from typing import Any

from config.contract import (
    LINEAGE_COMMIT,
    LINEAGE_DATA,
    LINEAGE_EXECUTION,
    LINEAGE_TRAINING_JOB,
    PENDING_APPROVAL,
    PROMOTED_FROM,
    QUALITY_GATE_PREFIX,
)
from sagemaker_ops.deployment import Deployment

_LINEAGE_KEYS = {LINEAGE_TRAINING_JOB, LINEAGE_DATA, LINEAGE_COMMIT, LINEAGE_EXECUTION, PROMOTED_FROM}


def lineage(described: dict[str, Any]) -> dict[str, Any]:
    """What a DescribeModelPackage answer says about the version: approval, training job, data, metrics."""
    metadata = dict(described.get("CustomerMetadataProperties") or {})
    # A version registered Approved (dev's auto_approve) was decided when it was created.
    modified_by = described.get("LastModifiedBy") or described.get("CreatedBy") or {}
    approver = (modified_by.get("IamIdentity") or {}).get("Arn") or modified_by.get("UserProfileName")
    decided = described.get("ModelApprovalStatus") != PENDING_APPROVAL
    containers = (described.get("InferenceSpecification") or {}).get("Containers") or [{}]
    return {
        "version": f"{described.get('ModelPackageGroupName')}/{described.get('ModelPackageVersion')}",
        "approval": described.get("ModelApprovalStatus"),
        "approval_description": described.get("ApprovalDescription"),
        "decided_by": approver if decided else None,
        "decided_at": _iso(described.get("LastModifiedTime") or described.get("CreationTime")) if decided else None,
        "training_job": metadata.get(LINEAGE_TRAINING_JOB),
        "data": metadata.get(LINEAGE_DATA),
        "commit": metadata.get(LINEAGE_COMMIT),
        "execution": metadata.get(LINEAGE_EXECUTION),
        "promoted_from": metadata.get(PROMOTED_FROM),
        "metrics": {
            key.removeprefix(QUALITY_GATE_PREFIX): float(value)
            for key, value in metadata.items()
            if key.startswith(QUALITY_GATE_PREFIX)
        },
        "hyperparameters": {
            key: value
            for key, value in metadata.items()
            if key not in _LINEAGE_KEYS and not key.startswith(QUALITY_GATE_PREFIX)
        },
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
    return {"package": described["ModelPackageArn"], **lineage(described)}


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else (str(value) if value else None)
