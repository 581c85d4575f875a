"""What the local SageMaker does not emulate, and what it does instead: ONE table.

docs/demo.md shows `markdown_table()` verbatim, and a test checks that every request member of
CreateTrainingJob, CreateTransformJob, CreateProcessingJob, CreateHyperParameterTuningJob, CreateInferenceComponent,
InvokeEndpoint and InvokeEndpointAsync
(botocore's model of the API) is either acted on (`HANDLED_FIELDS` of the runner modules)
or listed here: nothing is silently ignored. The runners log the listed members a request sets ("not emulated: ...").
"""

from __future__ import annotations

from dataclasses import dataclass

TRAINING, TRANSFORM, INVOKE, EVERYWHERE = "CreateTrainingJob", "CreateTransformJob", "InvokeEndpoint", "all"
INVOKE_ASYNC = "InvokeEndpointAsync"
PROCESSING, TUNING = "CreateProcessingJob", "CreateHyperParameterTuningJob"
COMPONENT = "CreateInferenceComponent"
REGISTRY = "Model Registry"
STATES = "Step Functions"


@dataclass(frozen=True)
class NotEmulated:
    """One gap: the API, the request members it covers (exact names; none for a topic), what happens instead."""

    api: str
    subject: str
    instead: str
    members: tuple[str, ...] = ()


