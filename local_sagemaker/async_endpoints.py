"""InvokeEndpointAsync: what moto only stubs (static results), run by the endpoint's model server.

SageMaker's flow (https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference.html): the caller uploads the
body to S3 and calls InvokeEndpointAsync with its `InputLocation`; SageMaker answers at once with the inference id
and where the result (`<S3OutputPath>/<id>.out`) or the failure (`<S3FailurePath>/<id>-error.out`) will be written,
queues the request, reads the body, sends it to the container, writes the answer, and publishes a notification to
the success or error topic (async-inference-check-predictions.html). Here each request runs on a thread of its
own against the endpoint's one model server, at once (no queue, no scaling); an endpoint config without
`AsyncInferenceConfig` refuses it, and InvokeEndpoint refuses an asynchronous endpoint (endpoints.py).

A request processed for longer than its `InvocationTimeoutSeconds` (default 900 s) fails: SageMaker "marks it as
expired" (botocore's InvokeEndpointAsyncInput; async-inference-invoke-endpoint.html). AWS documents no wording for
the failure object of an expired request, so `EXPIRED` is ours.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from local_sagemaker.aws import Aws
from local_sagemaker.endpoints import Answer, Endpoints
from local_sagemaker.s3 import JobInputError, S3Uri

# The InvokeEndpointAsync members acted on; the others are in not_emulated.NOT_EMULATED.
HANDLED_FIELDS = frozenset(
    {"EndpointName", "InputLocation", "ContentType", "Accept", "InferenceId", "InvocationTimeoutSeconds"}
)
# The failure object of a request processed for longer than its InvocationTimeoutSeconds (our wording).
EXPIRED = "the request expired: it was processed for more than its InvocationTimeoutSeconds ({seconds:g} s)"


class AsyncInvocations:
    """Asynchronous requests of the emulated endpoints, each run on its own thread."""

    def __init__(self, aws: Aws, endpoints: Endpoints) -> None:
        self._aws, self._endpoints = aws, endpoints
        self._threads: list[threading.Thread] = []

    def submit(
        self,
        name: str,
        input_location: str,
        content_type: str,
        accept: str,
        inference_id: str | None,
        *,
        invocation_timeout: float,
    ) -> tuple[str, str, str | None]:
        """Queue one request, to be processed for at most `invocation_timeout` seconds: (its inference id, its output
        location, its failure location)."""
        output = self._endpoints.async_output_config(name)
        if output is None:
            raise LookupError(f"Endpoint {name} is not configured for asynchronous inference (no AsyncInferenceConfig)")
        inference = inference_id or str(uuid.uuid4())
        result = _join(output["S3OutputPath"], f"{inference}.out")
        failure = _join(output["S3FailurePath"], f"{inference}-error.out") if output.get("S3FailurePath") else None
        request = _Request(
            name, inference, input_location, content_type, accept, result, failure, output, invocation_timeout
        )
        thread = threading.Thread(target=self._run, args=(request,), name=f"async-{inference}", daemon=True)
        self._threads.append(thread)
        thread.start()
        return inference, result, failure

    def wait(self, timeout: float) -> None:
        """Let the requests submitted so far finish (a shutdown, a test)."""
        for thread in list(self._threads):
            thread.join(timeout)

    def _run(self, request: _Request) -> None:
        s3 = self._aws.client("s3")
        try:
            source = S3Uri.parse(request.input_location, "InputLocation")
            body = s3.get_object(Bucket=source.bucket, Key=source.key)["Body"].read()
        except (JobInputError, s3.exceptions.ClientError) as error:
            self._fail(request, f"the request's input could not be read from {request.input_location}: {error}")
            return
        expired = EXPIRED.format(seconds=request.invocation_timeout)
        started = time.monotonic()
        try:
            answer = self._endpoints.invoke(
                request.endpoint,
                body,
                request.content_type,
                request.accept,
                asynchronous=True,
                timeout=request.invocation_timeout,
            )
        except TimeoutError:
            self._fail(request, expired)
            return
        except (LookupError, RuntimeError) as error:
            self._fail(request, str(error))
            return
        except OSError as error:  # e.g. the server's own deadline stopped the worker mid-request
            self._fail(request, f"the model server did not answer: {error!r}")
            return
        # The socket's timeout bounds each wait for bytes, not the whole answer.
        if time.monotonic() - started > request.invocation_timeout:
            self._fail(request, expired)
            return
        if answer.status >= 400:
            self._fail(request, _client_error(answer))
            return
        target = S3Uri.parse(request.output_location, "S3OutputPath")
        s3.put_object(Bucket=target.bucket, Key=target.key, Body=answer.body, ContentType=answer.content_type)
        self._notify(
            request, "SuccessTopic", {"invocationStatus": "Completed", "outputLocation": request.output_location}
        )

    def _fail(self, request: _Request, reason: str) -> None:
        if request.failure_location is not None:
            target = S3Uri.parse(request.failure_location, "S3FailurePath")
            self._aws.client("s3").put_object(Bucket=target.bucket, Key=target.key, Body=reason.encode())
        self._notify(
            request,
            "ErrorTopic",
            {"invocationStatus": "Failed", "failureReason": reason, "failureLocation": request.failure_location},
        )

    def _notify(self, request: _Request, topic_field: str, outcome: Mapping[str, Any]) -> None:
        topic = request.output.get("NotificationConfig", {}).get(topic_field)
        if not topic:
            return
        message = {
            "eventVersion": "1.0",
            "eventSource": "aws:sagemaker",
            "eventName": "InferenceResult" if topic_field == "SuccessTopic" else "InferenceError",
            "eventTime": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "inferenceId": request.inference_id,
            "requestParameters": {
                "endpointName": request.endpoint,
                "inputLocation": request.input_location,
                "contentType": request.content_type,
                "accept": request.accept,
            },
            "responseParameters": dict(outcome),
        }
        self._aws.client("sns").publish(TopicArn=topic, Message=json.dumps(message))


@dataclass(frozen=True)
class _Request:
    endpoint: str
    inference_id: str
    input_location: str
    content_type: str
    accept: str
    output_location: str
    failure_location: str | None
    output: Mapping[str, Any]
    invocation_timeout: float


def _join(path: str, name: str) -> str:
    return path.rstrip("/") + "/" + name


def _client_error(answer: Answer) -> str:
    """What SageMaker writes for a request the container answered with an error: its status and message."""
    message = answer.body.decode(errors="replace")
    return f'Received client error ({answer.status}) from {answer.variant} with message "{message}"'
