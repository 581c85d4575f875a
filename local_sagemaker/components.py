"""Inference components, which moto lacks (no API, no CloudFormation type): their records, copy counts and the
scale to zero and back.

The SageMaker calls CreateInferenceComponent, Describe-, Update-, UpdateInferenceComponentRuntimeConfig, Delete-
and ListInferenceComponents are answered here, in SageMaker's shapes. A component's copies are what
`CopyCount` says; nothing scales by itself: setting `CopyCount` to 0 (what target tracking does after an idle
period in AWS) is the explicit, deterministic scale-in. A request while no copy runs is refused as AWS refuses it
(ValidationError, NoCapacityInvocationFailures), and, when the template wired the scale out from zero (a step
policy on the component's scalable target run by an alarm on NoCapacityInvocationFailures), the refusal starts
one copy at once, as that alarm would a minute later: the next request gets the cold start of its model server.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from moto.core.responses import ActionResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.responses import SageMakerResponse

from local_sagemaker.server import ACCOUNT, REGION

COPY_COUNT_DIMENSION = "sagemaker:inference-component:DesiredCopyCount"
# The CreateInferenceComponent members acted on; the others are in not_emulated.NOT_EMULATED.
HANDLED_FIELDS = frozenset({"InferenceComponentName", "EndpointName", "VariantName", "Specification", "RuntimeConfig"})


@dataclass
class Component:
    name: str
    endpoint: str
    variant: str
    specification: dict[str, Any]
    copies: int
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    modified: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def model_name(self) -> str:
        return str(self.specification.get("ModelName", ""))

    def describe(self, account: str, region: str) -> dict[str, Any]:
        return {
            "InferenceComponentName": self.name,
            "InferenceComponentArn": f"arn:aws:sagemaker:{region}:{account}:inference-component/{self.name}",
            "EndpointName": self.endpoint,
            "EndpointArn": f"arn:aws:sagemaker:{region}:{account}:endpoint/{self.endpoint}",
            "VariantName": self.variant,
            "Specification": self.specification,
            "RuntimeConfig": {"DesiredCopyCount": self.copies, "CurrentCopyCount": self.copies},
            "InferenceComponentStatus": "InService",
            "CreationTime": self.created.isoformat(),
            "LastModifiedTime": self.modified.isoformat(),
        }


class Components:
    """Every inference component of the emulated account and region."""

    def __init__(self) -> None:
        self._by_name: dict[str, Component] = {}
        self._lock = threading.Lock()

    def create(self, request: dict[str, Any], endpoint_exists: bool) -> Component:
        name = str(request.get("InferenceComponentName", ""))
        with self._lock:
            if name in self._by_name:
                raise ValidationError(message=f"Cannot create already existing inference component {name!r}.")
            if not endpoint_exists:
                raise ValidationError(message=f"Could not find endpoint {request.get('EndpointName')!r}.")
            if not request.get("Specification", {}).get("ModelName"):
                raise ValidationError(message="Specification.ModelName is required (the emulator serves models only).")
            component = Component(
                name,
                str(request["EndpointName"]),
                str(request.get("VariantName", "")),
                dict(request["Specification"]),
                int(request.get("RuntimeConfig", {}).get("CopyCount", 0)),
            )
            self._by_name[name] = component
            return component

    def get(self, name: str) -> Component:
        with self._lock:
            component = self._by_name.get(name)
        if component is None:
            raise ValidationError(message=f"Inference component {name!r} does not exist.")
        return component

    def update(self, name: str, specification: dict[str, Any] | None, copies: int | None) -> Component:
        component = self.get(name)
        with self._lock:
            if specification is not None:  # UpdateInferenceComponent replaces the whole specification
                component.specification = dict(specification)
            if copies is not None:
                if copies < 0:
                    raise ValidationError(message=f"CopyCount must be at least 0, got {copies}.")
                component.copies = copies
            component.modified = datetime.now(UTC)
        return component

    def delete(self, name: str) -> Component:
        component = self.get(name)
        with self._lock:
            del self._by_name[name]
        return component

    def all(self) -> list[Component]:
        with self._lock:
            return sorted(self._by_name.values(), key=lambda c: c.name)

    def of_endpoint(self, endpoint: str) -> list[Component]:
        return [c for c in self.all() if c.endpoint == endpoint]


def extend_application_auto_scaling() -> None:
    """moto's Application Auto Scaling checks dimensions against an enum without inference components'."""
    from moto.applicationautoscaling import models, responses  # noqa: PLC0415

    values = {member.name: member.value for member in models.ScalableDimensionValueSet}
    if COPY_COUNT_DIMENSION in values.values():
        return
    values["SAGEMAKER_INFERENCE_COMPONENT_DESIRED_COPY_COUNT"] = COPY_COUNT_DIMENSION
    extended = Enum("ScalableDimensionValueSet", values)  # type: ignore[misc]
    models.ScalableDimensionValueSet = extended  # type: ignore[misc,assignment]
    responses.ScalableDimensionValueSet = extended  # type: ignore[attr-defined,assignment]


def allow_variants_without_a_model() -> None:
    """A variant that hosts inference components names no model (moto required one of every variant)."""
    from moto.sagemaker.models import SageMakerModelBackend  # noqa: PLC0415

    validate = SageMakerModelBackend.validate_production_variants

    def validate_named(self: Any, production_variants: list[dict[str, Any]]) -> None:
        validate(self, [v for v in production_variants if v.get("ModelName")])

    SageMakerModelBackend.validate_production_variants = validate_named  # type: ignore[method-assign]


def install(store: Components, release: Callable[[str, str], None] = lambda endpoint, component: None) -> None:
    """Answer the inference component API from `store` in this process's moto; `release(endpoint, component)`
    stops what serves a component scaled to zero copies or deleted. Also lets moto take what hosting them needs."""
    extend_application_auto_scaling()
    allow_variants_without_a_model()

    def request_of(response: Any) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(response.body or b"{}")
        return loaded

    def arn_of(component: Component) -> ActionResult:
        return ActionResult({"InferenceComponentArn": component.describe(ACCOUNT, REGION)["InferenceComponentArn"]})

    def create(response: Any) -> Any:
        request = request_of(response)
        try:
            response.sagemaker_backend.describe_endpoint(request.get("EndpointName", ""))
            exists = True
        except ValidationError:
            exists = False
        return arn_of(store.create(request, exists))

    def update(response: Any) -> Any:
        request = request_of(response)
        copies = request.get("RuntimeConfig", {}).get("CopyCount")
        return arn_of(store.update(request["InferenceComponentName"], request.get("Specification"), copies))

    def update_runtime_config(response: Any) -> Any:
        request = request_of(response)
        copies = int(request["DesiredRuntimeConfig"]["CopyCount"])
        component = store.update(request["InferenceComponentName"], None, copies)
        if copies == 0:
            release(component.endpoint, component.name)
        return arn_of(component)

    def delete(response: Any) -> Any:
        component = store.delete(request_of(response)["InferenceComponentName"])
        release(component.endpoint, component.name)
        return ActionResult({})

    def describe(response: Any) -> Any:
        return ActionResult(store.get(request_of(response)["InferenceComponentName"]).describe(ACCOUNT, REGION))

    def list_all(response: Any) -> Any:
        endpoint = request_of(response).get("EndpointNameEquals")
        found = [c.describe(ACCOUNT, REGION) for c in store.all() if endpoint in (None, c.endpoint)]
        return ActionResult({"InferenceComponents": found})

    handlers = {
        "create_inference_component": create,
        "describe_inference_component": describe,
        "update_inference_component": update,
        "update_inference_component_runtime_config": update_runtime_config,
        "delete_inference_component": delete,
        "list_inference_components": list_all,
    }
    for name, handler in handlers.items():
        setattr(SageMakerResponse, name, handler)
