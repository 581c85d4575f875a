"""Every value two parts of the project must agree on, written once.

- What the container exports (`container/interface.json`: its environment variables, file names,
  limits and metric names). The container has its own build context and cannot import the app, so
  it writes that file from its own code; this module reads it, checks its shape and exposes typed
  constants. `tests/test_contract.py` pins the file to every name the app uses.
- SageMaker's and Step Functions' limits, and the checks that more than one layer applies
  (configuration at load time, constructs at synth time).
- The names of an environment's resources (`<app>-<environment>`: the endpoint, its jobs' prefix).
- The training pipeline's input document (the state machine reads it, `sagemaker_ops train` writes it).
- Log group names SageMaker writes to (constructs create and watch them, `sagemaker_ops logs` reads them).
- Where endpoints capture data, and the S3 request-metrics filter the dashboard reads.

Plain Python, no CDK: the configuration, the constructs, the stacks and the ops CLI all import it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

CONTAINER_DIRECTORY = Path(__file__).resolve().parent.parent / "container"
CONTAINER_INTERFACE_FILE = CONTAINER_DIRECTORY / "interface.json"


# ----- the container's interface (container/interface.json) ---------------------------------------


@dataclass(frozen=True)
class ContainerEnvironment:
    """Names of the environment variables the container reads."""

    algorithm_module: str
    bind_to_port: str
    max_payload_mb: str
    metrics_endpoint_name: str
    metrics_model_version: str
    metrics_namespace: str
    request_log_errors: str
    request_log_interval_seconds: str
    request_log_successes: str
    server_timeout: str
    server_workers: str


@dataclass(frozen=True)
class ContainerFiles:
    """Names of the files the container reads or writes (under /opt/ml/... or next to it)."""

    algorithm: str
    failure: str
    hyperparameters: str
    metadata: str
    metric_definitions: str


@dataclass(frozen=True)
class ContainerLimits:
    """The largest values the container accepts for its settings."""

    max_payload_mb: int
    max_server_timeout_seconds: int


@dataclass(frozen=True)
class ContainerMetrics:
    """The container's embedded-metric-format (EMF) metrics: names and dimension sets.

    `client_errors` are the caller's mistakes (never a reason to roll back); `model_errors` are
    well-formed requests the model rejects and `server_errors` 5xx answers: both are the container's.
    """

    client_errors: str
    dimensions: tuple[tuple[str, ...], ...]
    model_errors: str
    requests: str
    rows: str
    server_errors: str


@dataclass(frozen=True)
class DriftMetrics:
    """The drift check's metrics: per feature (by EndpointName and `feature_dimension`) and overall."""

    # One typed field per key of the file, as in the classes above: alike in shape, each a different name.
    corrupt_records: str
    drifted_features: str
    feature_drift: str
    feature_ks_statistic: str
    mismatched_records: str
    missing_rate: str
    missing_rate_max: str
    out_of_range_rate: str
    out_of_range_rate_max: str
    overall_drift: str
    prediction_drift: str
    rows_analyzed: str
    unmatched_predictions: str


@dataclass(frozen=True)
class DriftSetting:
    """One of the drift check's settings: its environment variable and the container's default."""

    variable: str
    default: float


@dataclass(frozen=True)
class ContainerDrift:
    """The drift check's processing job (`<image> monitor`): paths, settings, histogram bins and metrics."""

    argument: str
    bins: int
    psi_threshold: DriftSetting
    min_rows: DriftSetting
    window_variable: str
    endpoint_dimension: str
    feature_dimension: str
    baseline_path: str
    capture_path: str
    output_path: str
    metrics: DriftMetrics


@dataclass(frozen=True)
class ContainerInterface:
    """Everything `container/interface.json` says."""

    drift: ContainerDrift
    environment: ContainerEnvironment
    files: ContainerFiles
    limits: ContainerLimits
    metrics: ContainerMetrics


