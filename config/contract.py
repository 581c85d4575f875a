"""Every value two parts of the project must agree on, written once.

- What the container exports (`container/interface.json`: its environment variables, file names,
  limits and metric names), read and checked by config/container_interface.py, as typed constants.
  `tests/test_contract.py` pins the file to every name the app uses.
- SageMaker's and Step Functions' limits, and the checks that more than one layer applies
  (configuration at load time, constructs at synth time).
- The names of an environment's resources (`<app>-<environment>`: the endpoint, its jobs' prefix).
- The training pipeline's input document (the state machine reads it, `sagemaker_ops train` writes it).
- Log group names SageMaker writes to (constructs create and watch them, `sagemaker_ops logs` reads them).
- Where endpoints capture data, and the S3 request-metrics filter the dashboard reads.

Plain Python, no CDK: the configuration, the constructs, the stacks and the ops CLI all import it.
"""

from __future__ import annotations

from config import container_interface

# ----- the container's interface (config/container_interface.py reads it) ----------------------------

CONTAINER_DIRECTORY = container_interface.CONTAINER_DIRECTORY  # the stacks' asset directory, the scripts' too
CONTAINER = container_interface.load_container_interface()

# What it names (config/container_interface.py's types): `CONTAINER.environment.<...>`, the environment variables
# the models and jobs set for it; `CONTAINER.metrics.<...>`, its metrics (EMF, written to its log; CloudWatch Logs
# turns them into metrics).
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
# SageMaker answers a real-time invocation within 60 s or fails it; the server must give up first. InvokeEndpoint:
# "A customer's model containers must respond to requests within 60 seconds."
MAX_REALTIME_INVOCATION_SECONDS = 60
REALTIME_LIMIT_DOC = "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html"
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


def inference_component_name(endpoint_name: str) -> str:
    """The inference component an endpoint hosts its model as (where the configuration chooses that mode):
    `<endpoint>-model`. The stack names it, the deployment role's smoke test may invoke it."""
    return f"{endpoint_name}-model"


# Where SageMaker writes an inference component's containers' output, one log group per component (not the
# endpoint's).
COMPONENT_LOG_GROUP_PREFIX = "/aws/sagemaker/InferenceComponents"


def component_log_group_name(component_name: str) -> str:
    """/aws/sagemaker/InferenceComponents/<component>: what the role may write, the stack creates, ops reads."""
    return f"{COMPONENT_LOG_GROUP_PREFIX}/{component_name}"


def endpoint_log_group_name(endpoint_name: str) -> str:
    """Where SageMaker writes an endpoint's containers' output: /aws/sagemaker/Endpoints/<name>."""
    return f"{ENDPOINT_LOG_GROUP_PREFIX}/{endpoint_name}"


def serving_log_group_name(endpoint_name: str, component_name: str | None) -> str:
    """Where the model server of an endpoint logs: its inference component's group when it hosts its model as one,
    else the endpoint's."""
    return component_log_group_name(component_name) if component_name else endpoint_log_group_name(endpoint_name)


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


# ----- asynchronous inference ------------------------------------------------------------------------

# Where callers upload a request's body for InvokeEndpointAsync (its InputLocation), in the artifacts bucket;
# the execution role reads it, sagemaker_ops writes it. SageMaker writes results and failures where the
# endpoint's AsyncInferenceConfig says (`endpoint.asynchronous` output_prefix and failure_prefix).
# All three lie under ASYNC_PREFIX, and everything under it expires (`endpoint.asynchronous.retention_days`): nothing
# else the artifacts bucket keeps (models, checkpoints, data capture, scores) may be written there.
ASYNC_PREFIX = "async-inference/"
ASYNC_INPUT_PREFIX = f"{ASYNC_PREFIX}input/"
ASYNC_OUTPUT_PREFIX = f"{ASYNC_PREFIX}output/"
ASYNC_FAILURE_PREFIX = f"{ASYNC_PREFIX}failures/"
# An asynchronous request's body may be up to 1 GB (https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference.html).
ASYNC_MAX_PAYLOAD_MB = 1024


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


# ----- the model registry ----------------------------------------------------------------------------

# ModelApprovalStatus. A Model is created only from an Approved version (botocore's sagemaker model,
# CreateModelPackageInput.ModelApprovalStatus).
APPROVED = "Approved"
PENDING_APPROVAL = "PendingManualApproval"
REJECTED = "Rejected"
# What the training pipeline records with a version in CustomerMetadataProperties, besides the
# hyperparameters (whose names hold no '/'), and sagemaker_ops reads back as its lineage.
LINEAGE_TRAINING_JOB = "pipeline/training_job"
LINEAGE_DATA = "pipeline/data"
LINEAGE_COMMIT = "pipeline/commit"
LINEAGE_EXECUTION = "pipeline/execution"
# ... and a version registered in prod from staging's records the staging version's ARN under `promotion/from`.
PROMOTED_FROM = "promotion/from"
# Every metadata key a version may hold besides the hyperparameters (config/registry_metadata.py counts them).
REGISTRY_METADATA_KEYS = (LINEAGE_TRAINING_JOB, LINEAGE_DATA, LINEAGE_COMMIT, LINEAGE_EXECUTION, PROMOTED_FROM)
# An approved version's image gets this tag as well (sagemaker_ops approve), and the repository's lifecycle
# keeps up to MAX_APPROVED_IMAGES images so tagged, whatever its count of newest images: a version the
# endpoint may serve (or roll back to) keeps its image.
APPROVED_IMAGE_TAG_PREFIX = "approved-"
MAX_APPROVED_IMAGES = 1000


def approved_image_tag(group: str, version: int) -> str:
    """The tag an approved version's image gets: `approved-<group>-<version>` (ECR tags: 1-128 of [A-Za-z0-9._-])."""
    return f"{APPROVED_IMAGE_TAG_PREFIX}{group}-{version}"
