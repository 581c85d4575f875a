"""The operations CLI: one subcommand per routine job on a deployed environment.

    python -m sagemaker_ops status --env prod
    python -m sagemaker_ops smoke --env prod --row 5.1,3.5,1.4,0.2 --json

Every subcommand takes `--env` (required), `--profile`, `--region` (default: the environment's),
`--endpoint-url` (or boto3's own `AWS_ENDPOINT_URL`) and `--json` (one JSON document on stdout
instead of text). Progress goes to stderr. Exit codes (EXIT_CODES) are for scripts.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from config import ConfigError, load_config
from config.contract import TRAINING_JOB_LOG_GROUP, TRANSFORM_JOB_LOG_GROUP, endpoint_log_group_name
from config.settings import DEFAULT_CONFIG_FILE
from pipeline_tools.promote import pin as promotion_pin
from sagemaker_ops.deployment import Deployment, NotDeployedError
from sagemaker_ops.progress import Observation, WaitTimeoutError, wait

OK, FAILED, USAGE, AWS_ERROR, TIMED_OUT = 0, 1, 2, 3, 4
EXIT_CODES = {
    OK: "success; the check passed or the job succeeded",
    FAILED: "a check failed (smoke), or the job failed or was stopped (train, transform, promote)",
    USAGE: "usage or configuration error: unknown option, unreadable file, bad hyperparameter",
    AWS_ERROR: "AWS error or not deployed: a stack, output, endpoint or job does not exist, access denied",
    TIMED_OUT: "gave up waiting after --timeout seconds; the job is still running",
}
# The document the training pipeline's state machine (Training stack) starts with.
TRAINING_INPUT_DATA_PREFIX = "data_prefix"
TRAINING_INPUT_HYPERPARAMETERS = "hyperparameters"
_CONTENT_TYPES = {".csv": "text/csv", ".json": "application/json", ".jsonl": "application/jsonlines"}
_DURATION = re.compile(r"(\d+)([smhd])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class UsageError(ValueError):
    """A bad argument value that argparse cannot check (a file, a hyperparameter, an S3 URI)."""


class CheckFailedError(RuntimeError):
    """A check or job failed; `result` is still reported."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class Context:
    deployment: Deployment
    args: argparse.Namespace

    def wait(self, observe: Callable[[], Observation], what: str) -> Observation:
        return wait(observe, what=what, timeout=self.args.timeout, interval=self.args.poll_seconds)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        context = Context(_deployment(args), args)
        result = args.handler(context)
    except (UsageError, ConfigError) as error:
        return _fail(args, USAGE, str(error))
    except CheckFailedError as error:
        _emit(args, {**error.result, "ok": False, "error": str(error)})
        return FAILED
    except WaitTimeoutError as error:
        return _fail(args, TIMED_OUT, str(error))
    except (NotDeployedError, ClientError, BotoCoreError) as error:
        return _fail(args, AWS_ERROR, str(error))
    _emit(args, {**result, "ok": True})
    return OK


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--env", required=True, help="environment: dev, staging or prod")
    common.add_argument("--profile", help="AWS profile (default: the default credential chain)")
    common.add_argument("--region", help="AWS region (default: the environment's, from the configuration)")
    common.add_argument("--endpoint-url", help="send every AWS call here (an emulator); AWS_ENDPOINT_URL also works")
    common.add_argument("--config", type=Path, default=DEFAULT_CONFIG_FILE, help="configuration file")
    common.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    common.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait at most (default 3600)")
    common.add_argument("--poll-seconds", type=float, default=15.0, help="seconds between status checks")

    codes = "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_CODES.items())
    parser = argparse.ArgumentParser(
        prog="python -m sagemaker_ops",
        description="Day-2 operations of a deployed environment.",
        epilog=f"exit codes:\n{codes}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Callable[[Context], dict[str, Any]], help_: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[common], help=help_, description=help_)
        sub.set_defaults(handler=handler)
        return sub

    train = command("train", _train, "start the training pipeline and wait for it")
    train.add_argument("--data-prefix", required=True, help="key prefix of the training data in the data bucket")
    train.add_argument("--hyperparameter", "-p", action="append", default=[], metavar="NAME=VALUE", help="repeatable")
    train.add_argument("--no-wait", action="store_true", help="return once the execution has started")

    command("status", _status, "endpoint status, endpoint config, instance counts, last deployment")

    invoke = command("invoke", _invoke, "send a CSV or JSON file to the endpoint and print the predictions")
    invoke.add_argument("--file", type=Path, required=True, help=".csv, .json or .jsonl")
    invoke.add_argument("--content-type", help="default: from the file extension")

    transform = command("transform", _transform, "run a batch transform job with the deployed model and wait")
    transform.add_argument("--input", required=True, help="s3:// URI, or a key prefix in the data bucket")
    transform.add_argument("--output", help="s3:// URI (default: s3://<artifacts>/transform/<job>/)")
    transform.add_argument("--content-type", default="text/csv")
    transform.add_argument("--job-name", help="default: <app>-<env>-transform-<UTC time>")

    logs = command("logs", _logs, "print the endpoint's or a job's log events")
    logs.add_argument("--job", help="a training or transform job (default: the endpoint's logs)")
    logs.add_argument("--since", default="10m", help="how far back, e.g. 30s, 10m, 2h, 1d (default 10m)")
    logs.add_argument("--follow", action="store_true", help="keep printing new events until --timeout")
    logs.add_argument("--limit", type=int, default=1000, help="at most this many events")

    promote = command("promote", _promote, "print the configuration pin for a finished training job")
    promote.add_argument("--job", required=True, help="training job name")

    smoke = command("smoke", _smoke, "after a deploy: the endpoint answers, and runs the expected endpoint config")
    sample = smoke.add_mutually_exclusive_group(required=True)
    sample.add_argument("--row", help="one CSV row of features")
    sample.add_argument("--file", type=Path, help="a sample request file (.csv, .json, .jsonl)")
    return parser


def _deployment(args: argparse.Namespace) -> Deployment:
    settings = load_config(args.config).environment(args.env)
    session = boto3.Session(profile_name=args.profile, region_name=args.region or settings.region)
    return Deployment(settings, session, endpoint_url=args.endpoint_url)


def _train(context: Context) -> dict[str, Any]:
    args, deployment = context.args, context.deployment
    hyperparameters = dict(_name_value(item) for item in args.hyperparameter)
    document = {TRAINING_INPUT_DATA_PREFIX: args.data_prefix, TRAINING_INPUT_HYPERPARAMETERS: hyperparameters}
    stepfunctions = deployment.client("stepfunctions")
    started = stepfunctions.start_execution(stateMachineArn=deployment.state_machine_arn, input=json.dumps(document))
    arn = started["executionArn"]
    result: dict[str, Any] = {"execution_arn": arn, "input": document, "status": "RUNNING"}
    if args.no_wait:
        return result

    def observe() -> Observation:
        status = stepfunctions.describe_execution(executionArn=arn)["status"]
        return Observation(status, done=status != "RUNNING")

    result["status"] = context.wait(observe, f"training {arn.split(':')[-1]}").state
    if result["status"] != "SUCCEEDED":
        raise CheckFailedError(f"training pipeline ended {result['status']}", result)
    return result


def _status(context: Context) -> dict[str, Any]:
    deployment = context.deployment
    endpoint = deployment.client("sagemaker").describe_endpoint(EndpointName=deployment.endpoint_name)
    stack = deployment.stack("Inference")
    expected = deployment.expected_endpoint_config
    return {
        "endpoint": endpoint["EndpointName"],
        "status": endpoint["EndpointStatus"],
        "failure_reason": endpoint.get("FailureReason"),
        "endpoint_config": endpoint["EndpointConfigName"],
        "expected_endpoint_config": expected,
        "runs_expected_config": endpoint["EndpointConfigName"] == expected,
        "variants": [
            {
                "name": v["VariantName"],
                "current_instances": v.get("CurrentInstanceCount"),
                "desired_instances": v.get("DesiredInstanceCount"),
                "weight": v.get("CurrentWeight"),
            }
            for v in endpoint.get("ProductionVariants", [])
        ],
        "last_modified": _iso(endpoint.get("LastModifiedTime")),
        "last_deployment": {
            "stack": stack.name,
            "stack_status": stack.status,
            "at": stack.last_updated,
            "deployment_config": endpoint.get("LastDeploymentConfig"),
        },
    }


def _invoke(context: Context) -> dict[str, Any]:
    args, deployment = context.args, context.deployment
    body = _read(args.file)
    content_type = args.content_type or _content_type(args.file)
    predictions = _call_endpoint(deployment, body, content_type)
    return {"endpoint": deployment.endpoint_name, "content_type": content_type, "predictions": predictions}


def _smoke(context: Context) -> dict[str, Any]:
    args, deployment = context.args, context.deployment
    body, content_type = (args.row.encode(), "text/csv") if args.row else (_read(args.file), _content_type(args.file))
    status = _status(context)
    result: dict[str, Any] = {
        "endpoint": status["endpoint"],
        "status": status["status"],
        "endpoint_config": status["endpoint_config"],
        "expected_endpoint_config": status["expected_endpoint_config"],
    }
    if status["status"] != "InService":
        raise CheckFailedError(f"endpoint is {status['status']}, not InService", result)
    if not status["runs_expected_config"]:
        raise CheckFailedError(
            f"endpoint runs {status['endpoint_config']}, but the stack's endpoint config is "
            f"{status['expected_endpoint_config']}: the last deployment did not take effect (rolled back?)",
            result,
        )
    started = time.monotonic()
    try:
        result["prediction"] = _call_endpoint(deployment, body, content_type)
    except ClientError as error:
        raise CheckFailedError(f"invocation failed: {error}", result) from None
    result["latency_ms"] = round((time.monotonic() - started) * 1000)
    return result


def _transform(context: Context) -> dict[str, Any]:
    args, deployment = context.args, context.deployment
    settings = deployment.settings
    name = args.job_name or f"{deployment.endpoint_name}-transform-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    input_uri = _s3_uri(args.input, deployment.stack("Platform").output("DataBucketName"))
    artifacts = deployment.stack("Platform").output("ArtifactsBucketName")
    output_uri = args.output or f"s3://{artifacts}/transform/{name}/"
    sagemaker = deployment.client("sagemaker")
    sagemaker.create_transform_job(
        TransformJobName=name,
        ModelName=deployment.model_name,
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": args.content_type,
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": output_uri, "AssembleWith": "Line"},
        TransformResources={
            "InstanceType": settings.transform.instance_type,
            "InstanceCount": settings.transform.instance_count,
        },
        MaxPayloadInMB=settings.transform.max_payload_mb,
        MaxConcurrentTransforms=settings.transform.max_concurrent_transforms,
    )

    def observe() -> Observation:
        job = sagemaker.describe_transform_job(TransformJobName=name)
        status = job["TransformJobStatus"]
        return Observation(status, job.get("FailureReason", ""), done=status in {"Completed", "Failed", "Stopped"})

    result: dict[str, Any] = {"job": name, "input": input_uri, "output": output_uri}
    result["status"] = context.wait(observe, f"transform {name}").state
    if result["status"] != "Completed":
        raise CheckFailedError(f"transform job {name} ended {result['status']}", result)
    return result


def _logs(context: Context) -> dict[str, Any]:
    args, deployment = context.args, context.deployment
    if args.job:
        group = TRANSFORM_JOB_LOG_GROUP if "transform" in args.job else TRAINING_JOB_LOG_GROUP
        prefix: str | None = f"{args.job}/"
    else:
        group, prefix = endpoint_log_group_name(deployment.endpoint_name), None
    logs = deployment.client("logs")
    since = datetime.now(UTC) - _duration(args.since)
    start_ms = int(since.timestamp() * 1000)
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + args.timeout
    while True:
        new = _log_events(logs, group, prefix, start_ms, args.limit - len(events))
        for event in new:
            if not args.json:
                _out(f"{_iso_ms(event['timestamp'])} {event.get('logStreamName', '')} {event['message'].rstrip()}")
        events.extend(new)
        if new:
            start_ms = max(e["timestamp"] for e in new) + 1
        if not args.follow or len(events) >= args.limit or time.monotonic() >= deadline:
            break
        time.sleep(args.poll_seconds)
    return {"log_group": group, "stream_prefix": prefix, "events": events if args.json else len(events)}


def _promote(context: Context) -> dict[str, Any]:
    args, deployment = context.args, context.deployment
    job = deployment.client("sagemaker").describe_training_job(TrainingJobName=args.job)
    artifacts = deployment.stack("Platform").output("ArtifactsBucketName")
    result: dict[str, Any] = {"job": args.job, "status": job["TrainingJobStatus"]}
    if job["TrainingJobStatus"] != "Completed":
        raise CheckFailedError(f"training job {args.job} is {job['TrainingJobStatus']}, not Completed", result)
    uri = job["ModelArtifacts"]["S3ModelArtifacts"]
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if bucket != artifacts:
        raise CheckFailedError(f"the model {uri} is not in this environment's artifacts bucket {artifacts}", result)
    result.update(
        model_artifact_key=key,
        pin=promotion_pin(deployment.settings.name.value, key),
    )
    return result


def _call_endpoint(deployment: Deployment, body: bytes, content_type: str) -> Any:
    answer = deployment.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=deployment.endpoint_name, Body=body, ContentType=content_type, Accept=content_type
    )
    text = answer["Body"].read().decode()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _log_events(logs: Any, group: str, prefix: str | None, start_ms: int, limit: int) -> list[dict[str, Any]]:
    query: dict[str, Any] = {"logGroupName": group, "startTime": start_ms}
    if prefix:
        query["logStreamNamePrefix"] = prefix
    events: list[dict[str, Any]] = []
    for page in logs.get_paginator("filter_log_events").paginate(**query):
        events.extend(page["events"])
        if len(events) >= limit:
            break
    return events[:limit]


