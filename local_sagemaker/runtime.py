"""The local SageMaker's state: the jobs it runs and the endpoint servers it started."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from local_sagemaker.async_endpoints import AsyncInvocations
from local_sagemaker.aws import Aws
from local_sagemaker.components import Components
from local_sagemaker.endpoints import Answer, Endpoints
from local_sagemaker.processing import ProcessingJob
from local_sagemaker.training import RequestError, SpotInterruptions, TrainingJob
from local_sagemaker.transform import TransformJob
from local_sagemaker.tuning import TuningJob


class LocalSageMaker:
    """Training, transform and processing jobs by name, endpoint servers, requested spot interruptions."""

    def __init__(self, aws: Aws, work: Path) -> None:
        self.aws, self.work = aws, work
        self.interruptions = SpotInterruptions()
        self.components = Components()
        self.endpoints = Endpoints(aws, work, self.components)
        self.async_invocations = AsyncInvocations(aws, self.endpoints)
        self._jobs: dict[str, dict[str, Any]] = {"training": {}, "transform": {}, "processing": {}, "tuning": {}}
        self._lock = threading.Lock()

    def training_job(self, request: Mapping[str, Any]) -> TrainingJob:
        job = TrainingJob(request, self.aws, self.work / "training", self.interruptions)
        self._add("training", job)
        return job

    def transform_job(self, request: Mapping[str, Any]) -> TransformJob:
        job = TransformJob(request, self.aws, self.work)
        self._add("transform", job)
        return job

    def processing_job(self, request: Mapping[str, Any]) -> ProcessingJob:
        job = ProcessingJob(request, self.aws, self.work / "processing")
        self._add("processing", job)
        return job

    def tuning_job(self, request: Mapping[str, Any]) -> TuningJob:
        job = TuningJob(request, self.training_job)
        self._add("tuning", job)
        return job

    def _add(self, kind: str, job: TrainingJob | TransformJob | ProcessingJob | TuningJob) -> None:
        with self._lock:
            if job.name in self._jobs[kind]:
                raise RequestError(f"Job {job.name} already exists: {kind} job names are unique")
            self._jobs[kind][job.name] = job

    def job(self, kind: str, name: str) -> Any:
        with self._lock:
            return self._jobs[kind].get(name)

    def invoke_endpoint(
        self, name: str, *, body: bytes, content_type: str, accept: str, component: str | None = None
    ) -> Answer:
        return self.endpoints.invoke(name, body, content_type, accept, component)

    def shutdown(self) -> None:
        """Stop every running container (training jobs end Stopped), transform and endpoint servers."""
        with self._lock:
            training = list(self._jobs["training"].values())
            transform = list(self._jobs["transform"].values())
            processing = list(self._jobs["processing"].values())
            tuning = list(self._jobs["tuning"].values())
        for job in [*tuning, *training, *transform, *processing]:
            job.stop()
        self.endpoints.stop_all()
        for job in [*training, *processing]:
            job.thread.join(timeout=150)
