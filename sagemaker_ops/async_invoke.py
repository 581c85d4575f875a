"""Asking an asynchronous endpoint: upload the body, InvokeEndpointAsync, wait for the result or the failure.

An asynchronous endpoint answers InvokeEndpointAsync only (https://docs.aws.amazon.com/sagemaker/latest/dg/
async-inference.html): the body goes to S3 first (under config.contract.ASYNC_INPUT_PREFIX of the environment's
artifacts bucket, which the endpoint's role reads), SageMaker answers at once with where the result
(`OutputLocation`) or the failure (`FailureLocation`) will be written, and the caller watches those objects. At zero
instances the first request waits for an instance to start: minutes, which `timeout` must allow.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import ClientError

from config.contract import ASYNC_INPUT_PREFIX
from sagemaker_ops.deployment import Deployment
from sagemaker_ops.progress import CheckFailedError, Observation, wait

# A request's object name ends as its content type's files do, so that a person browsing the prefix can tell them.
_EXTENSIONS = {"text/csv": "csv", "application/json": "json", "application/jsonlines": "jsonl"}


class AsyncFailedError(CheckFailedError):
    """SageMaker wrote the request's failure; the message is what it wrote (the container's one-line reason), the
    result where the request and its failure are."""


@dataclass(frozen=True)
class AsyncAnswer:
    """Where a request went and what came back."""

    inference_id: str
    input_location: str
    output_location: str
    failure_location: str | None
    body: bytes

    def locations(self) -> dict[str, str]:
        found = {
            "inference_id": self.inference_id,
            "input_location": self.input_location,
            "output_location": self.output_location,
        }
        return found | ({"failure_location": self.failure_location} if self.failure_location else {})


def invoke_async(
    deployment: Deployment, body: bytes, content_type: str, *, invocation_timeout: int, timeout: float, interval: float
) -> AsyncAnswer:
    """Submit `body` to the environment's asynchronous endpoint and wait for its result.

    `invocation_timeout` is the InvocationTimeoutSeconds sent: how long SageMaker may process the request before it
    marks it expired, the container's own deadline too (asynchronous.invocation_timeout_seconds).

    Raises AsyncFailedError with SageMaker's failure message when the request failed, WaitTimeoutError when
    neither object appeared within `timeout` seconds.
    """
    bucket = deployment.stack("Platform").output("ArtifactsBucketName")
    key = f"{ASYNC_INPUT_PREFIX}{uuid.uuid4()}.{_EXTENSIONS.get(content_type, 'bin')}"
    s3 = deployment.client("s3")
    # The bucket's default encryption (the environment's key) applies; the endpoint's role reads it back.
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    input_location = f"s3://{bucket}/{key}"
    answer = deployment.client("sagemaker-runtime").invoke_endpoint_async(
        EndpointName=deployment.endpoint_name,
        InputLocation=input_location,
        ContentType=content_type,
        Accept=content_type,
        InvocationTimeoutSeconds=invocation_timeout,
    )
    submitted = AsyncAnswer(
        answer["InferenceId"], input_location, answer["OutputLocation"], answer.get("FailureLocation"), b""
    )
    found: dict[str, bytes] = {}

    def observe() -> Observation:
        for name, location in (("result", submitted.output_location), ("failure", submitted.failure_location)):
            if location is not None and (content := _read(s3, location)) is not None:
                found[name] = content
                return Observation(name, done=True)
        return Observation("queued or running", submitted.inference_id)

    wait(observe, what=f"asynchronous request {submitted.inference_id}", timeout=timeout, interval=interval)
    if "failure" in found:
        raise AsyncFailedError(found["failure"].decode(errors="replace").strip(), submitted.locations())
    return replace(submitted, body=found["result"])


def _read(s3: Any, location: str) -> bytes | None:
    """The object at s3://bucket/key, or None while it does not exist.

    Listed first: GetObject of a missing key is a 404 only to a caller who may list the bucket without a prefix
    condition, which the GitHub deployment role may not (it may list the result prefixes only); ListObjectsV2 with
    the key as its prefix carries that prefix.
    """
    bucket, _, key = location.removeprefix("s3://").partition("/")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
    if not any(item["Key"] == key for item in listed):
        return None
    try:
        content: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NotFound"}:
            return None
        raise
    return content
