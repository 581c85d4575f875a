"""Test builders for the end-to-end tests: an environment deployed into the local SageMaker, data, runs.

`Environment.run()` starts the training pipeline (the synthesized state machine, executed by moto)
and waits; `explain()` names the state that failed and shows the container's log from CloudWatch.
"""

from __future__ import annotations

import io
import json
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from local_sagemaker.deploy import DeployedStack
from local_sagemaker.registry import model_data_url
from local_sagemaker.server import MotoServer
from review.synth import safe_extract
from tests.container.harness import CONTAINER, csv_bytes, make_data

if str(CONTAINER) not in sys.path:  # the trained model is loaded the way the container loads it
    sys.path.insert(0, str(CONTAINER))

PIPELINE_TIMEOUT_SECONDS = 180.0
JOB_TIMEOUT_SECONDS = 120.0
ROLE = "arn:aws:iam::123456789012:role/local-sagemaker-test"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/algorithm:test"
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
TRANSFORM_LOG_GROUP = "/aws/sagemaker/TransformJobs"
Array = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class Dataset:
    """A data prefix in the data bucket: train/ and validation/ (label first) and score/ (features only)."""

    prefix: str
    score_features: Array


@dataclass
class Run:
    """One execution of the training pipeline, ended."""

    arn: str
    status: str
    described: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def output(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.described.get("output") or "{}")
        return loaded

    def entered(self) -> list[str]:
        return [e["stateEnteredEventDetails"]["name"] for e in self.history if "stateEnteredEventDetails" in e]


