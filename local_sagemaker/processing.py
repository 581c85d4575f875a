"""CreateProcessingJob on this machine: the /opt/ml/processing tree SageMaker lays out, the container, the outputs.

Per job, one thread: the S3 inputs are downloaded to their `LocalPath` (S3Prefix, File mode), the
image's entry point (`container/entrypoint.py`) runs with the request's `ContainerArguments` and
`Environment`, and on success every `LocalPath` of the outputs is uploaded to its `S3Output.S3Uri`.
A failed container makes the job Failed with `/opt/ml/output/message` as `ExitMessage`;
StopProcessingJob and `MaxRuntimeInSeconds` stop it (Stopped). DescribeProcessingJob answers from
`describe()`; the container's lines go to `/aws/sagemaker/ProcessingJobs`, stream `<job>/algo-1-<epoch>`.
"""

from __future__ import annotations

import copy
import shutil
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from local_sagemaker import container, not_emulated
from local_sagemaker.aws import Aws, LogStream
from local_sagemaker.jobs import Job, arn, now
from local_sagemaker.s3 import JobInputError, S3Uri, download_prefix, list_keys, upload_directory
from local_sagemaker.training import RequestError

PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
OPT_ML = "/opt/ml/"
PROCESSING_ROOT = "/opt/ml/processing/"  # SageMaker requires every LocalPath below it
MESSAGE_LIMIT = 1024
POLL_SECONDS = 0.1
# The request members this runner acts on; every other member of CreateProcessingJob is listed in
# not_emulated.NOT_EMULATED (a test checks the two against botocore's model of the API).
HANDLED_FIELDS = frozenset({
    "ProcessingJobName", "ProcessingInputs", "ProcessingOutputConfig", "ProcessingResources",
    "StoppingCondition", "AppSpecification", "Environment", "RoleArn", "Tags",
})  # fmt: skip


