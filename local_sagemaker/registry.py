"""The model registry as the local SageMaker keeps it: moto stores groups and versions; this adds AWS's rules.

- CreateModel (the API and CloudFormation's `AWS::SageMaker::Model`) with a container's `ModelPackageName`
  refuses a version that is not Approved. This is the project's rule, not a documented AWS one: botocore's
  model says a versioned model "must be set to Approved to deploy" (CreateModelPackageInput.ModelApprovalStatus)
  but CreateModel documents no such error, so on AWS `sagemaker_ops check-pin` (run by `make deploy`) enforces
  it before the deploy. The refusal here lets the offline tests show an unapproved pin stopped.
- UpdateModelPackage keeps what the request leaves out (moto's cleared the metadata and the description).
- An endpoint or transform job of such a model serves the version's artifact (`model_data_url`).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import SageMakerModelBackend

from config.contract import APPROVED


def model_data_url(sagemaker: Any, container: Mapping[str, Any]) -> str:
    """The artifact a model's container serves: its own, or its model package version's."""
    if "ModelDataUrl" in container:
        return str(container["ModelDataUrl"])
    described = sagemaker.describe_model_package(ModelPackageName=container["ModelPackageName"])
    return str(described["InferenceSpecification"]["Containers"][0]["ModelDataUrl"])


def unapproved_problem(backend: SageMakerModelBackend, containers: list[Mapping[str, Any]]) -> str | None:
    """Why no model may be created of `containers` (a version missing or not Approved), else None."""
    for container in containers:
        name = container.get("ModelPackageName")
        if not name:
            continue
        try:
            package = backend.describe_model_package(name)
        except ValidationError:
            return f"Model package {name} does not exist."
        if package.model_approval_status != APPROVED:
            return (
                f"Model package {name} is {package.model_approval_status}: a model can be created from an "
                f"{APPROVED} model package version only."
            )
    return None


def install() -> None:
    """Patch moto's SageMaker backend (in the emulator's process)."""
    if getattr(SageMakerModelBackend, "local_sagemaker_registry", False):
        return
    create_model = SageMakerModelBackend.create_model
    update_model_package = SageMakerModelBackend.update_model_package

    signature = inspect.signature(create_model)

    def checked_create_model(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> Any:
        given = signature.bind(self, *args, **kwargs).arguments
        containers = [given.get("primary_container"), *(given.get("containers") or [])]
        problem = unapproved_problem(self, [c for c in containers if c])
        if problem:
            raise ValidationError(message=problem)
        return create_model(self, *args, **kwargs)

    def keeping_update(self: SageMakerModelBackend, model_package_arn: str, *args: Any, **kwargs: Any) -> Any:
        package = self.describe_model_package(model_package_arn)
        metadata, description = dict(package.customer_metadata_properties or {}), package.approval_description
        answer = update_model_package(self, model_package_arn, *args, **kwargs)
        package.customer_metadata_properties = {**metadata, **(package.customer_metadata_properties or {})}
        package.approval_description = package.approval_description or description
        return answer

    SageMakerModelBackend.create_model = checked_create_model  # type: ignore[method-assign]
    SageMakerModelBackend.update_model_package = keeping_update  # type: ignore[method-assign]
    SageMakerModelBackend.local_sagemaker_registry = True  # type: ignore[attr-defined]
