"""InvokeEndpoint: the endpoint's model served by `container serve`, started on the first request.

The endpoint, its endpoint config and its model are the ones moto holds (created by the emulated
stacks); the server is keyed by the endpoint config it runs, so an update (a new config) restarts it
on the new model, as a deployment would.

Data capture: when the endpoint config's `DataCaptureConfig` enables it, a successful request is captured
with probability `InitialSamplingPercentage` and written as SageMaker writes it: one JSON Lines record
(`captureData.endpointInput` / `endpointOutput` for the configured `CaptureOptions`, `eventMetadata`,
`eventVersion`) in `<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/`, the body as text for the
content types `CaptureContentTypeHeader` lists, base64 otherwise. Here each request is its own object
(SageMaker buffers a few minutes of requests per object).
"""

from __future__ import annotations

import base64
import json
import random
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config.contract import MAX_REALTIME_INVOCATION_SECONDS, serving_log_group_name
from local_sagemaker import container
from local_sagemaker.aws import Aws, LogStream
from local_sagemaker.components import Component, Components
from local_sagemaker.registry import model_data_url
from local_sagemaker.s3 import JobInputError, S3Uri, download_model
from sagemaker_ops.invocation import NO_CAPACITY_REFUSAL

DEFAULT_STARTUP_SECONDS = 240.0  # ContainerStartupHealthCheckTimeoutInSeconds' default (4 minutes)
INVOCATION_TIMEOUT_SECONDS = float(MAX_REALTIME_INVOCATION_SECONDS)
# The InvokeEndpoint members acted on; the others are in not_emulated.NOT_EMULATED.
HANDLED_FIELDS = frozenset({"EndpointName", "Body", "ContentType", "Accept", "InferenceComponentName"})
# What InvokeEndpoint answers when a request names no component on an endpoint that hosts them (our wording).
COMPONENT_REQUIRED = "InferenceComponentName is required: endpoint {endpoint} hosts inference components ({names})"


class RefusedError(LookupError):
    """A request SageMaker Runtime refuses with its own ValidationError (HTTP 400), e.g. for want of a copy."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str
    variant: str


@dataclass(frozen=True)
class DataCapture:
    """An endpoint config's `DataCaptureConfig`, as the runner applies it."""

    destination: S3Uri
    percentage: float
    modes: frozenset[str]  # "Input", "Output"
    csv_types: frozenset[str]
    json_types: frozenset[str]

    @classmethod
    def of(cls, config: dict[str, Any] | None) -> DataCapture | None:
        """None when the config captures nothing."""
        if not config or not config.get("EnableCapture", True):
            return None
        headers = config.get("CaptureContentTypeHeader") or {}
        options = config.get("CaptureOptions") or [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]
        try:
            destination = S3Uri.parse(str(config.get("DestinationS3Uri", "")), "DataCaptureConfig.DestinationS3Uri")
        except JobInputError as error:
            raise RuntimeError(f"the endpoint's data capture cannot be written: {error}") from None
        return cls(
            destination,
            float(config.get("InitialSamplingPercentage", 0)),
            frozenset(str(o.get("CaptureMode")) for o in options),
            frozenset(_media_type(t) for t in headers.get("CsvContentTypes", [])),
            frozenset(_media_type(t) for t in headers.get("JsonContentTypes", [])),
        )

    def sampled(self) -> bool:
        return random.uniform(0, 100) < self.percentage  # noqa: S311 - sampling, not security

    def record(self, body: bytes, content_type: str, answer: bytes, answer_type: str, moment: datetime) -> bytes:
        """One captured request: SageMaker's JSON Lines record, newline-terminated."""
        data: dict[str, Any] = {}
        if "Input" in self.modes:
            data["endpointInput"] = self._part(body, content_type, "INPUT")
        if "Output" in self.modes:
            data["endpointOutput"] = self._part(answer, answer_type, "OUTPUT")
        record = {
            "captureData": data,
            "eventMetadata": {"eventId": str(uuid.uuid4()), "inferenceTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ")},
            "eventVersion": "0",
        }
        return (json.dumps(record, separators=(",", ":")) + "\n").encode()

    def _part(self, body: bytes, content_type: str, mode: str) -> dict[str, str]:
        media = _media_type(content_type)
        encoding = "CSV" if media in self.csv_types else "JSON" if media in self.json_types else "BASE64"
        if encoding != "BASE64":
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                encoding = "BASE64"
        if encoding == "BASE64":
            text = base64.b64encode(body).decode("ascii")
        return {"observedContentType": content_type, "mode": mode, "data": text, "encoding": encoding}

    def key(self, endpoint: str, variant: str, moment: datetime) -> S3Uri:
        """Where SageMaker puts it: `<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/mm-ss-mmm-<id>.jsonl`."""
        name = f"{moment:%M-%S}-{moment.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
        return self.destination.join(endpoint, variant, f"{moment:%Y/%m/%d/%H}", name)


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