def load_container_interface(path: Path = CONTAINER_INTERFACE_FILE) -> ContainerInterface:
    """Read and check the container's interface file; ValueError names the file and the key."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"cannot read the container's interface {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    sections = _section(document, "", path, {"drift", "environment", "files", "limits", "metrics"})
    environment = _section(sections["environment"], "environment", path, _names(ContainerEnvironment))
    files = _section(sections["files"], "files", path, _names(ContainerFiles))
    limits = _section(sections["limits"], "limits", path, _names(ContainerLimits))
    metrics = _section(sections["metrics"], "metrics", path, _names(ContainerMetrics))
    for where, values in (("environment", environment), ("files", files)):
        _all_names(values, where, path)
    for key, value in limits.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{path}: limits.{key} must be a positive integer, got {value!r}")
    dimensions = metrics.pop("dimensions")
    _all_names(metrics, "metrics", path)
    if (
        not isinstance(dimensions, list)
        or not dimensions
        or not all(isinstance(d, list) and d and all(_is_name(n) for n in d) for d in dimensions)
    ):
        raise ValueError(f"{path}: metrics.dimensions must be a non-empty list of lists of names, got {dimensions!r}")
    return ContainerInterface(
        drift=_drift(sections["drift"], path),
        environment=ContainerEnvironment(**environment),
        files=ContainerFiles(**files),
        limits=ContainerLimits(**limits),
        metrics=ContainerMetrics(**metrics, dimensions=tuple(tuple(d) for d in dimensions)),
    )


def _drift(value: Any, path: Path) -> ContainerDrift:
    keys = {"argument", "bins", "defaults", "dimensions", "environment", "metrics", "paths"}
    drift = _section(value, "drift", path, keys)
    settings = {"min_rows", "psi_threshold"}
    defaults = _section(drift["defaults"], "drift.defaults", path, settings)
    environment = _section(drift["environment"], "drift.environment", path, settings | {"window"})
    paths = _section(drift["paths"], "drift.paths", path, {"baseline", "capture", "output"})
    dimensions = _section(drift["dimensions"], "drift.dimensions", path, {"endpoint", "feature"})
    metrics = _section(drift["metrics"], "drift.metrics", path, _names(DriftMetrics))
    for where, values in (("environment", environment), ("paths", paths), ("dimensions", dimensions)):
        _all_names(values, f"drift.{where}", path)
    _all_names(metrics, "drift.metrics", path)
    _all_names({"argument": drift["argument"]}, "drift", path)
    for key, number in (("bins", drift["bins"]), *(("defaults." + k, v) for k, v in defaults.items())):
        if not isinstance(number, int | float) or isinstance(number, bool) or not number > 0:
            raise ValueError(f"{path}: drift.{key} must be a number above 0, got {number!r}")
    return ContainerDrift(
        argument=drift["argument"],
        bins=int(drift["bins"]),
        psi_threshold=DriftSetting(environment["psi_threshold"], defaults["psi_threshold"]),
        min_rows=DriftSetting(environment["min_rows"], defaults["min_rows"]),
        window_variable=environment["window"],
        endpoint_dimension=dimensions["endpoint"],
        feature_dimension=dimensions["feature"],
        baseline_path=paths["baseline"],
        capture_path=paths["capture"],
        output_path=paths["output"],
        metrics=DriftMetrics(**metrics),
    )


def _names(kind: type) -> set[str]:
    return {f.name for f in fields(kind)}


def _section(value: Any, where: str, path: Path, keys: set[str]) -> dict[str, Any]:
    label = where or "the document"
    if not isinstance(value, dict):
        raise ValueError(f"{path}: {label} must be a JSON object, got {type(value).__name__}")
    if set(value) != keys:
        missing, unknown = sorted(keys - set(value)), sorted(set(value) - keys)
        raise ValueError(
            f"{path}: {label} must have exactly the keys {sorted(keys)} (missing {missing}, unknown {unknown})"
        )
    return dict(value)


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and not value.isspace()


def _all_names(values: dict[str, Any], where: str, path: Path) -> None:
    for key, value in values.items():
        if not _is_name(value):
            raise ValueError(f"{path}: {where}.{key} must be a non-empty string, got {value!r}")


CONTAINER = load_container_interface()

# The environment variables the models and jobs set for the container.
CONTAINER_MAX_PAYLOAD_VARIABLE = CONTAINER.environment.max_payload_mb
CONTAINER_METRICS_ENDPOINT_VARIABLE = CONTAINER.environment.metrics_endpoint_name
CONTAINER_METRICS_MODEL_VERSION_VARIABLE = CONTAINER.environment.metrics_model_version
CONTAINER_METRICS_NAMESPACE_VARIABLE = CONTAINER.environment.metrics_namespace
CONTAINER_SERVER_TIMEOUT_VARIABLE = CONTAINER.environment.server_timeout
CONTAINER_SERVER_WORKERS_VARIABLE = CONTAINER.environment.server_workers
# The container's metrics (EMF, written to its log; CloudWatch Logs turns them into metrics).
CONTAINER_REQUESTS = CONTAINER.metrics.requests
CONTAINER_REQUEST_ROWS = CONTAINER.metrics.rows
CONTAINER_CLIENT_ERRORS = CONTAINER.metrics.client_errors
CONTAINER_MODEL_ERRORS = CONTAINER.metrics.model_errors
CONTAINER_SERVER_ERRORS = CONTAINER.metrics.server_errors
CONTAINER_METRIC_DIMENSIONS = CONTAINER.metrics.dimensions
# The drift check (a processing job on the image): its paths, variables, defaults and metrics.
CONTAINER_DRIFT = CONTAINER.drift
# The training job's MetricDefinitions, the regexes the container's training log is written for.
METRIC_DEFINITIONS_FILE = CONTAINER_DIRECTORY / CONTAINER.files.metric_definitions
# What the algorithm declares besides its hyperparameters (config/algorithm.py reads it), and its schema.
ALGORITHM_FILE = CONTAINER_DIRECTORY / CONTAINER.files.algorithm
HYPERPARAMETERS_FILE = CONTAINER_DIRECTORY / CONTAINER.files.hyperparameters
# The one implementation of hyperparameter schemas, in the image's build context (config/hyperparameters.py).
HYPERSCHEMA_DIRECTORY = CONTAINER_DIRECTORY / "hyperschema"


# ----- names of an environment's resources ------------------------------------------------------------


def environment_prefix(app_name: str, environment: str) -> str:
    """`<app>-<environment>`: the endpoint's name and the prefix of every job, model and log group it runs.

    The stacks name the endpoint with it, the deployment role scopes InvokeEndpoint to it, and
    `sagemaker_ops` finds the environment's jobs by it.
    """
    return f"{app_name}-{environment}"


# ----- SageMaker's and Step Functions' limits -------------------------------------------------------

# CreateTrainingJob / CreateTransformJob / CreateModel: names of at most 63 characters.
MAX_JOB_NAME_LENGTH = 63
# StartExecution names an execution with a UUID (36 characters) unless the caller names it.
GENERATED_EXECUTION_NAME_LENGTH = 36
# CreateTrainingJob: AlgorithmSpecification.MetricDefinitions.
MAX_METRIC_DEFINITIONS = 40
MAX_METRIC_NAME_LENGTH = 255
MAX_METRIC_REGEX_LENGTH = 500
# CreateTrainingJob: MaxRuntimeInSeconds and MaxWaitTimeInSeconds at most 28 days.
MAX_JOB_SECONDS = 28 * 24 * 3600
# CreateTrainingJob: ResourceConfig.InstanceCount at most 100 (the app holds transform jobs to the same).
MAX_JOB_INSTANCE_COUNT = 100
# CreateTrainingJob: ResourceConfig.VolumeSizeInGB.
MAX_TRAINING_VOLUME_GB = 16384
# CreateTransformJob: MaxPayloadInMB at most 100, and MaxConcurrentTransforms x MaxPayloadInMB too.
MAX_TRANSFORM_PAYLOAD_MB = 100
# CreateTransformJob: ModelClientConfig.InvocationsTimeoutInSeconds.
MAX_TRANSFORM_INVOCATION_SECONDS = 3600
# SageMaker answers a real-time invocation within 60 s or fails it; the server must give up first.
MAX_REALTIME_INVOCATION_SECONDS = 60
# CreateEndpointConfig / UpdateEndpoint, in seconds.
HEALTH_CHECK_TIMEOUT_RANGE = (60, 3600)
DOWNLOAD_TIMEOUT_RANGE = (60, 3600)
WAIT_RANGE = (0, 3600)
EXECUTION_TIMEOUT_RANGE = (600, 28800)
SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)
SERVERLESS_MAX_CONCURRENCY = 200
# Serverless memory comes in 1 GB steps between the API's bounds (1024-6144 MB in botocore's model).
SERVERLESS_MEMORY_STEP_MB = 1024
# The largest fleet (initial instances, autoscaling or scheduled max_capacity) a variant may ask for.
# SageMaker's own limits are per-account quotas (Service Quotas), far lower by default; this ceiling
# stops a typo (100000) at synthesis instead of at the first scale-out. A larger fleet is a
# reviewed change of this constant.
MAX_ENDPOINT_INSTANCES = 100


def spot_wait_problem(
    max_runtime_seconds: float,
    max_wait_seconds: float,
    *,
    runtime_name: str = "max_runtime_seconds",
    wait_name: str = "max_wait_seconds",
    unit: str = "",
) -> str | None:
    """What is wrong with a managed spot job's times (None when nothing is), in the caller's field names."""
    if not max_runtime_seconds < max_wait_seconds <= MAX_JOB_SECONDS:
        return (
            f"{wait_name} ({max_wait_seconds:g}{unit}) must exceed {runtime_name} ({max_runtime_seconds:g}{unit}) "
            f"and be at most {MAX_JOB_SECONDS}{unit} (28 days): it includes the time spent waiting for spot capacity"
        )
    return None


def transform_payload_problem(max_payload_mb: int, max_concurrent_transforms: int) -> str | None:
    """What is wrong with a transform job's payload settings (None when nothing is)."""
    total = max_payload_mb * max_concurrent_transforms
    if total > MAX_TRANSFORM_PAYLOAD_MB:
        return (
            f"max_concurrent_transforms x max_payload_mb ({max_concurrent_transforms} x {max_payload_mb} = {total}) "
            f"must not exceed {MAX_TRANSFORM_PAYLOAD_MB} MB (SageMaker's limit)"
        )
    return None