class ProcessingJob(Job):
    """One processing job: validated at creation, then run in a thread of its own."""

    def __init__(self, request: Mapping[str, Any], aws: Aws, work: Path) -> None:
        created = now()
        state = {"ProcessingJobStatus": "InProgress", "CreationTime": created, "LastModifiedTime": created}
        super().__init__(request, str(request.get("ProcessingJobName", "")), "processing", _validate, state)
        self._aws, self._tree = aws, work / self.name

    def describe(self) -> dict[str, Any]:
        request = self.request
        with self._lock:
            state = copy.deepcopy(self._state)
        described: dict[str, Any] = {
            "ProcessingJobName": self.name,
            "ProcessingJobArn": arn("processing-job", self.name),
            "ProcessingInputs": request.get("ProcessingInputs", []),
            "ProcessingOutputConfig": request.get("ProcessingOutputConfig"),
            "ProcessingResources": request["ProcessingResources"],
            "StoppingCondition": request.get("StoppingCondition"),
            "AppSpecification": request["AppSpecification"],
            "Environment": request.get("Environment"),
            "NetworkConfig": request.get("NetworkConfig"),
            "RoleArn": request["RoleArn"],
            **state,
        }
        return {key: value for key, value in described.items() if value is not None}

    # ----- the job ------------------------------------------------------------------------------------

    def _end(self, status: str, **fields: Any) -> None:
        moment = now()
        with self._lock:
            self._state.update(ProcessingJobStatus=status, ProcessingEndTime=moment, LastModifiedTime=moment, **fields)

    def _run(self) -> None:
        try:
            self._run_job()
        except JobInputError as error:
            self._end("Failed", FailureReason=f"ClientError: {error}"[:MESSAGE_LIMIT])
        except Exception as error:  # the job fails, the emulator stays up
            traceback.print_exc()
            reason = f"InternalServerError: the local SageMaker failed: {type(error).__name__}: {error}"
            self._end("Failed", FailureReason=reason[:MESSAGE_LIMIT])

    def _run_job(self) -> None:
        if self._tree.exists():
            shutil.rmtree(self._tree)
        (self._tree / "output").mkdir(parents=True)
        self._download_inputs()
        for output in self._outputs():
            self._local(output["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
        log = LogStream(self._aws, PROCESSING_LOG_GROUP, f"{self.name}/algo-1-{int(time.time())}")
        ignored = sorted(set(self.request) & not_emulated.members(not_emulated.PROCESSING))
        if ignored:
            log.write(f"local SageMaker: not emulated, ignored: {', '.join(ignored)}")
        with self._lock:
            self._state["ProcessingStartTime"] = now()
        arguments = list(self.request["AppSpecification"].get("ContainerArguments", []))
        process, reader = container.start(arguments, self._tree, self.request.get("Environment", {}), log.write)
        max_runtime = float(self.request.get("StoppingCondition", {}).get("MaxRuntimeInSeconds", 86400))
        started, reason = time.monotonic(), ""
        while process.poll() is None:
            if self._stop_requested:
                reason = "StopProcessingJob"
            elif time.monotonic() - started > max_runtime:
                reason = f"MaxRuntimeInSeconds ({max_runtime:g} s) reached"
            if reason:
                container.stop(process, container.TRAINING_STOP_SECONDS)
                break
            time.sleep(POLL_SECONDS)
        process.wait()
        reader.join(timeout=10)
        log.flush()
        if reason:
            self._end("Stopped", ExitMessage=f"Processing job stopped: {reason}")
        elif process.returncode != 0:
            message = self._tree / "output" / "message"
            text = message.read_text(encoding="utf-8", errors="replace").strip() if message.exists() else ""
            self._end(
                "Failed",
                ExitMessage=(text or "the container wrote no /opt/ml/output/message; see the job's log")[
                    :MESSAGE_LIMIT
                ],
                FailureReason=f"AlgorithmError: See job logs for more information, exit code: {process.returncode}",
            )
        else:
            self._upload_outputs()
            self._end("Completed", ExitMessage="")

    def _local(self, local_path: str) -> Path:
        return self._tree / local_path.removeprefix(OPT_ML)

    def _download_inputs(self) -> None:
        s3 = self._aws.client("s3")
        for item in self.request.get("ProcessingInputs", []):
            source = item["S3Input"]
            prefix = S3Uri.parse(source["S3Uri"], f"ProcessingInputs {item['InputName']} S3Uri")
            if not download_prefix(s3, prefix, self._local(source["LocalPath"])) and not list_keys(s3, prefix):
                raise JobInputError(f"No S3 objects found under S3 URL {prefix} (input {item['InputName']})")

    def _outputs(self) -> list[dict[str, Any]]:
        outputs: list[dict[str, Any]] = (self.request.get("ProcessingOutputConfig") or {}).get("Outputs", [])
        return outputs

    def _upload_outputs(self) -> None:
        s3 = self._aws.client("s3")
        for output in self._outputs():
            target = output["S3Output"]
            uri = S3Uri.parse(target["S3Uri"], f"ProcessingOutputConfig {output['OutputName']} S3Uri")
            upload_directory(s3, self._local(target["LocalPath"]), uri)


def _validate(request: Mapping[str, Any]) -> None:
    """What CreateProcessingJob rejects here before a job exists (ValidationException), all problems at once."""
    problems: list[str] = []
    for key in ("ProcessingJobName", "ProcessingResources", "AppSpecification", "RoleArn"):
        if key not in request:
            problems.append(f"{key} is required")
    count = request.get("ProcessingResources", {}).get("ClusterConfig", {}).get("InstanceCount")
    if count != 1:
        problems.append(f"ProcessingResources.ClusterConfig.InstanceCount must be 1 here (not emulated), got {count!r}")
    application = request.get("AppSpecification", {})
    if "ContainerEntrypoint" in application:
        problems.append("AppSpecification.ContainerEntrypoint is not emulated: the image's entry point runs")
    arguments = application.get("ContainerArguments", [])
    if not isinstance(arguments, list) or not all(isinstance(a, str) for a in arguments):
        problems.append(f"AppSpecification.ContainerArguments must be a list of strings, got {arguments!r}")
    for name, value in (request.get("Environment") or {}).items():
        if not isinstance(value, str):
            problems.append(f"Environment[{name!r}] must be a string, got {type(value).__name__} {value!r}")
    problems.extend(_data_problems(request))
    if problems:
        raise RequestError("; ".join(problems))


def _data_problems(request: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    for index, item in enumerate(request.get("ProcessingInputs", [])):
        where = f"ProcessingInputs[{index}] ({item.get('InputName')})"
        source = item.get("S3Input")
        if source is None or item.get("AppManaged"):
            problems.append(f"{where}: only S3Input, not AppManaged, is emulated")
            continue
        for key, emulated in (("S3DataType", "S3Prefix"), ("S3InputMode", "File"), ("S3CompressionType", "None")):
            if source.get(key, emulated) != emulated:
                problems.append(f"{where}: S3Input.{key} {source.get(key)!r} is not emulated; use {emulated}")
        problems.extend(_local_path_problems(f"{where}: S3Input.LocalPath", source.get("LocalPath")))
    for index, output in enumerate((request.get("ProcessingOutputConfig") or {}).get("Outputs", [])):
        where = f"ProcessingOutputConfig.Outputs[{index}] ({output.get('OutputName')})"
        target = output.get("S3Output")
        if target is None or output.get("AppManaged"):
            problems.append(f"{where}: only S3Output, not AppManaged, is emulated")
            continue
        problems.extend(_local_path_problems(f"{where}: S3Output.LocalPath", target.get("LocalPath")))
    return problems


def _local_path_problems(where: str, local_path: Any) -> list[str]:
    if not isinstance(local_path, str) or not local_path.startswith(PROCESSING_ROOT):
        return [f"{where} must be below {PROCESSING_ROOT}, got {local_path!r}"]
    if ".." in Path(local_path).parts:
        return [f"{where} must not contain '..', got {local_path!r}"]
    return []
