"""CreateTrainingJob on this machine: the /opt/ml tree SageMaker would lay out, the container, the results.

Per job, one thread: Starting → Downloading (channels, checkpoints) → Training (one container process
per host, joined by the container's distributed learner) → Uploading (model.tar.gz, output.tar.gz) →
Completed; or Failed (the container's failure file is the FailureReason), or Stopped (StopTrainingJob,
MaxRuntimeInSeconds, MaxWaitTimeInSeconds). DescribeTrainingJob answers from `describe()`.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_sagemaker import container, not_emulated
from local_sagemaker.aws import Aws, LogStream
from local_sagemaker.jobs import Job, arn, now
from local_sagemaker.s3 import JobInputError, S3Uri, download_prefix, list_keys, upload_directory, upload_tarball

TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
OPT_ML = "/opt/ml/"
DEFAULT_CHECKPOINT_PATH = "/opt/ml/checkpoints"
FAILURE_REASON_LIMIT = 1024
# A spot interruption requested for a job waits for the job's first metrics line: by then the
# container trains, and SIGTERM makes it write a checkpoint (container/README.md "Checkpoints").
PROGRESS_LINE = "#metrics "
POLL_SECONDS = 0.1
# The request members this runner acts on; every other member of CreateTrainingJob is listed in
# not_emulated.NOT_EMULATED (a test checks the two against botocore's model of the API).
HANDLED_FIELDS = frozenset({
    "TrainingJobName", "HyperParameters", "AlgorithmSpecification", "RoleArn", "InputDataConfig",
    "OutputDataConfig", "ResourceConfig", "StoppingCondition", "Tags", "EnableManagedSpotTraining",
    "CheckpointConfig", "Environment",
})  # fmt: skip


class RequestError(ValueError):
    """A request SageMaker would reject (ValidationException); the message names the field."""


@dataclass
class SpotInterruptions:
    """Spot interruptions asked for (control API): the next spot job whose name starts with a prefix, once."""

    prefixes: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def request(self, prefix: str) -> None:
        with self.lock:
            self.prefixes.append(prefix)

    def take(self, job_name: str) -> bool:
        with self.lock:
            for prefix in self.prefixes:
                if job_name.startswith(prefix):
                    self.prefixes.remove(prefix)
                    return True
        return False


@dataclass
class _Host:
    name: str
    tree: Path
    log: LogStream
    lines: list[str] = field(default_factory=list)
    process: Any = None
    reader: threading.Thread | None = None


class TrainingJob(Job):
    """One training job: validated at creation, then run in a thread of its own."""

    def __init__(self, request: Mapping[str, Any], aws: Aws, work: Path, interruptions: SpotInterruptions) -> None:
        created = now()
        state = {
            "TrainingJobStatus": "InProgress",
            "SecondaryStatus": "Starting",
            "CreationTime": created,
            "LastModifiedTime": created,
            "SecondaryStatusTransitions": [],
        }
        super().__init__(request, request["TrainingJobName"], "training", _validate, state)
        self._aws, self._work, self._interruptions = aws, work / self.name, interruptions
        self._metrics: dict[str, dict[str, Any]] = {}
        self._started = time.monotonic()
        self._training_seconds = 0.0

    # ----- the API ------------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        request = self.request
        with self._lock:
            state = copy.deepcopy(self._state)
            metrics = [dict(m) for m in self._metrics.values()]
        described: dict[str, Any] = {
            "TrainingJobName": self.name,
            "TrainingJobArn": arn("training-job", self.name),
            "HyperParameters": request.get("HyperParameters", {}),
            "AlgorithmSpecification": request["AlgorithmSpecification"],
            "RoleArn": request["RoleArn"],
            "InputDataConfig": request.get("InputDataConfig", []),
            "OutputDataConfig": request["OutputDataConfig"],
            "ResourceConfig": request["ResourceConfig"],
            "StoppingCondition": request["StoppingCondition"],
            "EnableNetworkIsolation": bool(request.get("EnableNetworkIsolation", False)),
            "EnableInterContainerTrafficEncryption": bool(request.get("EnableInterContainerTrafficEncryption", False)),
            "EnableManagedSpotTraining": bool(request.get("EnableManagedSpotTraining", False)),
            "FinalMetricDataList": metrics,
            **state,
        }
        if "CheckpointConfig" in request:
            described["CheckpointConfig"] = request["CheckpointConfig"]
        return {key: value for key, value in described.items() if value is not None}

    # ----- the job ------------------------------------------------------------------------------------

    def _transition(self, status: str, message: str, **fields: Any) -> None:
        moment = now()
        with self._lock:
            transitions = self._state["SecondaryStatusTransitions"]
            if transitions:
                transitions[-1]["EndTime"] = moment
            transitions.append({"Status": status, "StartTime": moment, "StatusMessage": message})
            self._state.update(SecondaryStatus=status, LastModifiedTime=moment, **fields)

    def _end(self, status: str, secondary: str, message: str, **fields: Any) -> None:
        moment = now()
        seconds = max(1, round(self._training_seconds))
        self._transition(secondary, message, **fields)
        with self._lock:
            self._state["SecondaryStatusTransitions"][-1]["EndTime"] = moment
            self._state.update(TrainingJobStatus=status, TrainingEndTime=moment, TrainingTimeInSeconds=seconds)
            if self.request.get("EnableManagedSpotTraining"):
                self._state["BillableTimeInSeconds"] = seconds

    def _run(self) -> None:
        try:
            self._run_job()
        except JobInputError as error:
            self._end(
                "Failed", "Failed", "Training job failed", FailureReason=f"ClientError: {error}"[:FAILURE_REASON_LIMIT]
            )
        except Exception as error:  # the job fails, the emulator stays up
            traceback.print_exc()
            reason = f"InternalServerError: the local SageMaker failed: {type(error).__name__}: {error}"
            self._end("Failed", "Failed", "Training job failed", FailureReason=reason[:FAILURE_REASON_LIMIT])

    def _run_job(self) -> None:
        spot = bool(self.request.get("EnableManagedSpotTraining"))
        interrupt = spot and self._interruptions.take(self.name)
        attempt = 0
        while True:
            attempt += 1
            self._transition("Starting", "Preparing the instances for training")
            if attempt == 1:
                with self._lock:
                    self._state["TrainingStartTime"] = now()
            hosts = self._prepare(attempt)
            ignored = sorted(set(self.request) & not_emulated.members(not_emulated.TRAINING))
            if ignored:
                hosts[0].log.write(f"local SageMaker: not emulated, ignored: {', '.join(ignored)}")
            self._transition("Training", "Training image download completed. Training in progress.")
            outcome = self._train(hosts, interrupt=interrupt)
            self._sync_checkpoints_up(hosts[0])
            for host in hosts:
                host.log.flush()
            if outcome != "interrupted":
                break
            interrupt = False
            self._transition("Interrupted", "The job was interrupted by a spot capacity change; restarting it")
        if outcome == "max_runtime":
            self._end("Stopped", "MaxRuntimeExceeded", "Training job stopped: MaxRuntimeInSeconds reached")
        elif outcome == "max_wait":
            self._end("Stopped", "MaxWaitTimeExceeded", "Training job stopped: MaxWaitTimeInSeconds reached")
        elif outcome == "stopped":
            self._end("Stopped", "Stopped", "Training job stopped by StopTrainingJob")
        elif outcome == "failed":
            self._end("Failed", "Failed", "Training job failed", FailureReason=self._failure_reason(hosts))
        else:
            self._transition("Uploading", "Uploading generated training model")
            self._upload(hosts[0])
            self._end("Completed", "Completed", "Training job completed")

    def _prepare(self, attempt: int) -> list[_Host]:
        """One /opt/ml tree per host: config files, channels (by distribution), checkpoints."""
        request = self.request
        count = int(request["ResourceConfig"]["InstanceCount"])
        names = [f"algo-{index}" for index in range(1, count + 1)]
        s3 = self._aws.client("s3")
        hosts: list[_Host] = []
        self._transition("Downloading", "Downloading input data")
        for rank, name in enumerate(names):
            tree = self._work / f"attempt-{attempt}" / name
            if tree.exists():
                shutil.rmtree(tree)
            config = tree / "input" / "config"
            config.mkdir(parents=True)
            (config / "hyperparameters.json").write_text(json.dumps(request.get("HyperParameters", {})))
            resources = {
                "current_host": name,
                "hosts": names,
                "network_interface_name": "eth0",
                "current_instance_type": request["ResourceConfig"].get("InstanceType", ""),
            }
            (config / "resourceconfig.json").write_text(json.dumps(resources))
            (config / "inputdataconfig.json").write_text(json.dumps(self._input_data_config()))
            for channel in request.get("InputDataConfig", []):
                source = channel["DataSource"]["S3DataSource"]
                prefix = S3Uri.parse(source["S3Uri"], f"channel {channel['ChannelName']} S3Uri")
                sharded = source.get("S3DataDistributionType", "FullyReplicated") == "ShardedByS3Key"
                destination = tree / "input" / "data" / channel["ChannelName"]
                shard = (rank, count) if sharded else (0, 1)
                if not download_prefix(s3, prefix, destination, shard=shard) and not list_keys(s3, prefix):
                    raise JobInputError(f"No S3 objects found under S3 URL {prefix} (channel {channel['ChannelName']})")
            (tree / "model").mkdir()
            (tree / "output" / "data").mkdir(parents=True)
            if rank == 0 and "CheckpointConfig" in request:
                self._sync_checkpoints_down(tree)
            stream = f"{self.name}/{name}-{int(time.time())}" + (f"-attempt-{attempt}" if attempt > 1 else "")
            hosts.append(_Host(name, tree, LogStream(self._aws, TRAINING_LOG_GROUP, stream)))
        return hosts

    def _input_data_config(self) -> dict[str, Any]:
        default_mode = self.request["AlgorithmSpecification"].get("TrainingInputMode", "File")
        config: dict[str, Any] = {}
        for channel in self.request.get("InputDataConfig", []):
            source = channel["DataSource"]["S3DataSource"]
            config[channel["ChannelName"]] = {
                "ContentType": channel.get("ContentType", ""),
                "TrainingInputMode": channel.get("InputMode", default_mode),
                "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
                "RecordWrapperType": channel.get("RecordWrapperType", "None"),
            }
        return config

    def _checkpoint_dir(self, tree: Path) -> Path:
        local = str(self.request["CheckpointConfig"].get("LocalPath", DEFAULT_CHECKPOINT_PATH))
        return tree / local.removeprefix(OPT_ML)

    def _sync_checkpoints_down(self, tree: Path) -> None:
        uri = S3Uri.parse(self.request["CheckpointConfig"]["S3Uri"], "CheckpointConfig.S3Uri")
        folder = S3Uri(uri.bucket, uri.key.rstrip("/") + "/")
        download_prefix(self._aws.client("s3"), folder, self._checkpoint_dir(tree))

    def _sync_checkpoints_up(self, host: _Host) -> None:
        if "CheckpointConfig" not in self.request:
            return
        directory = self._checkpoint_dir(host.tree)
        if directory.is_dir():
            uri = S3Uri.parse(self.request["CheckpointConfig"]["S3Uri"], "CheckpointConfig.S3Uri")
            upload_directory(self._aws.client("s3"), directory, uri)

    def _train(self, hosts: list[_Host], *, interrupt: bool) -> str:
        """Run every host's container until all exit; returns completed, failed, interrupted or a stop reason."""
        addresses = {h.name: f"127.0.0.1:{container.free_port()}" for h in hosts} if len(hosts) > 1 else None
        env = dict(self.request.get("Environment", {}))
        if addresses:
            env["SM_HOST_ADDRESSES"] = json.dumps(addresses)
        stopping = self.request["StoppingCondition"]
        max_runtime = float(stopping.get("MaxRuntimeInSeconds", 86400))
        max_wait = stopping.get("MaxWaitTimeInSeconds")
        for rank, host in enumerate(hosts):
            host.process, host.reader = container.start(
                "train", host.tree, env, self._line_handler(host, primary=rank == 0)
            )
        started = time.monotonic()
        reason = ""
        while any(h.process.poll() is None for h in hosts):
            elapsed = time.monotonic() - started
            if self._stop_requested:
                reason = "stopped"
            elif self._training_seconds + elapsed > max_runtime:
                reason = "max_runtime"
            elif max_wait is not None and time.monotonic() - self._started > float(max_wait):
                reason = "max_wait"
            elif interrupt and any(line.startswith(PROGRESS_LINE) for line in hosts[0].lines):
                reason = "interrupted"
            if reason:
                for host in hosts:
                    container.stop(host.process, container.TRAINING_STOP_SECONDS)
                break
            time.sleep(POLL_SECONDS)
        self._training_seconds += time.monotonic() - started
        for host in hosts:
            host.process.wait()
            if host.reader is not None:
                host.reader.join(timeout=10)
        if reason:
            return reason
        return "completed" if all(h.process.returncode == 0 for h in hosts) else "failed"

    def _line_handler(self, host: _Host, *, primary: bool) -> Any:
        definitions = [
            (d["Name"], re.compile(d["Regex"]))
            for d in self.request["AlgorithmSpecification"].get("MetricDefinitions", [])
        ]

        def on_line(line: str) -> None:
            host.lines.append(line)
            host.log.write(line)
            if not primary:
                return
            for name, regex in definitions:
                match = regex.search(line)
                if match:
                    try:
                        value = float(match.group(1))
                    except (ValueError, IndexError):
                        continue
                    with self._lock:
                        self._metrics[name] = {"MetricName": name, "Value": value, "Timestamp": now()}

        return on_line

    def _failure_reason(self, hosts: list[_Host]) -> str:
        """SageMaker's FailureReason: the failure file of the (first) host that failed."""
        for host in hosts:
            code = host.process.returncode
            if code == 0:
                continue
            failure = host.tree / "output" / "failure"
            text = failure.read_text().strip() if failure.exists() else ""
            if not text:
                text = f"the container on {host.name} wrote no /opt/ml/output/failure; see the job's log"
            prefix = f"{host.name}: " if len(hosts) > 1 else ""
            return f"AlgorithmError: {prefix}{text}, exit code: {code}"[:FAILURE_REASON_LIMIT]
        return "AlgorithmError: the container failed"

    def _upload(self, primary: _Host) -> None:
        s3 = self._aws.client("s3")
        output = S3Uri.parse(self.request["OutputDataConfig"]["S3OutputPath"], "OutputDataConfig.S3OutputPath")
        folder = output.join(self.name, "output")
        scratch = self._work / "upload"
        scratch.mkdir(parents=True, exist_ok=True)
        upload_tarball(s3, primary.tree / "model", folder.join("model.tar.gz"), scratch)
        if any((primary.tree / "output" / "data").iterdir()):
            upload_tarball(s3, primary.tree / "output" / "data", folder.join("output.tar.gz"), scratch)
        with self._lock:
            self._state["ModelArtifacts"] = {"S3ModelArtifacts": str(folder.join("model.tar.gz"))}