# ----- the training pipeline's input document --------------------------------------------------------

# Only `data_prefix` is required; the state machine fills in the others from the configuration.
INPUT_DATA_PREFIX = "data_prefix"
INPUT_SCORE_PREFIX = "score_prefix"
INPUT_OUTPUT_PREFIX = "output_prefix"
INPUT_HYPERPARAMETERS = "hyperparameters"
INPUT_INSTANCE_TYPE = "instance_type"
INPUT_INSTANCE_COUNT = "instance_count"
INPUT_TRANSFORM_INSTANCE_TYPE = "transform_instance_type"
INPUT_TRANSFORM_INSTANCE_COUNT = "transform_instance_count"
INPUT_COMMIT = "commit"
DEFAULT_OUTPUT_PREFIX = "pipeline"
DEFAULT_COMMIT = "unknown"


# ----- log groups ------------------------------------------------------------------------------------

# SageMaker writes every training, batch transform and processing job (the drift checks) of an account and
# region here.
TRAINING_JOB_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
TRANSFORM_JOB_LOG_GROUP = "/aws/sagemaker/TransformJobs"
PROCESSING_JOB_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
SAGEMAKER_JOB_LOG_GROUPS = (TRAINING_JOB_LOG_GROUP, TRANSFORM_JOB_LOG_GROUP, PROCESSING_JOB_LOG_GROUP)
ENDPOINT_LOG_GROUP_PREFIX = "/aws/sagemaker/Endpoints"


