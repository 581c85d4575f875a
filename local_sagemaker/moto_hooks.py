"""Where the local SageMaker plugs into moto: its SageMaker, SageMaker Runtime and Step Functions handlers.

moto keeps storing what it stores (ListTrainingJobs, tags, CloudFormation resources); the Create calls
also hand the request to the local runner, and the Describe calls of the jobs it runs answer from it.
Step Functions executes definitions, and CloudFormation's state machines land where it executes them.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from moto.core.config import default_user_config
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

from config.async_inference import DEFAULT_INVOCATION_TIMEOUT_SECONDS, INVOCATION_TIMEOUT_MEMBER
from config.aws_catalog import sagemaker_range
from local_sagemaker import components, registry, stepfunctions
from local_sagemaker.endpoints import RefusedError
from local_sagemaker.runtime import LocalSageMaker
from local_sagemaker.training import RequestError

_installed: dict[str, LocalSageMaker] = {}


def local() -> LocalSageMaker:
    return _installed["local"]


def install(local_sagemaker: LocalSageMaker) -> None:
    """Patch moto in this process (the emulator's); call once, before the server starts."""
    _installed["local"] = local_sagemaker
    if getattr(SageMakerResponse, "local_sagemaker", False):
        return
    _execute_state_machines()
    _requests_count_as_tls()
    _endpoints_keep_their_names()
    stepfunctions.install()
    registry.install()
    components.install(local_sagemaker.components, local_sagemaker.endpoints.release)
    _hook(SageMakerResponse, "create_training_job", _create("training"))
    _hook(SageMakerResponse, "describe_training_job", _describe("training"))
    _hook(SageMakerResponse, "create_transform_job", _create("transform"))
    _hook(SageMakerResponse, "describe_transform_job", _describe("transform"))
    _hook(SageMakerResponse, "create_processing_job", _create("processing"))
    _hook(SageMakerResponse, "describe_processing_job", _describe("processing"))
    _hook(SageMakerResponse, "create_hyper_parameter_tuning_job", _create("tuning"))
    _hook(SageMakerResponse, "describe_hyper_parameter_tuning_job", _describe("tuning"))
    SageMakerResponse.stop_training_job = _stop("training")  # type: ignore[attr-defined]
    SageMakerResponse.stop_processing_job = _stop("processing")  # type: ignore[method-assign]
    SageMakerRuntimeResponse.invoke_endpoint = _invoke_endpoint  # type: ignore[method-assign,assignment]
    SageMakerRuntimeResponse.invoke_endpoint_async = _invoke_endpoint_async  # type: ignore[method-assign,assignment]
    SageMakerResponse.local_sagemaker = True  # type: ignore[attr-defined]


def _execute_state_machines() -> None:
    """moto's executing backend for Step Functions, also for the state machines CloudFormation creates."""
    from moto.stepfunctions import models  # noqa: PLC0415
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends  # noqa: PLC0415

    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    models.stepfunctions_backends = stepfunctions_parser_backends  # type: ignore[assignment]
    backend = type(stepfunctions_parser_backends["123456789012"]["us-east-1"])
    start_execution = backend.start_execution

    def start_named_execution(self: Any, state_machine_arn: str, name: str | None = None, *args: Any) -> Any:
        # StartExecution without a name gets a UUID, as in AWS (moto's interpreter would name it None).
        return start_execution(self, state_machine_arn, name or str(uuid.uuid4()), *args)

    backend.start_execution = start_named_execution  # type: ignore[method-assign,assignment]


def _endpoints_keep_their_names() -> None:
    """An `AWS::SageMaker::Endpoint`'s `EndpointName` names it, as in AWS (moto named it `<stack>-<id>-<suffix>`).

    What reads the endpoint's data capture (the drift check) finds it under that name.
    """
    from moto.sagemaker.models import FakeEndpoint  # noqa: PLC0415

    FakeEndpoint.cloudformation_name_type = staticmethod(lambda: "EndpointName")  # type: ignore[method-assign]


# Condition keys about the transport: the emulator speaks plain HTTP on 127.0.0.1 and stands in for TLS.
TRANSPORT_CONDITION_KEYS = frozenset({"aws:SecureTransport", "s3:TlsVersion"})


def _requests_count_as_tls() -> None:
    """Bucket policies' "deny unless TLS" statements do not apply (moto ignores conditions and would deny all)."""
    from moto.iam.access_control import IAMPolicy, PermissionResult  # noqa: PLC0415
    from moto.s3.models import FakeBucket  # noqa: PLC0415

    def get_permission(bucket: Any, action: str, resource: str) -> Any:
        if bucket.policy is None:
            return PermissionResult.NEUTRAL
        policy = json.loads(bucket.policy)
        statements = policy.get("Statement", [])
        policy["Statement"] = [
            s
            for s in (statements if isinstance(statements, list) else [statements])
            if not (s.get("Effect") == "Deny" and _transport_only(s.get("Condition")))
        ]
        return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign,assignment]


