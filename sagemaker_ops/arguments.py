"""The operations CLI's argument values, checked before the first AWS call.

argparse calls the `type=` functions while it parses; the `check_*` functions run once the
environment's configuration is loaded (train's hyperparameters are checked merged over the
configured ones, as the pipeline merges them). A bad value raises ArgumentTypeError or UsageError
with one line naming the option and what it allows; `cli.main` exits 2 (USAGE) with that line.
Limits come from botocore's service models (name patterns, payload sizes) and `config.contract`.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.loaders import create_loader
from botocore.model import ServiceModel

from config import EnvironmentConfig
from config.aws_catalog import did_you_mean, model_package_version_digits, regions
from config.contract import MAX_JOB_SECONDS
from config.endpoint import VERSION_NUMBER, PackageVersion
from config.hyperparameters import load_schema
from config.registry_metadata import data_prefix_problem, metadata_problems, tuned_metadata_problems

CONTENT_TYPES = {".csv": "text/csv", ".json": "application/json", ".jsonl": "application/jsonlines"}
# A pipeline run waits for a training job and then a transform job, each at most SageMaker's longest job.
MAX_WAIT_SECONDS = 2 * MAX_JOB_SECONDS
MAX_POLL_SECONDS = 3600.0
# Faster polling than this only spends the account's API rate (the emulator tests poll every 0.05 s).
MIN_POLL_SECONDS = 0.01
# The longest retention CloudWatch Logs offers (10 years): nothing older can be there.
MAX_SINCE = timedelta(days=3653)
MAX_LOG_EVENTS = 100_000
_DIGITS = re.compile(r"[0-9]{1,9}")
_DURATION = re.compile(r"([0-9]{1,9})([smhd])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_CONTENT_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(;[ -~]*)?")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_EXECUTION_ARN = re.compile(r"arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:execution:[^:\s]{1,80}:[^:\s]{1,80}")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f\s]")


class UsageError(ValueError):
    """A bad argument value; the message names the option and what it allows."""


@cache
def _service_model(service: str) -> ServiceModel:
    # The loader alone: a session would resolve AWS_PROFILE first, and fail on an unknown one.
    return ServiceModel(create_loader().load_service_model(service, "service-2"), service_name=service)


@cache
def _shape(service: str, shape: str, member: str | None = None) -> dict[str, Any]:
    """The metadata (min, max, pattern) botocore's model of `service` gives a shape or one of its members."""
    model = _service_model(service).shape_for(shape)
    metadata: dict[str, Any] = (model.members[member] if member else model).metadata
    return metadata


def _job_name_pattern() -> re.Pattern[str]:
    return re.compile(_shape("sagemaker", "TrainingJobName")["pattern"])


def max_request_bytes() -> int:
    """The largest body InvokeEndpoint takes (6 MB)."""
    return int(_shape("sagemaker-runtime", "InvokeEndpointInput", "Body")["max"])


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


@dataclass(frozen=True)
class Bounded:
    """A `type=` for a number within bounds that says them: the help shows `allowed`, the error repeats it."""

    allowed: str
    parse: Callable[[str], float]

    def __call__(self, text: str) -> float:
        return self.parse(text)


def seconds(high: float) -> Bounded:
    """A number of seconds from MIN_POLL_SECONDS to `high`."""
    allowed = f"a number of seconds from {MIN_POLL_SECONDS:g} to {high:.10g}"

    def parse(text: str) -> float:
        value = _number(text, allowed)
        if not MIN_POLL_SECONDS <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {text!r}")
        return value

    return Bounded(allowed, parse)


def count(high: int) -> Bounded:
    """A whole number from 1 to `high`."""
    allowed = f"a whole number from 1 to {high}"

    def parse(text: str) -> int:
        digits = text.strip()
        if not _DIGITS.fullmatch(digits) or not 1 <= int(digits) <= high:
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {text!r}")
        return int(digits)

    return Bounded(allowed, parse)


def duration(text: str) -> timedelta:
    """`--since`: 30s, 10m, 2h or 1d, up to the longest log retention."""
    match = _DURATION.fullmatch(text)
    allowed = f"a duration such as 30s, 10m, 2h or 1d, from 1s to {MAX_SINCE.days}d"
    if not match or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"must be {allowed}, got {text!r}")
    value = timedelta(seconds=int(match.group(1)) * _SECONDS[match.group(2)])
    if value > MAX_SINCE:
        raise argparse.ArgumentTypeError(f"must be {allowed} (the longest log retention), got {text!r}")
    return value


