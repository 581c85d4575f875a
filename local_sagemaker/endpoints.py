"""InvokeEndpoint: the endpoint's model served by `container serve`, started on the first request.

The endpoint, its endpoint config and its model are the ones moto holds (created by the emulated
stacks); the server is keyed by the endpoint config it runs, so an update (a new config) restarts it
on the new model, as a deployment would.
"""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_sagemaker import container
from local_sagemaker.aws import Aws, LogStream
from local_sagemaker.s3 import JobInputError, download_model

ENDPOINT_LOG_GROUP = "/aws/sagemaker/Endpoints/{endpoint}"
DEFAULT_STARTUP_SECONDS = 240.0  # ContainerStartupHealthCheckTimeoutInSeconds' default (4 minutes)
INVOCATION_TIMEOUT_SECONDS = 60.0
# The InvokeEndpoint members acted on; the others are in not_emulated.NOT_EMULATED.
HANDLED_FIELDS = frozenset({"EndpointName", "Body", "ContentType", "Accept"})


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str
    variant: str


@dataclass
class _Running:
    config_name: str
    variant: str
    server: container.ServingContainer
    log: LogStream


class Endpoints:
    """The model servers of the endpoints invoked so far, one per endpoint."""

    def __init__(self, aws: Aws, work: Path) -> None:
        self._aws, self._work = aws, work / "endpoints"
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()

    def invoke(self, name: str, body: bytes, content_type: str, accept: str) -> Answer:
        running = self._server_for(name)
        answer = running.server.request(
            "POST",
            "/invocations",
            body,
            {"Content-Type": content_type, "Accept": accept},
            timeout=INVOCATION_TIMEOUT_SECONDS,
        )
        running.log.flush()
        return Answer(answer.status, answer.body, answer.content_type or content_type, running.variant)

    def _server_for(self, name: str) -> _Running:
        sagemaker = self._aws.client("sagemaker")
        try:
            endpoint = sagemaker.describe_endpoint(EndpointName=name)
        except sagemaker.exceptions.ClientError:
            raise LookupError(f"Endpoint {name} of account 123456789012 not found.") from None
        config_name = endpoint["EndpointConfigName"]
        with self._lock:
            running = self._running.get(name)
            if running is not None and running.config_name == config_name and running.server.process.poll() is None:
                return running
            if running is not None:
                running.server.stop()
                running.log.flush()
            running = self._start(name, config_name, sagemaker)
            self._running[name] = running
            return running

    def _start(self, name: str, config_name: str, sagemaker: Any) -> _Running:
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        variant = config["ProductionVariants"][0]
        model = sagemaker.describe_model(ModelName=variant["ModelName"])
        primary = model.get("PrimaryContainer") or model["Containers"][0]
        tree = self._work / name / f"{config_name}-{int(time.time() * 1000)}"
        shutil.rmtree(tree, ignore_errors=True)
        try:
            download_model(self._aws.client("s3"), primary["ModelDataUrl"], tree / "model")
        except JobInputError as error:
            raise RuntimeError(f"the endpoint's model could not be loaded: {error}") from None
        log = LogStream(
            self._aws, ENDPOINT_LOG_GROUP.format(endpoint=name), f"{variant['VariantName']}/local-{int(time.time())}"
        )
        startup = float(variant.get("ContainerStartupHealthCheckTimeoutInSeconds", DEFAULT_STARTUP_SECONDS))
        server = container.ServingContainer.launch(tree, primary.get("Environment", {}), log.write, startup)
        log.flush()
        return _Running(config_name, variant["VariantName"], server, log)

    def stop_all(self) -> None:
        with self._lock:
            for running in self._running.values():
                running.server.stop()
            self._running.clear()