def endpoint_log_group_name(endpoint_name: str) -> str:
    """Where SageMaker writes an endpoint's containers' output: /aws/sagemaker/Endpoints/<name>."""
    return f"{ENDPOINT_LOG_GROUP_PREFIX}/{endpoint_name}"


# The app's state machines, by what their log groups are named after.
TRAINING_PIPELINE_STATE_MACHINE = "training-pipeline"
DRIFT_MONITOR_STATE_MACHINE = "drift-monitor"


def state_machine_log_group_name(name_prefix: str, state_machine: str) -> str:
    """A state machine's log: /aws/vendedlogs/states/<name_prefix>-<state_machine> (vended logs need the prefix)."""
    return f"/aws/vendedlogs/states/{name_prefix}-{state_machine}"


# ----- data capture ----------------------------------------------------------------------------------

# Where endpoints capture requests and responses, in the artifacts bucket, and the bucket's S3
# request-metrics filter over that prefix (the dashboard's data-capture widget reads it).
DATA_CAPTURE_PREFIX = "data-capture/"
DATA_CAPTURE_METRICS_FILTER = "DataCapture"


# ----- hyperparameter tuning -------------------------------------------------------------------------

# The execution's input: `tuning` (true/false) runs a tuning job or the single training job (default:
# the configuration's `enabled`); `tuning_ranges` narrows numeric ranges, {"<name>": {"min": x, "max": y}};
# `tuning_parent` names the tuning job a warm start continues (sagemaker_ops train finds it).
INPUT_TUNING = "tuning"
INPUT_TUNING_RANGES = "tuning_ranges"
INPUT_TUNING_PARENT = "tuning_parent"
# CreateHyperParameterTuningJob: HyperParameterTuningJobName of at most 32 characters.
MAX_TUNING_JOB_NAME_LENGTH = 32
# The tuning job's name ends with at least this many hex digits of a hash of the execution's name.
MIN_TUNING_NAME_HASH_LENGTH = 8
# SageMaker's quotas (botocore documents only the minimum of 1): training jobs per tuning job, those
# running at once, and hyperparameters searched.
MAX_TUNING_TRAINING_JOBS = 750
MAX_TUNING_PARALLEL_JOBS = 100
MAX_TUNED_HYPERPARAMETERS = 30