def name(text: str) -> str:
    """A non-blank name of one line (`--profile`)."""
    if not text.strip() or _UNPRINTABLE.search(text):
        raise argparse.ArgumentTypeError(f"must be a name without spaces or control characters, got {text!r}")
    return text


def region(text: str) -> str:
    """An AWS region of any partition (botocore's data)."""
    known = regions()
    if text not in known:
        hint = did_you_mean(text, known)
        raise argparse.ArgumentTypeError(f"must be an AWS region of botocore's partitions{hint} (got {text!r})")
    return text


def endpoint_url(text: str) -> str:
    """An http(s) URL with a host (and an optional port): where every AWS call goes."""
    problem = _url_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(f"{problem}, got {text!r}")
    return text


def _url_problem(text: str) -> str:
    allowed = "must be an http:// or https:// URL with a host, e.g. http://localhost:5000"
    if _UNPRINTABLE.search(text):
        return allowed
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
    except ValueError:
        return allowed
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return allowed
    return ""


def job_name(text: str) -> str:
    """A SageMaker job name (CreateTrainingJob's pattern, 1-63 characters)."""
    if not _job_name_pattern().fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"must be a SageMaker job name: 1-63 letters, digits or '-', starting and ending with a letter or "
            f"digit, got {text!r}"
        )
    return text


def execution_arn(text: str) -> str:
    """A Step Functions execution ARN."""
    if len(text) > 256 or not _EXECUTION_ARN.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"must be an execution ARN, arn:aws:states:<region>:<account>:execution:<state machine>:<name>, "
            f"got {text!r}"
        )
    return text


def package(text: str) -> str:
    """`--package`: a version number, `<group>/<version>` or a model package version's ARN."""
    if not re.fullmatch(VERSION_NUMBER, text):
        try:
            PackageVersion.parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be a model package version: <n>, <group>/<n> or arn:aws:sagemaker:<region>:<account>:"
                f"model-package/<group>/<n>, n 1 to {model_package_version_digits()} digits, got {text!r}"
            ) from None
    return text


def reason(text: str) -> str:
    """`--reason`: UpdateModelPackage's ApprovalDescription (1-1024 characters)."""
    high = _shape("sagemaker", "ApprovalDescription")["max"]
    if not text.strip() or len(text) > high:
        raise argparse.ArgumentTypeError(f"must be 1-{high} characters, not blank, got {len(text)}")
    return text


def _key_problem(text: str) -> str:
    if not text.strip("/"):
        return "must not be empty: it would select the whole bucket"
    if text.startswith("/"):
        return "must not start with '/'"
    if _UNPRINTABLE.search(text):
        return "must not contain spaces or control characters"
    if "//" in text.rstrip("/"):
        return "must not contain an empty path segment ('//')"
    if len(text.encode()) > _shape("sagemaker", "S3Uri")["max"] - len("s3://x/"):
        return f"must be at most {_shape('sagemaker', 'S3Uri')['max']} bytes with the bucket"
    return ""


def data_prefix(text: str) -> str:
    """`train --data-prefix`: a key prefix in the data bucket; the pipeline takes it without a trailing '/'."""
    if "://" in text or text.lower().startswith("s3:"):
        raise argparse.ArgumentTypeError(
            f"must be a key prefix in the data bucket, not a URL (e.g. training/2026-11), got {text!r}"
        )
    problem = _key_problem(text) or data_prefix_problem(text.rstrip("/"))
    if problem:
        raise argparse.ArgumentTypeError(f"{problem}, got {text!r}")
    return text.rstrip("/")


def s3_uri(text: str) -> str:
    """An s3://<bucket>/<key> URI."""
    bucket, _, key = text.removeprefix("s3://").partition("/")
    if not text.startswith("s3://") or not _BUCKET.fullmatch(bucket):
        raise argparse.ArgumentTypeError(f"must be an s3://<bucket>/<prefix> URI, got {text!r}")
    if key:
        problem = _key_problem(key)
        if problem:
            raise argparse.ArgumentTypeError(f"the key {problem}, got {text!r}")
    return text


def s3_uri_or_prefix(text: str) -> str:
    """`transform --input`: an s3:// URI, or a key prefix in the data bucket."""
    if "://" in text:
        return s3_uri(text)
    problem = _key_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(f"{problem} (an s3:// URI or a key prefix in the data bucket), got {text!r}")
    return text