def _name_value(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name:
        raise UsageError(f"--hyperparameter must be NAME=VALUE, got {item!r}")
    return name, value


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None


def _content_type(path: Path) -> str:
    try:
        return _CONTENT_TYPES[path.suffix.lower()]
    except KeyError:
        raise UsageError(
            f"cannot tell the content type of {path.name}: use .csv, .json, .jsonl or --content-type"
        ) from None


def _s3_uri(value: str, default_bucket: str) -> str:
    return value if value.startswith("s3://") else f"s3://{default_bucket}/{value.lstrip('/')}"


def _duration(value: str) -> timedelta:
    match = _DURATION.fullmatch(value)
    if not match:
        raise UsageError(f"--since must look like 30s, 10m, 2h or 1d, got {value!r}")
    return timedelta(seconds=int(match.group(1)) * _SECONDS[match.group(2)])


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _iso_ms(milliseconds: int) -> str:
    return datetime.fromtimestamp(milliseconds / 1000, UTC).isoformat(timespec="seconds")


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def _fail(args: argparse.Namespace, code: int, message: str) -> int:
    if args.json:
        _emit(args, {"ok": False, "exit_code": code, "error": message})
    else:
        _err(f"error: {message}")
    return code


def _emit(args: argparse.Namespace, result: dict[str, Any]) -> None:
    if args.json:
        _out(json.dumps(result, indent=2, default=str))
        return
    if not result.get("ok", True) and "error" in result:
        _err(f"FAILED: {result['error']}")
    for key, value in result.items():
        if key in {"ok", "error"} or value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        _out(f"{key.replace('_', ' ')}: {text}")