@dataclass
class Environment:
    """One environment's stacks in the local SageMaker, and what a test needs to drive them."""

    server: MotoServer
    stacks: dict[str, DeployedStack]
    name: str
    server_log: Path
    prefix: str  # `<app>-<env>`: the pipeline names its jobs `<prefix>-<execution name>`, its subjects `<prefix>: ...`

    def output(self, stack: str, key: str) -> str:
        return self.stacks[stack].outputs[key]

    @property
    def data_bucket(self) -> str:
        return self.output("Platform", "DataBucketName")

    @property
    def artifacts_bucket(self) -> str:
        return self.output("Platform", "ArtifactsBucketName")

    def client(self, service: str) -> Any:
        return self.server.client(service)

    def upload(self, prefix: str, *, rows: int = 600, seed: int = 0, signal: bool = True, files: int = 1) -> Dataset:
        """Binary-labelled rows: 60 % train (in `files` files), 20 % validation, 20 % to score (features only)."""
        labels, features = make_data("binary", rows, seed=seed)
        if not signal:
            labels = np.random.default_rng(seed + 1).integers(0, 2, size=rows).astype(np.float64)
        train, validation = int(rows * 0.6), int(rows * 0.8)
        s3 = self.client("s3")
        for index, part in enumerate(np.array_split(np.arange(train), files)):
            body = csv_bytes(labels[part], features[part])
            s3.put_object(Bucket=self.data_bucket, Key=f"{prefix}/train/part-{index}.csv", Body=body)
        s3.put_object(
            Bucket=self.data_bucket,
            Key=f"{prefix}/validation/part-0.csv",
            Body=csv_bytes(labels[train:validation], features[train:validation]),
        )
        score = csv_bytes(None, features[validation:])
        s3.put_object(Bucket=self.data_bucket, Key=f"{prefix}/score/part-0.csv", Body=score)
        return Dataset(prefix, features[validation:])

    def start(self, document: dict[str, Any]) -> str:
        started = self.client("stepfunctions").start_execution(
            stateMachineArn=self.output("Training", "StateMachineArn"), input=json.dumps(document)
        )
        return str(started["executionArn"])

    def wait(self, arn: str) -> Run:
        stepfunctions = self.client("stepfunctions")
        deadline = time.monotonic() + PIPELINE_TIMEOUT_SECONDS
        while True:
            described = stepfunctions.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        history = stepfunctions.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        return Run(arn, described["status"], described, history)

    def run(self, document: dict[str, Any]) -> Run:
        return self.wait(self.start(document))

    def run_state_machine(self, stack: str, document: dict[str, Any]) -> Run:
        """Start another stack's state machine (output `<stack>StateMachineArn`) and wait for its end."""
        started = self.client("stepfunctions").start_execution(
            stateMachineArn=self.output(stack, f"{stack}StateMachineArn"), input=json.dumps(document)
        )
        return self.wait(str(started["executionArn"]))

    def train_directly(self, name: str, data: Dataset, hyperparameters: dict[str, str]) -> str:
        """CreateTrainingJob without the pipeline, on `data`'s train and validation; returns the model's S3 URI."""
        channels = [
            {"ChannelName": channel, "ContentType": "text/csv", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": f"s3://{self.data_bucket}/{data.prefix}/{channel}/"}}}
            for channel in ("train", "validation")
        ]  # fmt: skip
        sagemaker = self.client("sagemaker")
        sagemaker.create_training_job(
            TrainingJobName=name,
            AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            RoleArn=ROLE,
            HyperParameters=hyperparameters,
            InputDataConfig=channels,
            OutputDataConfig={"S3OutputPath": f"s3://{self.artifacts_bucket}/direct/"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
            StoppingCondition={"MaxRuntimeInSeconds": 600},
        )
        deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
        while (described := sagemaker.describe_training_job(TrainingJobName=name))["TrainingJobStatus"] == "InProgress":
            assert time.monotonic() < deadline, f"training job {name} still runs after {JOB_TIMEOUT_SECONDS:g} s"
            time.sleep(0.3)
        assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
        return str(described["ModelArtifacts"]["S3ModelArtifacts"])

    def serve_version(self, version: int, model_artifact: str) -> str:
        """The group's version `version` (approved: a pin) names `model_artifact`'s model, copied over the artifact
        it names, as a pin of that model would; returns the version's ARN."""
        sagemaker = self.client("sagemaker")
        (arn,) = [
            summary["ModelPackageArn"]
            for summary in sagemaker.list_model_packages(ModelPackageGroupName=self.prefix)["ModelPackageSummaryList"]
            if summary["ModelPackageVersion"] == version
        ]
        bucket, _, key = model_data_url(sagemaker, {"ModelPackageName": arn}).removeprefix("s3://").partition("/")
        source_bucket, _, source_key = model_artifact.removeprefix("s3://").partition("/")
        self.client("s3").copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": source_bucket, "Key": source_key})
        return str(arn)

    @contextmanager
    def endpoint_serving(self, model_artifact: str) -> Iterator[str]:
        """The Inference stack's endpoint serving `model_artifact`, as deploying its pin would; restored after.

        The artifact is copied over the one the endpoint's model names, and the endpoint moves to a copy of
        its endpoint config (so its model server restarts on the copied artifact). Yields the endpoint's name.
        """
        sagemaker, s3 = self.client("sagemaker"), self.client("s3")
        endpoint = self.output("Inference", "EndpointName")
        original = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
        config = sagemaker.describe_endpoint_config(EndpointConfigName=original)
        served = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
        served_url = model_data_url(sagemaker, served["PrimaryContainer"])
        bucket, _, key = served_url.removeprefix("s3://").partition("/")
        source_bucket, _, source_key = model_artifact.removeprefix("s3://").partition("/")
        s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": source_bucket, "Key": source_key})
        copy = f"{original[:40]}-{uuid.uuid4().hex[:8]}"
        settings = {k: config[k] for k in ("ProductionVariants", "DataCaptureConfig") if config.get(k)}
        sagemaker.create_endpoint_config(EndpointConfigName=copy, **settings)
        sagemaker.delete_endpoint(EndpointName=endpoint)
        sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=copy)
        try:
            yield endpoint
        finally:
            sagemaker.delete_endpoint(EndpointName=endpoint)
            sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=original)

    def explain(self, run: Run) -> str:
        """For an assertion message: the state that failed, its error and cause, and the container's log."""
        failed = [e for e in run.history if e["type"].endswith(("Failed", "TimedOut", "Aborted"))]
        lines = [f"execution {run.arn.split(':')[-1]} ended {run.status}; states entered: {', '.join(run.entered())}"]
        for event in failed:
            details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
            previous = [e for e in run.history if e["id"] < event["id"] and "stateEnteredEventDetails" in e]
            state = previous[-1]["stateEnteredEventDetails"]["name"] if previous else "?"
            cause = str(details.get("cause", ""))[:2000]
            lines.append(f"step {state}: {event['type']} {details.get('error', '')}: {cause}")
        for group in (TRAINING_LOG_GROUP, TRANSFORM_LOG_GROUP):
            lines.extend(self.container_log(group, run.arn.split(":")[-1])[-60:])
        lines.append(f"local SageMaker log: {self.server_log}")
        return "\n".join(lines)

    def container_log(self, group: str, execution_name: str) -> list[str]:
        """The container's log lines of this execution's job (streams `<job>/...`), from CloudWatch Logs."""
        logs = self.client("logs")
        job = f"{self.prefix}-{execution_name}"
        events: list[dict[str, Any]] = []
        try:
            for page in logs.get_paginator("filter_log_events").paginate(
                logGroupName=group, logStreamNamePrefix=f"{job}/"
            ):
                events.extend(page["events"])
        except logs.exceptions.ResourceNotFoundException:
            return []
        return [f"{group} {e['logStreamName']}: {e['message']}" for e in events]

    def model_directory(self, training_job: str) -> Path:
        """The training job's model.tar.gz, unpacked (what SageMaker puts in /opt/ml/model)."""
        uri = self.client("sagemaker").describe_training_job(TrainingJobName=training_job)["ModelArtifacts"]
        bucket, _, key = uri["S3ModelArtifacts"].removeprefix("s3://").partition("/")
        body = self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        target = self.server_log.parent / "models" / training_job
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
            safe_extract(tar, target)  # the product's extraction: no filter= before Python 3.11.4
        return target

    def training_summary(self, training_job: str) -> dict[str, Any]:
        """The job's output.tar.gz `training_summary.json` (written by the first host)."""
        uri = self.client("sagemaker").describe_training_job(TrainingJobName=training_job)["ModelArtifacts"]
        bucket, _, key = uri["S3ModelArtifacts"].removeprefix("s3://").partition("/")
        body = self.client("s3").get_object(Bucket=bucket, Key=key.replace("model.tar.gz", "output.tar.gz"))["Body"]
        with tarfile.open(fileobj=io.BytesIO(body.read()), mode="r:gz") as tar:
            member = tar.extractfile("training_summary.json")
            assert member is not None, "output.tar.gz holds no training_summary.json"
            summary: dict[str, Any] = json.loads(member.read())
        return summary

    def model_of(self, training_job: str) -> Any:
        """The trained model, loaded from its model.tar.gz as the container's server loads it."""
        from sagemaker_contract import seam  # noqa: PLC0415 - the container's package, found through sys.path

        # The algorithm the image runs: ALGORITHM_MODULE, else the Dockerfile's `ARG ALGORITHM=`, as a checkout does.
        return seam.load().load(self.model_directory(training_job))

    def read(self, uri: str) -> dict[str, bytes]:
        """Every object under an s3:// prefix, by key."""
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        s3 = self.client("s3")
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}

    def subscribe_queue(self, name: str) -> str:
        """An SQS queue subscribed to the environment's notification topic; returns its URL."""
        sqs, sns = self.client("sqs"), self.client("sns")
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(
            TopicArn=self.output("Platform", "AlarmTopicArn"),
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "false"},
        )
        return str(url)

    def notifications(self, queue_url: str) -> list[dict[str, Any]]:
        """The SNS notifications in the queue (Subject and the Message as JSON)."""
        received = self.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        found = []
        for message in received.get("Messages", []):
            envelope = json.loads(message["Body"])
            found.append({"Subject": envelope.get("Subject"), "Message": json.loads(envelope["Message"])})
        return found