NOT_EMULATED: tuple[NotEmulated, ...] = (
    NotEmulated(
        EVERYWHERE,
        "the image (`TrainingImage`, the model's `Image`, `AppSpecification.ImageUri`)",
        "the checkout's `container/entrypoint.py` runs with this environment's Python, where only the modules of the "
        "distributions an image installs (`container/requirements.txt` and the algorithms', with what they require) "
        "can be imported (`image_imports.py`: LightGBM does not find the SDK's pandas, as in the image); the URI is "
        "only recorded",
    ),
    NotEmulated(
        EVERYWHERE,
        "IAM (`RoleArn`, the model's `ExecutionRoleArn`, the state machine's role), policies, PassRole",
        "nothing is assumed or enforced; the container gets no AWS credentials (it needs none)",
    ),
    NotEmulated(
        EVERYWHERE,
        "instance types, `VolumeSizeInGB`, serverless memory",
        "a host is a process on this machine, with its CPUs and memory; nothing is sized; OpenMP threads wait "
        "passively (`OMP_WAIT_POLICY=PASSIVE` unless the job's `Environment` sets it): every host shares these cores",
    ),
    NotEmulated(
        EVERYWHERE,
        "KMS (`KmsKeyId`, `VolumeKmsKeyId`), bucket and topic encryption",
        "nothing is encrypted; moto stores the key ids",
    ),
    NotEmulated(
        EVERYWHERE,
        "TLS: bucket policy `Deny` statements on `aws:SecureTransport` / `s3:TlsVersion`",
        "the emulator speaks HTTP on 127.0.0.1 and counts every request as TLS (moto would deny them all: "
        "it ignores conditions)",
    ),
    NotEmulated(
        TRAINING,
        "networking: `VpcConfig`, `EnableNetworkIsolation`, `EnableInterContainerTrafficEncryption`",
        "hosts are processes joined on 127.0.0.1 ports (`SM_HOST_ADDRESSES`), unencrypted; the container could "
        "reach the network",
        ("VpcConfig", "EnableNetworkIsolation", "EnableInterContainerTrafficEncryption"),
    ),
    NotEmulated(
        TRAINING,
        "debugging, profiling and experiment integrations",
        "ignored (logged in the job's log)",
        (
            "DebugHookConfig",
            "DebugRuleConfigurations",
            "ProfilerConfig",
            "ProfilerRuleConfigurations",
            "TensorBoardOutputConfig",
            "ExperimentConfig",
            "RemoteDebugConfig",
            "MlflowConfig",
            "InfraCheckConfig",
            "SessionChainingConfig",
            "ModelPackageConfig",
            "ServerlessJobConfig",
        ),
    ),
    NotEmulated(
        TRAINING,
        "`RetryStrategy`",
        "a failed job is not retried; a requested spot interruption restarts it once from its checkpoints",
        ("RetryStrategy",),
    ),
    NotEmulated(
        TRAINING,
        "spot capacity",
        "spot jobs run at once; an interruption happens only when asked (POST /local-sagemaker/spot-interruptions)",
    ),
    NotEmulated(
        TRAINING,
        "channels other than S3 prefixes: `ManifestFile`, `AugmentedManifestFile`, `Pipe` mode, compression",
        "CreateTrainingJob fails with ValidationException naming the channel; FastFile gets the same files as File",
    ),
    NotEmulated(
        TRAINING,
        "CloudWatch metrics of the job (`EnableSageMakerMetricsTimeSeries`), checkpoint sync while training",
        "FinalMetricDataList only (last value per MetricDefinition, algo-1's log); checkpoints sync when the "
        "container stops",
    ),
    NotEmulated(
        TRANSFORM,
        "`DataCaptureConfig`, `ExperimentConfig`",
        "ignored (logged in the job's log)",
        ("DataCaptureConfig", "ExperimentConfig"),
    ),
    NotEmulated(
        TRANSFORM,
        "`TransformResources.InstanceCount` > 1, filters other than `$`, JoinSource for JSON",
        "one model server does all the objects; other filters and JSON joins fail CreateTransformJob with "
        "ValidationException",
    ),
    NotEmulated(
        PROCESSING,
        "networking: `NetworkConfig`",
        "the container is a process on this machine and could reach the network",
        ("NetworkConfig",),
    ),
    NotEmulated(PROCESSING, "`ExperimentConfig`", "ignored (logged in the job's log)", ("ExperimentConfig",)),
    NotEmulated(
        PROCESSING,
        "more than one instance; inputs other than S3 prefixes in File mode (`ManifestFile`, Pipe, compression, "
        "`DatasetDefinition`, `AppManaged`); `ContainerEntrypoint`; continuous upload",
        "CreateProcessingJob fails with ValidationException naming the field; `S3UploadMode` Continuous uploads "
        "when the job ends, as EndOfJob; outputs are uploaded only when the job completes",
    ),
    NotEmulated(
        TUNING,
        "the search: `Strategy` (Bayesian, Hyperband, Grid), `StrategyConfig`, `TrainingJobEarlyStoppingType`, "
        "`MaxParallelTrainingJobs`, the tuning job's own limits, `WarmStartConfig`, `Autotune`",
        "every strategy samples each range uniformly on its scale (a categorical value at random; seeded by the "
        "job's name) for `MaxNumberOfTrainingJobs` training jobs run one after another, none stopped early; "
        "warm start and Autotune are ignored",
        ("WarmStartConfig", "Autotune"),
    ),
    NotEmulated(
        TUNING,
        "several algorithms: `TrainingJobDefinitions`",
        "CreateHyperParameterTuningJob fails with ValidationException",
        ("TrainingJobDefinitions",),
    ),
    NotEmulated(
        INVOKE,
        "data capture's delivery: buffering, `KmsKeyId`, a sampling that is not random",
        "each captured request is written at once as its own JSON Lines object "
        "`<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/mm-ss-mmm-<id>.jsonl` (SageMaker's record "
        "format); a request is captured with probability `InitialSamplingPercentage`; unencrypted",
    ),
    NotEmulated(
        INVOKE,
        "routing and session options",
        "the endpoint config's first variant answers every request",
        (
            "CustomAttributes",
            "EnableExplanations",
            "InferenceId",
            "PrefixAwareId",
            "SessionId",
            "TargetContainerHostname",
            "TargetModel",
            "TargetVariant",
        ),
    ),
    NotEmulated(
        INVOKE,
        "endpoint capacity: instances, autoscaling, deployment guardrails, serverless cold starts",
        "one model server per endpoint, started on the first InvokeEndpoint and restarted when the endpoint runs "
        "another endpoint config; CreateEndpoint itself stays moto's (InService at once), so a missing model "
        "artifact shows as ModelError at the first InvokeEndpoint",
    ),
    NotEmulated(
        COMPONENT,
        "several instance types (`Specifications`); of `Specification` only `ModelName` is served: `Container`, "
        "`StartupParameters`, `ComputeResourceRequirements`, `BaseInferenceComponentName` (adapters), "
        "`DataCacheConfig`, `SchedulingConfig` are stored, not applied; `Tags` are accepted, not kept",
        "one model server per component serves `Specification.ModelName`, restarted when the component serves "
        "another model; no CPU or memory is reserved per copy (tests/stacks and the registry schema check the "
        "template's values, cfn-lint its shape)",
        ("Specifications", "Tags"),
    ),
    NotEmulated(
        COMPONENT,
        "capacity of an endpoint of inference components: `ManagedInstanceScaling` (instances come at once, none "
        "is released), several copies, Application Auto Scaling's target tracking (nothing scales in by itself), "
        "the minutes an instance takes to start from zero",
        "a component runs one server while `CopyCount` > 0; `UpdateInferenceComponentRuntimeConfig` to 0 is the "
        "scale-in (what target tracking does after an idle period in AWS) and stops it; a request at 0 copies is "
        "refused with AWS's ValidationError (NoCapacityInvocationFailures) and, if the stack wired an alarm on it "
        "to a step scaling policy of the component's scalable target, one copy is set at once (AWS: about a "
        "minute, then minutes of provisioning): the next request has the model server's cold start only",
    ),
    NotEmulated(
        INVOKE_ASYNC,
        "the queue: `RequestTTLSeconds`, `MaxConcurrentInvocationsPerInstance`, the backlog and its metrics, "
        "scaling to zero and the scale-out from zero on `HasBacklogWithoutCapacity`",
        "each request runs at once on a thread of its own against the endpoint's one model server, for up to its "
        "`InvocationTimeoutSeconds` (then it fails as expired); nothing waits in a queue, so nothing expires there, "
        "and nothing scales. The scaling policies are checked against AWS's documented ones by "
        "tests/sagemaker_constructs/test_async_endpoint.py",
        ("RequestTTLSeconds",),
    ),
    NotEmulated(
        INVOKE_ASYNC,
        "an inline `Body`, `S3OutputPathExtension`, `Filename`, `CustomAttributes`",
        "the body is always read from `InputLocation`; results are `<S3OutputPath>/<id>.out`, failures "
        "`<S3FailurePath>/<id>-error.out`; the SNS notification carries the status, the locations, the inference id "
        "and a failure's reason (the fields of AWS's message a client reads), and its e-mail delivery is moto's",
        ("Body", "S3OutputPathExtension", "Filename", "CustomAttributes"),
    ),
    NotEmulated(
        INVOKE_ASYNC,
        "the role SageMaker reads the request, writes the result and publishes the notification as",
        "the local runner does it with the emulator's credentials; the role's permissions for it are checked by "
        "tests/deploy_readiness (the maximal configuration's dev is asynchronous)",
    ),
    NotEmulated(
        EVERYWHERE,
        "`ListTrainingJobs`, `ListTransformJobs`, `ListProcessingJobs`, `ListTrainingJobsForHyperParameterTuningJob`, "
        "StopTransformJob, StopHyperParameterTuningJob",
        "the lists are moto's records (Completed at once; a tuning job's training jobs are not in them); the "
        "Describe calls answer from the runner, "
        "StopTrainingJob and StopProcessingJob stop the container; a transform job runs to its end",
    ),
    NotEmulated(
        EVERYWHERE,
        "Step Functions: moto's interpreter",
        "an execution started without a name gets a UUID (moto named it None); a Fail state may rethrow "
        "`States.*` errors through ErrorPath (moto raised); no CloudWatch Logs delivery or X-Ray",
    ),
    NotEmulated(
        STATES,
        "`.sync` SageMaker integrations other than `sagemaker:createTrainingJob.sync`, "
        "`sagemaker:createTransformJob.sync`, `sagemaker:createProcessingJob.sync`, "
        "`sagemaker:createHyperParameterTuningJob.sync`",
        "the state machine is created; an execution reaching such a state fails it with "
        "`LocalSageMaker.IntegrationNotEmulated`, the cause naming the integration (no job is created)",
    ),
    NotEmulated(
        STATES,
        "JSONata: states with `QueryLanguage` JSONata (moto keeps LocalStack's interpreter but not its JVM "
        "JSONata evaluator)",
        "the state machine is created; a JSONata expression fails the execution with `States.Runtime`, cause "
        "`TypeError('NoneType' object is not callable)`. So the training pipeline's tuning branch (its JSONata "
        "NameTuningJob state) cannot run here: no tuned pipeline test; a JSONPath state machine proves "
        "`createHyperParameterTuningJob.sync` and `aws-sdk:sagemaker:describeTrainingJob`",
    ),
    NotEmulated(
        REGISTRY,
        "model package group resource policies (PutModelPackageGroupPolicy), a version's `SecurityConfig` "
        "encryption, the identity of whoever approves, the state change events (the approved-images state machine "
        "never starts: `sagemaker_ops approve` tags the image itself)",
        "moto keeps groups and versions (the deploy helper creates a group without its policy); nothing is "
        "encrypted; `LastModifiedBy` is moto's fixed user profile. CreateModel refuses a version that is not "
        "Approved: our rule, which AWS does not document (`local_sagemaker/registry.py`; on AWS, `make deploy`'s "
        "`sagemaker_ops check-pin` enforces it)",
    ),
)


def members(api: str) -> frozenset[str]:
    """The request members of `api` the table lists."""
    return frozenset(m for row in NOT_EMULATED if row.api == api for m in row.members)


def markdown_table() -> str:
    """docs/demo.md's table (a test keeps the document in step with NOT_EMULATED)."""
    rows = [f"| {row.api} | {row.subject} | {row.instead} |" for row in NOT_EMULATED]
    return "\n".join(["| API | not emulated | what happens instead |", "| --- | --- | --- |", *rows])
