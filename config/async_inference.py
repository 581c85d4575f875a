"""`[environments.<env>.endpoint.asynchronous]`: the endpoint answers InvokeEndpointAsync instead of InvokeEndpoint.

Asynchronous inference runs on the endpoint's instance variant (`variants`): SageMaker queues each request
(its body in S3), the instances work the queue, results and failures go to S3 and notify the Platform stack's
asynchronous result topic, requests, results and failures expire after `retention_days`, and autoscaling
follows the queue down to `min_instances` (0: nothing runs while nothing is asked)
(https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference.html, async-inference-autoscale.html).
"""

from __future__ import annotations

from itertools import combinations
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from config.aws_catalog import sagemaker_range
from config.contract import (
    ASYNC_FAILURE_PREFIX,
    ASYNC_INPUT_PREFIX,
    ASYNC_MAX_PAYLOAD_MB,
    ASYNC_OUTPUT_PREFIX,
    ASYNC_PREFIX,
    CONTAINER,
    MAX_ENDPOINT_INSTANCES,
)
from config.types import _Frozen, _matching, _sagemaker_bounds

_PREFIX = _matching(
    r"[a-z0-9][a-z0-9/_.-]*/", f"a key prefix under {ASYNC_PREFIX} of the artifacts bucket ending in '/'"
)

# Pages that say what an asynchronous endpoint cannot keep; the configuration's errors cite them.
ASYNC_MONITOR_DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-monitor.html"
ASYNC_AUTOSCALE_DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-autoscale.html"
SERVERLESS_EXCLUSIONS_DOC = (
    "https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html (asynchronous inference runs on "
    "instances; a serverless variant has none)"
)
DATA_CAPTURE_DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture.html"
# InvocationTimeoutSeconds: "a maximum of 3600 seconds (one hour) on a per-request basis. If you don't specify this
# field in your request, by default the request times out at 15 minutes."
ASYNC_INVOKE_DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-invoke-endpoint.html"
# AWS's default InvocationTimeoutSeconds (ASYNC_INVOKE_DOC; botocore's InvokeEndpointAsyncInput says so too).
DEFAULT_INVOCATION_TIMEOUT_SECONDS = 900
# Where botocore's SageMaker Runtime model bounds it (the local SageMaker checks requests against it too).
INVOCATION_TIMEOUT_MEMBER = ("InvokeEndpointAsyncInput", "InvocationTimeoutSeconds")


def _within_invocation_timeout_bounds() -> AfterValidator:
    """What SageMaker Runtime accepts as InvocationTimeoutSeconds (botocore's model, read at the first check), and
    at most what the container accepts as its server timeout, which is the same deadline."""
    what = (
        "within SageMaker Runtime's InvokeEndpointAsyncInput.InvocationTimeoutSeconds bounds and at most the "
        "container's max_server_timeout_seconds"
    )

    def check(value: int) -> int:
        low, high = sagemaker_range(*INVOCATION_TIMEOUT_MEMBER, service="sagemaker-runtime")
        ceiling = min(high, CONTAINER.limits.max_server_timeout_seconds)
        if not low <= value <= ceiling:
            raise ValueError(
                f"must be {low}-{ceiling} s, {what} ({'.'.join(INVOCATION_TIMEOUT_MEMBER)} is {low}-{high} s; the "
                f"container's limit {CONTAINER.limits.max_server_timeout_seconds} s)"
            )
        return value

    return AfterValidator(check)


class AsyncInferenceSettings(_Frozen):
    """Asynchronous inference on the endpoint's one instance variant, scaled on its backlog.

    Autoscaling tracks `backlog_per_instance` queued requests per instance (ApproximateBacklogSizePerInstance)
    between `min_instances` (0 allowed: scale to zero) and `max_instances`; from zero, a step policy on
    HasBacklogWithoutCapacity starts the first instance, which takes minutes to provision. Each request may be
    processed for `invocation_timeout_seconds` (InvokeEndpointAsync's InvocationTimeoutSeconds, which every
    `sagemaker_ops` request sends; AWS's default 900 s, at most an hour), the container's deadline too:
    `endpoint.server_timeout_seconds` is real time's, refused beside this table.
    """

    # SageMaker's client in front of the container: None lets SageMaker choose.
    max_concurrent_invocations_per_instance: (
        Annotated[int, _sagemaker_bounds("AsyncInferenceClientConfig", "MaxConcurrentInvocationsPerInstance")] | None
    ) = None
    # How long SageMaker may process one request before it marks it expired (InvokeEndpointAsync's
    # InvocationTimeoutSeconds, which every `sagemaker_ops` request sends), and so the container's own deadline
    # (SAGEMAKER_MODEL_SERVER_TIMEOUT): one value for both sides. 900 s is AWS's default (ASYNC_INVOKE_DOC).
    invocation_timeout_seconds: Annotated[int, _within_invocation_timeout_bounds()] = DEFAULT_INVOCATION_TIMEOUT_SECONDS
    # The largest request body the container accepts (async allows 1 GB); the container lowers it further to
    # what its memory holds (container/README.md "Payload limits").
    max_payload_mb: int = Field(default=100, ge=1, le=min(ASYNC_MAX_PAYLOAD_MB, CONTAINER.limits.max_payload_mb))
    output_prefix: Annotated[str, _PREFIX] = ASYNC_OUTPUT_PREFIX
    failure_prefix: Annotated[str, _PREFIX] = ASYNC_FAILURE_PREFIX
    # Requests, results and failures are the callers' data: gone after this many days (an S3 lifecycle rule on
    # each of the three prefixes), long enough for a caller to fetch its answer; the bucket is versioned, so the
    # expired versions go noncurrent_version_expiration_days later.
    retention_days: int = Field(default=30, ge=1, le=3650)
    min_instances: int = Field(default=0, ge=0)
    max_instances: int = Field(ge=1, le=MAX_ENDPOINT_INSTANCES)
    backlog_per_instance: float = Field(default=5.0, gt=0)
    scale_in_cooldown_seconds: int = Field(default=600, ge=0)
    scale_out_cooldown_seconds: int = Field(default=300, ge=0)
    # Pages when the oldest queued request waits longer: above the minutes a scale-out from zero takes.
    max_backlog_age_minutes: int = Field(default=30, ge=10, le=360)

    @model_validator(mode="after")
    def _sound(self) -> AsyncInferenceSettings:
        problems = self._inverted_ranges(("min_instances", "max_instances"))
        prefixes = {
            "output_prefix": self.output_prefix,
            "failure_prefix": self.failure_prefix,
            "the requests' prefix": ASYNC_INPUT_PREFIX,
        }
        # Each prefix expires after retention_days: one outside ASYNC_PREFIX could be (or hold) the models, checkpoints
        # or data capture the bucket also keeps, which would expire with it.
        problems.extend(
            f"{name} ({prefix}) must lie under {ASYNC_PREFIX}: what is under it expires after retention_days "
            f"({self.retention_days}), and the artifacts bucket keeps models, checkpoints and data capture elsewhere"
            for name, prefix in prefixes.items()
            if not prefix.startswith(ASYNC_PREFIX)
        )
        problems.extend(
            f"{one} ({first}) and {other} ({second}) must not contain one another: a client tells a request, a "
            "result and a failure apart by where they are"
            for (one, first), (other, second) in combinations(prefixes.items(), 2)
            if first.startswith(second) or second.startswith(first)
        )
        if problems:
            raise ValueError("; ".join(problems))
        return self
