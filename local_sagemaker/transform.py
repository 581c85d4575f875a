"""CreateTransformJob on this machine: the model served by `container serve`, the input sent in batches.

Per job, one thread: download the model, start the server (the model's and the job's Environment),
ask `/execution-parameters`, then per input object: split (SplitType), filter (InputFilter), batch
(BatchStrategy, MaxPayloadInMB), send with MaxConcurrentTransforms requests in flight, join
(JoinSource), filter (OutputFilter), assemble (AssembleWith) and upload `<object>.out`.
"""

from __future__ import annotations

import gzip
import shutil
import time
import traceback
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from local_sagemaker import container, not_emulated
from local_sagemaker.aws import Aws, LogStream
from local_sagemaker.jobs import Job, arn, now
from local_sagemaker.registry import model_data_url
from local_sagemaker.s3 import JobInputError, S3Uri, download_model, list_keys, relative_name
from local_sagemaker.training import RequestError

TRANSFORM_LOG_GROUP = "/aws/sagemaker/TransformJobs"
MB = 1024 * 1024
DEFAULT_PAYLOAD_MB = 6
MAX_PAYLOAD_MB = 100
STARTUP_SECONDS = 600.0
FAILURE_REASON_LIMIT = 1024
# The filters this runner applies; others are rejected at CreateTransformJob (not_emulated.py).
IDENTITY_FILTER = "$"
HANDLED_FIELDS = frozenset({
    "TransformJobName", "ModelName", "MaxConcurrentTransforms", "ModelClientConfig", "MaxPayloadInMB",
    "BatchStrategy", "Environment", "TransformInput", "TransformOutput", "TransformResources", "DataProcessing",
    "Tags",
})  # fmt: skip


