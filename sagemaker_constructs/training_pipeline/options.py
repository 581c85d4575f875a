"""What a training pipeline is built from: its option types and their checks (SageMaker's limits)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import aws_cdk as cdk

from config.contract import (
    CONTAINER,
    GENERATED_EXECUTION_NAME_LENGTH,
    MAX_JOB_INSTANCE_COUNT,
    MAX_JOB_NAME_LENGTH,
    MAX_JOB_SECONDS,
    MAX_METRIC_DEFINITIONS,
    MAX_METRIC_NAME_LENGTH,
    MAX_METRIC_REGEX_LENGTH,
    MAX_TRAINING_VOLUME_GB,
    MAX_TRANSFORM_INVOCATION_SECONDS,
    MAX_TRANSFORM_PAYLOAD_MB,
    spot_wait_problem,
    transform_payload_problem,
)

_NAME_PREFIX = re.compile(r"[a-z0-9](-*[a-z0-9])*")
# The job waits for an answer as long as SageMaker allows, and the container's server as long as it can.
_LONGEST_INVOCATION = min(MAX_TRANSFORM_INVOCATION_SECONDS, CONTAINER.limits.max_server_timeout_seconds)


@dataclass(frozen=True)
class TrainingJobOptions:
    """The training step: its defaults (an execution may override instances and hyperparameters) and limits.

    `max_wait` turns on managed spot training: SageMaker waits up to `max_wait` in all (spot capacity
    plus `max_runtime`) and resumes from the job's checkpoints after an interruption.
    """

    instance_type: str
    instance_count: int = 1
    volume_size_gb: int = 30
    max_runtime: cdk.Duration = cdk.Duration.days(1)
    max_wait: cdk.Duration | None = None
    input_mode: Literal["File", "FastFile"] = "File"
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    # How the train channel's files reach several instances; validation is always FullyReplicated (every
    # instance evaluates all of it, so all stop early together). Both work with the container.
    train_data_distribution: Literal["FullyReplicated", "ShardedByS3Key"] = "FullyReplicated"
    # EnableNetworkIsolation: the container reaches no network; SageMaker still brings the channels and the
    # model's output, and a distributed job's hosts still talk to each other (docs/security.md).
    network_isolation: bool = False
    # VpcConfig: the job's instances in these subnets and security groups (both or neither).
    vpc_subnet_ids: Sequence[str] = ()
    vpc_security_group_ids: Sequence[str] = ()


@dataclass(frozen=True)
class TransformJobOptions:
    """The batch transform step. The container answers the same in `/execution-parameters`.

    The job passes `max_payload_mb` and `max_concurrent_transforms` to the container as
    SAGEMAKER_MAX_PAYLOAD_IN_MB and SAGEMAKER_MODEL_SERVER_WORKERS (one worker per concurrent
    request), so the job's settings and the server's cannot disagree.
    """

    instance_type: str
    instance_count: int = 1
    max_payload_mb: int = 6
    max_concurrent_transforms: int = 1
    invocation_timeout: cdk.Duration = cdk.Duration.minutes(10)
    # The approved model package version the job scores with (the environment's pin), in place of the model the
    # run trained (None). CreateModel's ModelPackageName: its ARN, spelled without a lookup.
    model_package_arn: str | None = None


@dataclass(frozen=True)
class QualityGate:
    """Evaluate step: the training job's final `metric` must reach `threshold`, or no model is created."""

    metric: str
    threshold: float
    higher_is_better: bool = True


def name_prefix_problems(name_prefix: str) -> list[str]:
    longest = MAX_JOB_NAME_LENGTH - 1 - GENERATED_EXECUTION_NAME_LENGTH
    if not _NAME_PREFIX.fullmatch(name_prefix) or len(name_prefix) > longest:
        return [
            f"name_prefix must be 1-{longest} lowercase letters, digits or '-' (so that "
            f"<prefix>-<generated execution name> fits SageMaker's {MAX_JOB_NAME_LENGTH} characters), "
            f"got {name_prefix!r}"
        ]
    return []