def _validate(request: Mapping[str, Any]) -> None:
    """What CreateTrainingJob rejects before a job exists (ValidationException), all problems at once."""
    problems: list[str] = []
    for name, value in request.get("HyperParameters", {}).items():
        if not isinstance(value, str):
            problems.append(f"HyperParameters[{name!r}] must be a string, got {type(value).__name__} {value!r}")
    for key in ("AlgorithmSpecification", "RoleArn", "OutputDataConfig", "ResourceConfig", "StoppingCondition"):
        if key not in request:
            problems.append(f"{key} is required")
    count = request.get("ResourceConfig", {}).get("InstanceCount")
    if not isinstance(count, int) or count < 1:
        problems.append(f"ResourceConfig.InstanceCount must be an integer of at least 1, got {count!r}")
    for index, channel in enumerate(request.get("InputDataConfig", [])):
        source = channel.get("DataSource", {}).get("S3DataSource")
        where = f"InputDataConfig[{index}] ({channel.get('ChannelName')})"
        if source is None:
            problems.append(f"{where}: only S3DataSource is emulated")
        elif source.get("S3DataType", "S3Prefix") != "S3Prefix":
            problems.append(f"{where}: S3DataType {source.get('S3DataType')!r} is not emulated; use S3Prefix")
        if channel.get("CompressionType", "None") != "None":
            problems.append(f"{where}: CompressionType {channel['CompressionType']!r} is not emulated")
    local = request.get("CheckpointConfig", {}).get("LocalPath", DEFAULT_CHECKPOINT_PATH)
    if not local.startswith(OPT_ML):
        problems.append(f"CheckpointConfig.LocalPath must be under {OPT_ML} here, got {local!r}")
    if request.get("EnableManagedSpotTraining") and "MaxWaitTimeInSeconds" not in request.get("StoppingCondition", {}):
        problems.append("StoppingCondition.MaxWaitTimeInSeconds is required with EnableManagedSpotTraining")
    if problems:
        raise RequestError("; ".join(problems))