def content_type(text: str) -> str:
    """A MIME type such as text/csv (ASCII, at most 256 characters: CreateTransformJob's limit)."""
    if len(text) > _shape("sagemaker", "ContentType")["max"] or not _CONTENT_TYPE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"must be a MIME type such as text/csv or application/json, got {text!r}")
    return text


def hyperparameter(text: str) -> tuple[str, str]:
    """`-p NAME=VALUE` (the value may contain '='; the container's schema is checked in check_train)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"must be NAME=VALUE, got {text!r}")
    longest = _shape("sagemaker", "HyperParameterValue")["max"]
    if len(value) > longest:
        raise argparse.ArgumentTypeError(f"{key}: a value is at most {longest} characters (SageMaker's limit)")
    return key, value


def request_file(text: str) -> Path:
    """`--file`: a readable, non-empty regular file no larger than InvokeEndpoint takes."""
    path = Path(text)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot read {text!r}: {error.strerror}") from None
    except ValueError:
        raise argparse.ArgumentTypeError(f"cannot read {text!r}: not a file name") from None
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text!r} is not a regular file")
    if not 0 < size <= max_request_bytes():
        raise argparse.ArgumentTypeError(f"{text!r} has {size} bytes; a request has 1 to {max_request_bytes()}")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"cannot read {text!r}: permission denied")
    return path


def row(text: str) -> str:
    """`smoke --row`: one non-blank CSV line."""
    if not text.strip() or "\n" in text or "\r" in text:
        raise argparse.ArgumentTypeError(f"must be one non-blank CSV line of features, got {text!r}")
    if len(text.encode()) > max_request_bytes():
        raise argparse.ArgumentTypeError(f"must be at most {max_request_bytes()} bytes")
    return text


def content_type_of(path: Path) -> str:
    """The content type of a request file, from its extension."""
    try:
        return CONTENT_TYPES[path.suffix.lower()]
    except KeyError:
        raise UsageError(
            f"cannot tell the content type of {path.name}: use .csv, .json, .jsonl or --content-type"
        ) from None


# ----- checks that need the configuration or several arguments ---------------------------------------


def check_common(args: argparse.Namespace, _settings: EnvironmentConfig) -> None:
    """What every command shares: boto3's own AWS_ENDPOINT_URL is held to --endpoint-url's rule."""
    environment_url = os.environ.get("AWS_ENDPOINT_URL")
    if args.endpoint_url is None and environment_url is not None:
        problem = _url_problem(environment_url)
        if problem:
            raise UsageError(f"environment variable AWS_ENDPOINT_URL {problem}, got {environment_url!r}")


def check_train(args: argparse.Namespace, settings: EnvironmentConfig) -> None:
    """`-p` values, merged over the environment's hyperparameters as the pipeline does, pass the container's schema."""
    given: dict[str, str] = {}
    for key, value in args.hyperparameter:
        if key in given:
            raise UsageError(f"argument --hyperparameter/-p: {key} is given twice")
        given[key] = value
    merged = {**settings.training.hyperparameters, **given}
    # The pipeline registers the model with these as its version's metadata: refuse what AWS would refuse there.
    problems = metadata_problems(merged) + load_schema().problems(merged, complete=True)
    tuning = settings.tuning
    if tuning is not None and (args.tuning == "on" or (args.tuning is None and tuning.enabled)):
        # A tuned run registers its best job, whose metadata also holds every tuned range (--tuning-range narrows
        # one, never adds one) and the objective: counted as the configuration counts them.
        ranges = {name: spec.values for name, spec in tuning.ranges.items()}
        problems += tuned_metadata_problems(merged, ranges, tuning.objective)
    if problems:
        where = f"training.hyperparameters of environments.{settings.name.value}"
        hint = (
            f" (give it with -p NAME=VALUE or in {where})" if any(p.endswith(" is required") for p in problems) else ""
        )
        raise UsageError(f"argument --hyperparameter/-p: {'; '.join(problems)}{hint}")


def check_request(args: argparse.Namespace, _settings: EnvironmentConfig) -> None:
    """`invoke` and `smoke`: a file's content type is known (from its extension or --content-type)."""
    if getattr(args, "file", None) is not None and getattr(args, "content_type", None) is None:
        content_type_of(args.file)


def check_logs(args: argparse.Namespace, _settings: EnvironmentConfig) -> None:
    """`--kind` says which kind of job `--job` is; without a job there is nothing to qualify."""
    if args.kind is not None and args.job is None:
        raise UsageError("argument --kind: applies to --job only (the endpoint's logs have one log group)")