def metric_definitions_problems(definitions: Sequence[Mapping[str, str]]) -> list[str]:
    if not 1 <= len(definitions) <= MAX_METRIC_DEFINITIONS:
        return [f"metric_definitions must hold 1-{MAX_METRIC_DEFINITIONS} entries, got {len(definitions)}"]
    problems = []
    names: set[str] = set()
    for index, definition in enumerate(definitions):
        where = f"metric_definitions[{index}]"
        if set(definition) != {"Name", "Regex"}:
            problems.append(f"{where} must have exactly Name and Regex, got {sorted(definition)}")
            continue
        name, regex = definition["Name"], definition["Regex"]
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_METRIC_NAME_LENGTH:
            problems.append(f"{where}.Name must be 1-{MAX_METRIC_NAME_LENGTH} characters")
        elif name in names:
            problems.append(f"{where}.Name {name!r} is defined twice")
        names.add(name)
        if not isinstance(regex, str) or not 1 <= len(regex) <= MAX_METRIC_REGEX_LENGTH:
            problems.append(f"{where}.Regex must be 1-{MAX_METRIC_REGEX_LENGTH} characters")
            continue
        try:
            compiled = re.compile(regex)
        except re.error as error:
            problems.append(f"{where}.Regex is not a regular expression: {error}")
            continue
        if compiled.groups < 1:
            problems.append(f"{where}.Regex must capture the value in a group")
    return problems


def quality_gate_problems(gate: QualityGate | None, definitions: Sequence[Mapping[str, str]]) -> list[str]:
    if gate is not None and gate.metric not in {d.get("Name") for d in definitions}:
        known = ", ".join(str(d.get("Name")) for d in definitions)
        return [f"quality_gate.metric must be one of the metric definitions ({known}), got {gate.metric!r}"]
    return []


def training_problems(training: TrainingJobOptions) -> list[str]:
    problems = []
    runtime = training.max_runtime.to_seconds()
    if not 1 <= runtime <= MAX_JOB_SECONDS:
        problems.append(f"training.max_runtime must be 1 s to 28 days, got {runtime:g} s")
    elif training.max_wait is not None:
        problem = spot_wait_problem(
            runtime, training.max_wait.to_seconds(), runtime_name="max_runtime", wait_name="max_wait", unit=" s"
        )
        if problem:
            problems.append(f"training.{problem}")
    if not 1 <= training.instance_count <= MAX_JOB_INSTANCE_COUNT:
        problems.append(f"training.instance_count must be 1-{MAX_JOB_INSTANCE_COUNT}, got {training.instance_count}")
    if not 1 <= training.volume_size_gb <= MAX_TRAINING_VOLUME_GB:
        problems.append(f"training.volume_size_gb must be 1-{MAX_TRAINING_VOLUME_GB}, got {training.volume_size_gb}")
    if training.input_mode not in {"File", "FastFile"}:
        problems.append(f"training.input_mode must be File or FastFile, got {training.input_mode!r}")
    problems += [
        f"training.hyperparameters[{name!r}] must be a string (SageMaker passes strings)"
        for name, value in training.hyperparameters.items()
        if not isinstance(value, str)
    ]
    if bool(training.vpc_subnet_ids) != bool(training.vpc_security_group_ids):
        problems.append("training.vpc_subnet_ids and vpc_security_group_ids go together: give both or neither")
    return problems


def transform_problems(transform: TransformJobOptions) -> list[str]:
    problems = []
    if not 1 <= transform.max_payload_mb <= MAX_TRANSFORM_PAYLOAD_MB:
        problems.append(
            f"transform.max_payload_mb must be 1-{MAX_TRANSFORM_PAYLOAD_MB}, got {transform.max_payload_mb}"
        )
    if transform.max_concurrent_transforms < 1:
        problems.append(
            f"transform.max_concurrent_transforms must be at least 1, got {transform.max_concurrent_transforms}"
        )
    if not problems:
        problem = transform_payload_problem(transform.max_payload_mb, transform.max_concurrent_transforms)
        if problem:
            problems.append(f"transform.{problem}")
    if transform.instance_count < 1:
        problems.append(f"transform.instance_count must be at least 1, got {transform.instance_count}")
    timeout = transform.invocation_timeout.to_seconds(integral=False)
    if timeout != int(timeout) or not 1 <= timeout <= _LONGEST_INVOCATION:
        problems.append(
            f"transform.invocation_timeout must be 1-{_LONGEST_INVOCATION} s in whole seconds, got {timeout:g} s"
        )
    return problems


def metric_definitions_from_json(text: str) -> list[dict[str, str]]:
    """Parse a MetricDefinitions JSON document (the container's metric_definitions.json)."""
    parsed = json.loads(text)
    if not isinstance(parsed, list) or not all(isinstance(d, dict) for d in parsed):
        raise ValueError('metric definitions must be a JSON list of {"Name": ..., "Regex": ...} objects')
    problems = metric_definitions_problems(parsed)
    if problems:
        raise ValueError("; ".join(problems))
    return parsed