class TransformJob(Job):
    """One batch transform job, validated at creation, run in a thread of its own."""

    def __init__(self, request: Mapping[str, Any], aws: Aws, work: Path) -> None:
        state = {"TransformJobStatus": "InProgress", "CreationTime": now()}
        super().__init__(request, request["TransformJobName"], "transform", _validate, state)
        self._aws, self._work = aws, work / "transform" / self.name
        self._server: container.ServingContainer | None = None

    def stop(self) -> None:
        """Stop the job's model server (the emulator shuts down); the job fails where it was."""
        server = self._server
        if server is not None:
            server.stop()

    def describe(self) -> dict[str, Any]:
        request = self.request
        with self._lock:
            state = dict(self._state)
        described: dict[str, Any] = {
            "TransformJobName": self.name,
            "TransformJobArn": arn("transform-job", self.name),
            "ModelName": request["ModelName"],
            "TransformInput": request["TransformInput"],
            "TransformOutput": request["TransformOutput"],
            "TransformResources": request["TransformResources"],
            **{k: request[k] for k in ("MaxConcurrentTransforms", "ModelClientConfig", "MaxPayloadInMB",
                                        "BatchStrategy", "Environment", "DataProcessing") if k in request},
            **state,
        }  # fmt: skip
        return described

    def _end(self, status: str, reason: str | None = None) -> None:
        with self._lock:
            self._state.update(TransformJobStatus=status, TransformEndTime=now())
            if reason:
                self._state["FailureReason"] = reason[:FAILURE_REASON_LIMIT]

    def _run(self) -> None:
        """The job; its status changes last, once the log is flushed and the server stopped."""
        log: LogStream | None = None
        server: container.ServingContainer | None = None
        status, reason = "Completed", ""
        try:
            with self._lock:
                self._state["TransformStartTime"] = now()
            log = LogStream(self._aws, TRANSFORM_LOG_GROUP, f"{self.name}/local-{int(time.time())}")
            ignored = sorted(set(self.request) & not_emulated.members(not_emulated.TRANSFORM))
            if ignored:
                log.write(f"local SageMaker: not emulated, ignored: {', '.join(ignored)}")
            server = self._server = self._start_server(log)
            self._transform(server, log)
        except JobInputError as error:
            status, reason = "Failed", f"ClientError: {error}"
        except RuntimeError as error:
            status, reason = "Failed", f"AlgorithmError: {error}"
        except Exception as error:  # the job fails, the emulator stays up
            traceback.print_exc()
            status, reason = (
                "Failed",
                f"InternalServerError: the local SageMaker failed: {type(error).__name__}: {error}",
            )
        finally:
            if server is not None:
                server.stop()
            if log is not None:
                if reason:
                    log.write(f"local SageMaker: the job failed: {reason}")
                log.flush()
        self._end(status, reason or None)

    def _start_server(self, log: LogStream) -> container.ServingContainer:
        sagemaker = self._aws.client("sagemaker")
        try:
            model = sagemaker.describe_model(ModelName=self.request["ModelName"])
        except sagemaker.exceptions.ClientError as error:
            raise JobInputError(f"model {self.request['ModelName']} cannot be described: {error}") from None
        primary = model.get("PrimaryContainer") or model["Containers"][0]
        shutil.rmtree(self._work, ignore_errors=True)
        download_model(self._aws.client("s3"), model_data_url(sagemaker, primary), self._work / "model")
        env = {**primary.get("Environment", {}), **self.request.get("Environment", {})}
        return container.ServingContainer.launch(self._work, env, log.write, STARTUP_SECONDS)

    def _settings(self, server: container.ServingContainer) -> tuple[str, int, int]:
        """BatchStrategy, MaxPayloadInMB, MaxConcurrentTransforms: the job's, else the container's answer."""
        offered = server.execution_parameters()
        strategy = self.request.get("BatchStrategy") or _strategy(str(offered.get("BatchStrategy", "SINGLE_RECORD")))
        payload = int(str(self.request.get("MaxPayloadInMB") or offered.get("MaxPayloadInMB") or DEFAULT_PAYLOAD_MB))
        concurrency = int(
            str(self.request.get("MaxConcurrentTransforms") or offered.get("MaxConcurrentTransforms") or 1)
        )
        return strategy, payload, concurrency

    def _transform(self, server: container.ServingContainer, log: LogStream) -> None:
        transform_input = self.request["TransformInput"]
        source = S3Uri.parse(transform_input["DataSource"]["S3DataSource"]["S3Uri"], "TransformInput S3Uri")
        output = S3Uri.parse(self.request["TransformOutput"]["S3OutputPath"], "TransformOutput.S3OutputPath")
        strategy, payload_mb, concurrency = self._settings(server)
        settings = f"BatchStrategy={strategy} MaxPayloadInMB={payload_mb} MaxConcurrentTransforms={concurrency}"
        log.write(f"local SageMaker: {settings}")
        s3 = self._aws.client("s3")
        keys = list_keys(s3, source)
        if not keys:
            raise JobInputError(f"No S3 objects found under S3 URL {source}")
        for key in keys:
            data = s3.get_object(Bucket=source.bucket, Key=key)["Body"].read()
            if transform_input.get("CompressionType", "None") == "Gzip":
                data = gzip.decompress(data)
            records = _split(data, transform_input.get("SplitType", "None"))
            batches = _batches(records, strategy, payload_mb * MB, key)
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                answers = list(pool.map(self._send, [server] * len(batches), batches, [key] * len(batches)))
            assembled = self._assemble(batches, answers, key)
            target = output.join(relative_name(source, key) + ".out")
            s3.put_object(Bucket=target.bucket, Key=target.key, Body=assembled)
            log.write(f"local SageMaker: {key}: {len(records)} records in {len(batches)} requests -> {target}")

    def _send(self, server: container.ServingContainer, batch: list[bytes], key: str) -> bytes:
        client_config = self.request.get("ModelClientConfig", {})
        timeout = float(client_config.get("InvocationsTimeoutInSeconds", 600))
        retries = int(client_config.get("InvocationsMaxRetries", 3))
        headers = {"Content-Type": self.request["TransformInput"].get("ContentType", "application/octet-stream")}
        if "Accept" in self.request["TransformOutput"]:
            headers["Accept"] = self.request["TransformOutput"]["Accept"]
        body = b"".join(batch)
        for attempt in range(retries + 1):
            try:
                answer = server.request("POST", "/invocations", body, headers, timeout=timeout)
            except OSError as error:
                if attempt == retries:
                    raise RuntimeError(f"{key}: the container did not answer within {timeout:g} s: {error}") from None
                continue
            if answer.status < 500 or attempt == retries:
                break
        if answer.status != 200:
            raise JobInputError(
                f"the container answered {answer.status} for a request of {len(batch)} record(s) of {key}: "
                f"{answer.body.decode(errors='replace')[:500]}"
            )
        return answer.body

    def _assemble(self, batches: list[list[bytes]], answers: list[bytes], key: str) -> bytes:
        output = self.request["TransformOutput"]
        join = self.request.get("DataProcessing", {}).get("JoinSource", "None") == "Input"
        if output.get("AssembleWith", "None") != "Line":
            if join:
                raise JobInputError("JoinSource Input needs AssembleWith Line here")
            return b"".join(answers)
        lines: list[bytes] = []
        for batch, answer in zip(batches, answers, strict=True):
            predictions = answer.decode().splitlines()
            if join:
                if len(predictions) != len(batch):
                    raise JobInputError(
                        f"{key}: {len(batch)} input records but {len(predictions)} output lines: cannot join them"
                    )
                lines.extend(r.rstrip(b"\r\n") + b"," + p.encode() for r, p in zip(batch, predictions, strict=True))
            else:
                lines.extend(p.encode() for p in predictions)
        return b"".join(line + b"\n" for line in lines)


