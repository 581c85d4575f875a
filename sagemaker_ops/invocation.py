"""Calling the deployed endpoint: asynchronously if it is, naming its inference component, if any, and waiting out
a scale-out from zero."""

from __future__ import annotations

import argparse
import json
from typing import Any

from botocore.exceptions import ClientError

from sagemaker_ops.async_invoke import invoke_async
from sagemaker_ops.deployment import Deployment
from sagemaker_ops.progress import Observation, wait

# What InvokeEndpoint answers while an inference component has no copy running (its NoCapacityInvocationFailures):
# a ValidationError, HTTP 400, until the scale-out from zero has provisioned an instance, which AWS documents takes
# several minutes (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-zero-instances.html; the
# wording: https://aws.amazon.com/blogs/machine-learning/unlock-cost-savings-with-the-new-scale-down-to-zero-feature-in-amazon-sagemaker-inference/).
# AWS's whole message; the local SageMaker answers with it (local_sagemaker.endpoints).
NO_CAPACITY_REFUSAL = (
    "Inference Component has no capacity to process this request. ApplicationAutoScaling may be in-progress "
    "(if configured) or try to increase the capacity by invoking UpdateInferenceComponentRuntimeConfig API."
)
# Recognized by its first sentence only, which says what happened; the advice after it may be reworded.
NO_CAPACITY_MESSAGE = NO_CAPACITY_REFUSAL.split(". ", 1)[0]


def no_capacity(error: ClientError) -> bool:
    """Whether `error` is InvokeEndpoint's refusal for want of a running copy (retrying it starts one)."""
    answer = error.response.get("Error", {})
    return answer.get("Code") in {"ValidationError", "ValidationException"} and NO_CAPACITY_MESSAGE in str(
        answer.get("Message", "")
    )


def call_endpoint(
    deployment: Deployment, args: argparse.Namespace, body: bytes, content_type: str
) -> tuple[Any, dict[str, str]]:
    """The endpoint's answer and, asynchronously, where the request and its result are (else no locations).

    The environment's configuration says how to ask. An asynchronous endpoint answers InvokeEndpointAsync only,
    waited for up to --timeout (an instance may have to start: minutes) checking every --poll-seconds
    (AsyncFailedError if it failed). An inference component is named in the request, which is retried while it
    has no copy running, every --poll-seconds for at most --capacity-wait seconds (then WaitTimeoutError).
    """
    asynchronous = deployment.settings.endpoint.asynchronous
    if asynchronous is not None:
        answer = invoke_async(
            deployment,
            body,
            content_type,
            invocation_timeout=asynchronous.invocation_timeout_seconds,
            timeout=args.timeout,
            interval=args.poll_seconds,
        )
        return _parsed(answer.body), answer.locations()
    component = deployment.inference_component_name
    request: dict[str, Any] = {
        "EndpointName": deployment.endpoint_name,
        "Body": body,
        "ContentType": content_type,
        "Accept": content_type,
    }
    runtime = deployment.client("sagemaker-runtime")
    answers: list[dict[str, Any]] = []
    if component is None:
        answers.append(runtime.invoke_endpoint(**request))
    else:
        request["InferenceComponentName"] = component

        def observe() -> Observation:
            try:
                answers.append(runtime.invoke_endpoint(**request))
            except ClientError as error:
                if not no_capacity(error):
                    raise
                return Observation("NoCapacity", "no copy running: an instance is being provisioned", done=False)
            return Observation("answered", done=True)

        wait(observe, what=f"invoke {component}", timeout=args.capacity_wait, interval=args.poll_seconds)
    return _parsed(answers[-1]["Body"].read()), {}


def _parsed(body: bytes) -> Any:
    """A response body as JSON when it is JSON, else as text."""
    text = body.decode(errors="replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