@dataclass
class _Running:
    config_name: str
    variant: str
    server: container.ServingContainer
    log: LogStream
    capture: DataCapture | None = None
    asynchronous: bool = False


class Endpoints:
    """The model servers of the endpoints invoked so far, one per endpoint."""

    def __init__(self, aws: Aws, work: Path, components: Components) -> None:
        self._aws, self._work, self._components = aws, work / "endpoints", components
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()

    def invoke(
        self,
        name: str,
        body: bytes,
        content_type: str,
        accept: str,
        component: str | None = None,
        *,
        asynchronous: bool = False,
        timeout: float = INVOCATION_TIMEOUT_SECONDS,
    ) -> Answer:
        """The model server's answer; an endpoint answers either InvokeEndpoint or, with an AsyncInferenceConfig,
        InvokeEndpointAsync (`asynchronous`) only, as SageMaker's does (async-inference.html). TimeoutError when the
        server sends nothing for `timeout` seconds (an asynchronous request's InvocationTimeoutSeconds)."""
        running = self._server_for(name, component)
        if running.asynchronous != asynchronous:
            raise LookupError(
                f"Endpoint {name} is configured for asynchronous inference: call InvokeEndpointAsync"
                if running.asynchronous
                else f"Endpoint {name} is not configured for asynchronous inference: call InvokeEndpoint"
            )
        answer = running.server.request(
            "POST",
            "/invocations",
            body,
            {"Content-Type": content_type, "Accept": accept},
            timeout=timeout,
        )
        running.log.flush()
        answered = Answer(answer.status, answer.body, answer.content_type or content_type, running.variant)
        if running.capture is not None and answer.status < 400 and running.capture.sampled():
            self._capture(name, running, body, content_type, answered)
        return answered

    def _capture(self, name: str, running: _Running, body: bytes, content_type: str, answer: Answer) -> None:
        capture = running.capture
        if capture is None:
            return
        moment = datetime.now(UTC)
        record = capture.record(body, content_type, answer.body, answer.content_type, moment)
        target = capture.key(name, running.variant, moment)
        self._aws.client("s3").put_object(Bucket=target.bucket, Key=target.key, Body=record)

    def async_output_config(self, name: str) -> dict[str, Any] | None:
        """The endpoint's AsyncInferenceConfig.OutputConfig (None: a real-time endpoint); LookupError if unknown."""
        sagemaker = self._aws.client("sagemaker")
        config = sagemaker.describe_endpoint_config(
            EndpointConfigName=self._describe(sagemaker, name)["EndpointConfigName"]
        )
        output: dict[str, Any] | None = (config.get("AsyncInferenceConfig") or {}).get("OutputConfig")
        return output

    @staticmethod
    def _describe(sagemaker: Any, name: str) -> dict[str, Any]:
        try:
            endpoint: dict[str, Any] = sagemaker.describe_endpoint(EndpointName=name)
        except sagemaker.exceptions.ClientError:
            raise LookupError(f"Endpoint {name} of account 123456789012 not found.") from None
        return endpoint

    def _server_for(self, name: str, component_name: str | None) -> _Running:
        sagemaker = self._aws.client("sagemaker")
        # A server per endpoint config, or per component and the model it serves (an update restarts it).
        key, config_name = name, self._describe(sagemaker, name)["EndpointConfigName"]
        component = self._component(name, component_name)
        if component is not None:
            key, config_name = f"{name}/{component.name}", f"{config_name}/{component.model_name}"
        with self._lock:
            running = self._running.get(key)
            if running is not None and running.config_name == config_name and running.server.process.poll() is None:
                return running
            if running is not None:
                running.server.stop()
                running.log.flush()
            running = self._start(name, config_name, sagemaker, component)
            self._running[key] = running
            return running

    def _component(self, endpoint: str, name: str | None) -> Component | None:
        """The component a request names, with a copy running; refuses as AWS does otherwise."""
        hosted = self._components.of_endpoint(endpoint)
        if name is None:
            if hosted:
                names = ", ".join(c.name for c in hosted)
                raise RefusedError(COMPONENT_REQUIRED.format(endpoint=endpoint, names=names))
            return None
        component = next((c for c in hosted if c.name == name), None)
        if component is None:
            raise RefusedError(f"Inference component {name} is not hosted on endpoint {endpoint}.")
        if component.copies == 0:
            self._scale_out_from_zero(component)
            raise RefusedError(NO_CAPACITY_REFUSAL)
        return component

    def _scale_out_from_zero(self, component: Component) -> None:
        """What the alarm on NoCapacityInvocationFailures and its step policy do, at once, if the stack wired them."""
        resource = f"inference-component/{component.name}"
        scaling = self._aws.client("application-autoscaling")
        targets = scaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[resource])
        policies = scaling.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=resource)
        steps = {p["PolicyARN"] for p in policies["ScalingPolicies"] if p["PolicyType"] == "StepScaling"}
        dimension = {"Name": "InferenceComponentName", "Value": component.name}
        wired = any(
            alarm.get("MetricName") == "NoCapacityInvocationFailures"
            and dimension in alarm.get("Dimensions", [])
            and steps & set(alarm.get("AlarmActions", []))
            for alarm in self._aws.client("cloudwatch").describe_alarms()["MetricAlarms"]
        )
        if wired and targets["ScalableTargets"]:
            self._components.update(component.name, None, min(1, targets["ScalableTargets"][0]["MaxCapacity"]))

    def release(self, endpoint: str, component: str) -> None:
        """Stop the server of a component scaled to zero copies."""
        with self._lock:
            running = self._running.pop(f"{endpoint}/{component}", None)
        if running is not None:
            running.server.stop()
            running.log.flush()

    def _start(self, name: str, config_name: str, sagemaker: Any, component: Component | None) -> _Running:
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name.split("/", maxsplit=1)[0])
        variant = config["ProductionVariants"][0]
        model_name = component.model_name if component is not None else variant["ModelName"]
        model = sagemaker.describe_model(ModelName=model_name)
        primary = model.get("PrimaryContainer") or model["Containers"][0]
        tree = self._work / name / f"{config_name}-{int(time.time() * 1000)}"
        shutil.rmtree(tree, ignore_errors=True)
        try:
            download_model(self._aws.client("s3"), model_data_url(sagemaker, primary), tree / "model")
        except JobInputError as error:
            raise RuntimeError(f"the endpoint's model could not be loaded: {error}") from None
        group = serving_log_group_name(name, component.name if component else None)
        log = LogStream(self._aws, group, f"{variant['VariantName']}/local-{int(time.time())}")
        startup = float(variant.get("ContainerStartupHealthCheckTimeoutInSeconds", DEFAULT_STARTUP_SECONDS))
        capture = DataCapture.of(config.get("DataCaptureConfig"))
        server = container.ServingContainer.launch(tree, primary.get("Environment", {}), log.write, startup)
        log.flush()
        asynchronous = bool((config.get("AsyncInferenceConfig") or {}).get("OutputConfig"))
        return _Running(config_name, variant["VariantName"], server, log, capture, asynchronous)

    def stop_all(self) -> None:
        with self._lock:
            for running in self._running.values():
                running.server.stop()
            self._running.clear()