def _transport_only(condition: Any) -> bool:
    if not isinstance(condition, dict) or not condition:
        return False
    keys = {key for block in condition.values() if isinstance(block, dict) for key in block}
    return bool(keys) and keys <= TRANSPORT_CONDITION_KEYS


def _hook(cls: type, name: str, replacement: Any) -> None:
    original = getattr(cls, name)

    def method(self: Any) -> Any:
        return replacement(self, original)

    setattr(cls, name, method)


def _request(response: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(response.body or b"{}")
    return loaded


NAME_PARAMETERS = {
    "training": "TrainingJobName",
    "transform": "TransformJobName",
    "processing": "ProcessingJobName",
    "tuning": "HyperParameterTuningJobName",
}


def _create(kind: str) -> Any:
    def create(response: Any, original: Any) -> Any:
        request = _request(response)
        try:
            job = getattr(local(), f"{kind}_job")(request)
        except RequestError as error:
            raise ValidationError(message=str(error)) from None
        result = original(response)
        job.start()
        return result

    return create


def _describe(kind: str) -> Any:
    def describe(response: Any, original: Any) -> Any:
        name = _request(response).get(NAME_PARAMETERS[kind], "")
        job = local().job(kind, name)
        return ActionResult(job.describe()) if job is not None else original(response)

    return describe


def _stop(kind: str) -> Any:
    def stop(response: Any) -> Any:
        name = _request(response).get(NAME_PARAMETERS[kind], "")
        job = local().job(kind, name)
        if job is None:
            raise ValidationError(message=f"Could not find {kind} job '{name}'.")
        job.stop()
        return ActionResult({})

    return stop


def _invoke_endpoint(response: Any) -> Any:
    params = response._get_params()
    name = str(params.get("EndpointName") or response.path.split("/")[2])
    headers = {key.lower(): value for key, value in response.headers.items()}
    try:
        answer = local().invoke_endpoint(
            name,
            body=response.body if isinstance(response.body, bytes) else str(response.body).encode(),
            content_type=headers.get("content-type", "application/octet-stream"),
            accept=headers.get("accept", "*/*"),
            component=headers.get("x-amzn-sagemaker-inference-component") or None,
        )
    except RefusedError as error:  # the runtime's own error shape (botocore's sagemaker-runtime ValidationError)
        raise JsonRESTError("ValidationError", str(error)) from None
    except LookupError as error:
        raise ValidationError(message=str(error)) from None
    except RuntimeError as error:
        raise _model_error(str(error), 500) from None
    if answer.status >= 400:
        message = (
            f"Received client error ({answer.status}) from primary with message "
            f'"{answer.body.decode(errors="replace")}". See the endpoint\'s log group for more information.'
        )
        raise _model_error(message, answer.status)
    return 200, {"Content-Type": answer.content_type, "x-Amzn-Invoked-Production-Variant": answer.variant}, answer.body


def _invoke_endpoint_async(response: Any) -> Any:
    """InvokeEndpointAsync run by the local runner (moto's answers static results): 202, as SageMaker answers."""
    name = response.path.split("/")[2]
    headers = {key.lower(): value for key, value in response.headers.items()}
    input_location = headers.get("x-amzn-sagemaker-inputlocation")
    if not input_location:
        raise ValidationError(message="InputLocation is required (the S3 URI of the request's body)")
    try:
        inference_id, output, failure = local().async_invocations.submit(
            name,
            input_location,
            headers.get("x-amzn-sagemaker-content-type", "application/octet-stream"),
            headers.get("x-amzn-sagemaker-accept", "*/*"),
            headers.get("x-amzn-sagemaker-inference-id"),
            invocation_timeout=_invocation_timeout(headers.get("x-amzn-sagemaker-invocationtimeoutseconds")),
        )
    except LookupError as error:
        raise ValidationError(message=str(error)) from None
    locations = {"X-Amzn-SageMaker-OutputLocation": output}
    if failure is not None:
        locations["X-Amzn-SageMaker-FailureLocation"] = failure
    return 202, {"Content-Type": "application/json", **locations}, json.dumps({"InferenceId": inference_id})


def _invocation_timeout(given: str | None) -> int:
    """InvocationTimeoutSeconds as SageMaker Runtime takes it (AWS's default when absent); a value out of botocore's
    bounds, which only a client that skips botocore's validation can send, is refused in AWS's usual wording."""
    if given is None:
        return DEFAULT_INVOCATION_TIMEOUT_SECONDS
    low, high = sagemaker_range(*INVOCATION_TIMEOUT_MEMBER, service="sagemaker-runtime")
    constraint = f"Member must have value greater than or equal to {low} and less than or equal to {high}"
    if not given.isdigit() or not low <= int(given) <= high:
        raise ValidationError(
            message=f"1 validation error detected: Value '{given}' at 'invocationTimeoutSeconds' failed to satisfy "
            f"constraint: {constraint}"
        )
    return int(given)


def _model_error(message: str, original_status: int) -> JsonRESTError:
    error = JsonRESTError("ModelError", message)
    error.code = 424
    error.description = json.dumps({"__type": "ModelError", "message": message, "OriginalStatusCode": original_status})
    return error