def _strategy(container_value: str) -> str:
    return {"MULTI_RECORD": "MultiRecord", "SINGLE_RECORD": "SingleRecord"}.get(container_value, "SingleRecord")


def _split(data: bytes, split_type: str) -> list[bytes]:
    if split_type == "Line":
        return [
            line if line.endswith(b"\n") else line + b"\n" for line in data.splitlines(keepends=True) if line.strip()
        ]
    return [data]


def _batches(records: list[bytes], strategy: str, limit: int, key: str) -> list[list[bytes]]:
    """MultiRecord: as many whole records as fit in `limit` bytes; SingleRecord: one each."""
    batches: list[list[bytes]] = []
    size = 0
    for index, record in enumerate(records, start=1):
        if len(record) > limit:
            raise JobInputError(
                f"{key}: record {index} has {len(record)} bytes, over MaxPayloadInMB ({limit // MB} MB)"
            )
        if strategy == "MultiRecord" and batches and size + len(record) <= limit:
            batches[-1].append(record)
            size += len(record)
        else:
            batches.append([record])
            size = len(record)
    return batches


def _validate(request: Mapping[str, Any]) -> None:
    problems: list[str] = []
    for key in ("ModelName", "TransformInput", "TransformOutput", "TransformResources"):
        if key not in request:
            problems.append(f"{key} is required")
    payload = request.get("MaxPayloadInMB")
    if payload is not None and not 0 <= payload <= MAX_PAYLOAD_MB:
        problems.append(f"MaxPayloadInMB must be 0-{MAX_PAYLOAD_MB}, got {payload}")
    if request.get("BatchStrategy", "MultiRecord") not in {"MultiRecord", "SingleRecord"}:
        problems.append(f"BatchStrategy must be MultiRecord or SingleRecord, got {request['BatchStrategy']!r}")
    transform_input = request.get("TransformInput", {})
    if transform_input.get("SplitType", "None") not in {"None", "Line"}:
        problems.append(f"TransformInput.SplitType {transform_input['SplitType']!r} is not emulated; use Line or None")
    source = transform_input.get("DataSource", {}).get("S3DataSource", {})
    if source.get("S3DataType", "S3Prefix") != "S3Prefix":
        problems.append(f"S3DataType {source['S3DataType']!r} is not emulated; use S3Prefix")
    processing = request.get("DataProcessing", {})
    for name in ("InputFilter", "OutputFilter"):
        if processing.get(name, IDENTITY_FILTER) != IDENTITY_FILTER:
            problems.append(f"DataProcessing.{name} {processing[name]!r} is not emulated; only {IDENTITY_FILTER!r}")
    if processing.get("JoinSource", "None") not in {"None", "Input"}:
        problems.append(f"DataProcessing.JoinSource must be Input or None, got {processing['JoinSource']!r}")
    if processing.get("JoinSource") == "Input" and transform_input.get("ContentType", "text/csv") != "text/csv":
        problems.append("DataProcessing.JoinSource Input is emulated for text/csv input only")
    if problems:
        raise RequestError("; ".join(problems))
