"""The local SageMaker's API behaviour that the pipeline does not reach: stops, sharding, batching, rejects.

Jobs are created with boto3 directly against the staging deployment's buckets.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from sagemaker.core.resources import Endpoint  # type: ignore[import-untyped]

from local_sagemaker.async_endpoints import EXPIRED
from local_sagemaker.server import start_moto_server
from stacks.training_stack import load_metric_definitions
from tests import declared
from tests.container.harness import csv_bytes, make_data
from tests.declared import OBJECTIVE
from tests.e2e.pipeline import Dataset, Environment

ROLE = "arn:aws:iam::123456789012:role/local-sagemaker-test"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/algorithm:test"


def _channel(env: Environment, prefix: str, name: str, distribution: str = "FullyReplicated") -> dict[str, Any]:
    uri = f"s3://{env.data_bucket}/{prefix}/{name}/"
    return {
        "ChannelName": name,
        "ContentType": "text/csv",
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": distribution}
        },
    }


def _training_request(env: Environment, name: str, data: Dataset, **overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": load_metric_definitions(),
        },
        "RoleArn": ROLE,
        "HyperParameters": dict(declared.EXAMPLE),
        "InputDataConfig": [_channel(env, data.prefix, "train"), _channel(env, data.prefix, "validation")],
        "OutputDataConfig": {"S3OutputPath": f"s3://{env.artifacts_bucket}/direct/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    request.update(overrides)
    return request


def _wait(env: Environment, describe: str, key: str, name: str, status: str) -> dict[str, Any]:
    sagemaker = env.client("sagemaker")
    deadline = time.monotonic() + 120
    while True:
        described: dict[str, Any] = getattr(sagemaker, describe)(**{key: name})
        if described[status] not in {"InProgress", "Stopping"} or time.monotonic() > deadline:
            return described
        time.sleep(0.3)


def _train(env: Environment, request: dict[str, Any]) -> dict[str, Any]:
    env.client("sagemaker").create_training_job(**request)
    return _wait(env, "describe_training_job", "TrainingJobName", request["TrainingJobName"], "TrainingJobStatus")


@pytest.fixture(scope="module")
def direct_data(staging: Environment) -> Dataset:
    return staging.upload("e2e/direct", rows=600, seed=11, files=2)


def test_max_runtime_stops_the_job_and_uploads_no_model(staging: Environment, direct_data: Dataset) -> None:
    # GIVEN a job that would train for long (the most of its resource; no validation channel to stop early on),
    # allowed 2 s
    resource = declared.resource()
    hyperparameters = declared.with_resource(str(int(resource.maximum or 100_000)))
    request = _training_request(
        staging, "direct-max-runtime", direct_data, HyperParameters=hyperparameters,
        StoppingCondition={"MaxRuntimeInSeconds": 2}, InputDataConfig=[_channel(staging, direct_data.prefix, "train")],
    )  # fmt: skip
    # WHEN it runs THEN SageMaker stops it at the limit, as Stopped / MaxRuntimeExceeded, with no model
    described = _train(staging, request)
    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == ("Stopped", "MaxRuntimeExceeded")
    assert "ModelArtifacts" not in described
    assert not staging.read(f"s3://{staging.artifacts_bucket}/direct/direct-max-runtime/")


def test_sharded_by_s3_key_gives_each_host_its_own_files(staging: Environment, direct_data: Dataset) -> None:
    # GIVEN two train files, ShardedByS3Key, two instances (of an algorithm that trains on several hosts)
    declared.capability("several_hosts")
    channels = [
        _channel(staging, direct_data.prefix, "train", "ShardedByS3Key"),
        _channel(staging, direct_data.prefix, "validation"),
    ]
    request = _training_request(
        staging, "direct-sharded", direct_data, InputDataConfig=channels,
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 10},
    )  # fmt: skip
    # WHEN it trains THEN one model came out, and the first host trained on its file only (180 of 360 rows)
    described = _train(staging, request)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    summary = staging.training_summary("direct-sharded")
    assert (summary["num_machines"], summary["rank"], summary["rows"]["train"]) == (2, 0, 180)


def test_a_non_string_hyperparameter_is_rejected_at_create_time(staging: Environment, direct_data: Dataset) -> None:
    # GIVEN a client that does not validate parameters itself (as Step Functions' does not)
    sagemaker = staging.server.session().client(
        "sagemaker", endpoint_url=staging.server.url, config=Config(parameter_validation=False)
    )
    name = next(iter(declared.EXAMPLE))
    request = _training_request(staging, "direct-number", direct_data, HyperParameters={name: 31})
    # WHEN the job is created with a number THEN SageMaker's ValidationException names the hyperparameter
    with pytest.raises(ClientError, match=rf"HyperParameters\['{name}'\] must be a string"):
        sagemaker.create_training_job(**request)


@pytest.mark.parametrize(("operation", "parameter", "kind"), [
    ("stop_training_job", "TrainingJobName", "training"),
    ("stop_processing_job", "ProcessingJobName", "processing"),
])  # fmt: skip
def test_stopping_a_job_that_does_not_exist_is_a_validation_error_naming_it(
    staging: Environment, operation: str, parameter: str, kind: str
) -> None:
    # GIVEN no job of that name WHEN it is stopped THEN SageMaker's ValidationException names it
    with pytest.raises(ClientError, match=rf"ValidationException.*Could not find {kind} job 'no-such-job'\."):
        getattr(staging.client("sagemaker"), operation)(**{parameter: "no-such-job"})


@pytest.mark.parametrize(
    ("strategy", "requests", "settings"),
    [
        ("MultiRecord", 1, "BatchStrategy=MultiRecord MaxPayloadInMB=1"),
        ("SingleRecord", 120, "BatchStrategy=SingleRecord MaxPayloadInMB=1"),
        # Not set by the job: the container's /execution-parameters answer (MULTI_RECORD, its 6 MB limit).
        ("", 1, "BatchStrategy=MultiRecord MaxPayloadInMB=6"),
    ],
)
def test_batch_strategy_decides_how_many_records_each_request_carries(
    staging: Environment, direct_data: Dataset, strategy: str, requests: int, settings: str
) -> None:
    # GIVEN a trained model and 120 rows to score
    label = strategy.lower() or "container"
    trained = _train(staging, _training_request(staging, f"direct-for-{label}", direct_data))
    assert trained["TrainingJobStatus"] == "Completed", trained.get("FailureReason")
    model = f"direct-model-{label}"
    staging.client("sagemaker").create_model(
        ModelName=model,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": trained["ModelArtifacts"]["S3ModelArtifacts"]},
    )
    job = f"direct-transform-{label}"
    output = f"s3://{staging.artifacts_bucket}/direct/{job}/"
    # WHEN a transform job runs with the strategy
    staging.client("sagemaker").create_transform_job(
        TransformJobName=job,
        ModelName=model,
        **({"BatchStrategy": strategy, "MaxPayloadInMB": 1} if strategy else {}),
        TransformInput={
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": f"s3://{staging.data_bucket}/{direct_data.prefix}/score/",
                }
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": output, "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    described = _wait(staging, "describe_transform_job", "TransformJobName", job, "TransformJobStatus")
    # THEN every row has its prediction, sent in one request (MultiRecord) or one per row (SingleRecord)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    scores = staging.read(output)[f"direct/{job}/part-0.csv.out"].decode().split()
    assert len(scores) == len(direct_data.score_features) == 120
    events = staging.client("logs").filter_log_events(
        logGroupName="/aws/sagemaker/TransformJobs", logStreamNamePrefix=f"{job}/"
    )["events"]
    messages = [e["message"] for e in events]
    assert any(settings in m for m in messages), messages
    assert any(f"120 records in {requests} requests" in m for m in messages), messages
    assert json.loads(json.dumps(described["TransformOutput"]))["S3OutputPath"] == output


def test_an_endpoint_serves_the_model_of_the_endpoint_config_it_runs_and_passes_on_its_errors(
    staging: Environment, direct_data: Dataset
) -> None:
    # GIVEN two trained models (20 and 3 rounds, epochs...) and an endpoint on the first
    sagemaker, runtime = staging.client("sagemaker"), staging.client("sagemaker-runtime")
    for rounds in ("20", "3"):
        hyperparameters = declared.with_resource(rounds)
        job = _train(staging, _training_request(staging, f"direct-endpoint-{rounds}", direct_data,
                                                HyperParameters=hyperparameters))  # fmt: skip
        assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
        model = job["ModelArtifacts"]["S3ModelArtifacts"]
        sagemaker.create_model(ModelName=f"direct-endpoint-{rounds}", ExecutionRoleArn=ROLE,
                               PrimaryContainer={"Image": IMAGE, "ModelDataUrl": model})  # fmt: skip
        variant = {"VariantName": "primary", "ModelName": f"direct-endpoint-{rounds}", "InitialInstanceCount": 1,
                   "InstanceType": "ml.c5.large"}  # fmt: skip
        sagemaker.create_endpoint_config(EndpointConfigName=f"direct-endpoint-{rounds}", ProductionVariants=[variant])
    sagemaker.create_endpoint(EndpointName="direct-endpoint", EndpointConfigName="direct-endpoint-20")
    rows = direct_data.score_features[:4]
    body = "".join(",".join(f"{v:.6g}" for v in row) + "\n" for row in rows).encode()

    def predictions() -> list[float]:
        answer = runtime.invoke_endpoint(EndpointName="direct-endpoint", Body=body, ContentType="text/csv")
        assert answer["InvokedProductionVariant"] == "primary"
        return [float(v) for v in answer["Body"].read().decode().split()]

    # WHEN it is invoked THEN the first model answers
    rows_parsed = [[float(v) for v in line.split(",")] for line in body.decode().splitlines()]
    first = predictions()
    assert first == pytest.approx(list(staging.model_of("direct-endpoint-20").predict(rows_parsed)), rel=1e-6)
    # WHEN the endpoint runs the other endpoint config THEN the other model answers
    sagemaker.delete_endpoint(EndpointName="direct-endpoint")
    sagemaker.create_endpoint(EndpointName="direct-endpoint", EndpointConfigName="direct-endpoint-3")
    second = predictions()
    assert second == pytest.approx(list(staging.model_of("direct-endpoint-3").predict(rows_parsed)), rel=1e-6)
    assert second != pytest.approx(first)
    # WHEN a request is bad THEN InvokeEndpoint fails with ModelError carrying the container's reason
    with pytest.raises(ClientError) as raised:
        runtime.invoke_endpoint(EndpointName="direct-endpoint", Body=b"1,2\n", ContentType="text/csv")
    assert raised.value.response["Error"]["Code"] == "ModelError"
    assert "Received client error (400)" in str(raised.value) and "features" in str(raised.value)


def test_stopping_the_emulator_stops_every_container_it_started(tmp_path: Path) -> None:
    # GIVEN a local SageMaker of its own, with an endpoint whose model server runs
    server = start_moto_server(module="local_sagemaker", log=tmp_path / "server.log")
    try:
        s3, sagemaker = server.client("s3"), server.client("sagemaker")
        s3.create_bucket(Bucket="data")
        labels, features = make_data("binary", 200, seed=12)
        s3.put_object(Bucket="data", Key="d/train/a.csv", Body=csv_bytes(labels, features))
        request = {
            "TrainingJobName": "shutdown",
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "HyperParameters": dict(declared.EXAMPLE),
            "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": "s3://data/d/train/"}}}],
            "OutputDataConfig": {"S3OutputPath": "s3://data/models/"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        }  # fmt: skip
        sagemaker.create_training_job(**request)
        deadline = time.monotonic() + 60
        while sagemaker.describe_training_job(TrainingJobName="shutdown")["TrainingJobStatus"] == "InProgress":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        sagemaker.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={
            "Image": IMAGE, "ModelDataUrl": "s3://data/models/shutdown/output/model.tar.gz"})  # fmt: skip
        variant = {"VariantName": "v", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.c5.large"}
        sagemaker.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[variant])
        sagemaker.create_endpoint(EndpointName="e", EndpointConfigName="c")
        row = ",".join(f"{v:.6g}" for v in features[0]).encode()
        server.client("sagemaker-runtime").invoke_endpoint(EndpointName="e", Body=row, ContentType="text/csv")
        children = psutil.Process(server.process.pid).children(recursive=True)
        assert any("serve" in child.cmdline() for child in children)
    finally:
        # WHEN the emulator is stopped
        server.stop()
    # THEN none of the processes it started is left
    assert not [child.pid for child in children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE]


def test_a_sync_integration_the_runner_does_not_carry_out_fails_the_execution_that_reaches_it(
    staging: Environment,
) -> None:
    # GIVEN a state machine with a `.sync` SageMaker integration the runner does not carry out (the Staging
    # deployment itself proves such a state machine is created: its drift and tuning ones were)
    resource = "arn:aws:states:::sagemaker:createCompilationJob.sync"
    definition = {
        "StartAt": "Compile",
        "States": {"Compile": {"Type": "Task", "Resource": resource, "Parameters": {"CompilationJobName": "c"},
                               "End": True}},
    }  # fmt: skip
    sfn = staging.client("stepfunctions")
    machine = sfn.create_state_machine(name="direct-not-emulated", definition=json.dumps(definition), roleArn=ROLE)
    # WHEN an execution reaches it
    run = staging.wait(sfn.start_execution(stateMachineArn=machine["stateMachineArn"])["executionArn"])
    # THEN the execution fails, naming the integration and the ones that are carried out
    assert run.status == "FAILED", staging.explain(run)
    assert run.described["error"] == "LocalSageMaker.IntegrationNotEmulated"
    assert run.described["cause"].startswith(f"{resource} is not carried out by the local SageMaker")
    assert "sagemaker:createTrainingJob.sync" in run.described["cause"]


def test_a_failing_processing_job_carries_the_containers_message_and_uploads_nothing(staging: Environment) -> None:
    # GIVEN a monitor job whose baseline input holds no drift baseline
    s3, bucket = staging.client("s3"), staging.artifacts_bucket
    s3.put_object(Bucket=bucket, Key="direct/processing/baseline/notes.txt", Body=b"not a baseline")
    s3.put_object(Bucket=bucket, Key="direct/processing/capture/a.jsonl", Body=b"{}\n")

    def s3_input(name: str) -> dict[str, Any]:
        source = {"S3Uri": f"s3://{bucket}/direct/processing/{name}/", "S3DataType": "S3Prefix", "S3InputMode": "File"}
        return {"InputName": name, "S3Input": {**source, "LocalPath": f"/opt/ml/processing/input/{name}"}}

    report = f"s3://{bucket}/direct/processing/report/"
    output = {"S3Uri": report, "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"}
    staging.client("sagemaker").create_processing_job(
        ProcessingJobName="direct-processing-fails",
        RoleArn=ROLE,
        AppSpecification={"ImageUri": IMAGE, "ContainerArguments": ["monitor"]},
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}},
        ProcessingInputs=[s3_input("baseline"), s3_input("capture")],
        ProcessingOutputConfig={"Outputs": [{"OutputName": "report", "S3Output": output}]},
        Environment={"DRIFT_WINDOW": "direct"},
    )
    # WHEN it runs THEN it fails with the container's /opt/ml/output/message as ExitMessage, and no report
    described = _wait(staging, "describe_processing_job", "ProcessingJobName", "direct-processing-fails",
                      "ProcessingJobStatus")  # fmt: skip
    assert described["ProcessingJobStatus"] == "Failed", described
    assert "baseline" in described["ExitMessage"], described
    assert described["FailureReason"].startswith("AlgorithmError: See job logs for more information")
    assert not staging.read(report)
    events = staging.client("logs").filter_log_events(
        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix="direct-processing-fails/"
    )["events"]
    assert any("monitor failed" in e["message"] for e in events), [e["message"] for e in events]


def test_moto_cannot_evaluate_jsonata_as_the_not_emulated_table_says(staging: Environment) -> None:
    # GIVEN a JSONata Pass state like the tuning branch's NameTuningJob (when this fails, moto evaluates
    # JSONata: update the table's JSONata row and add the tuned pipeline's end-to-end test)
    expression = "{% $merge([$states.input, {'name': $states.context.Execution.Name}]) %}"
    definition = {"StartAt": "Name", "States": {"Name": {"Type": "Pass", "QueryLanguage": "JSONata",
                                                         "Output": expression, "End": True}}}  # fmt: skip
    sfn = staging.client("stepfunctions")
    machine = sfn.create_state_machine(name="direct-jsonata", definition=json.dumps(definition), roleArn=ROLE)
    # WHEN an execution reaches it THEN it fails with States.Runtime and the TypeError of the missing evaluator
    run = staging.wait(sfn.start_execution(stateMachineArn=machine["stateMachineArn"])["executionArn"])
    assert (run.status, run.described.get("error")) == ("FAILED", "States.Runtime"), run.described
    assert "TypeError('NoneType' object is not callable)" in run.described["cause"]


def test_a_tuning_job_trains_sampled_models_and_step_functions_reads_its_best_one(
    staging: Environment, direct_data: Dataset
) -> None:
    # GIVEN a state machine like the pipeline's tuning branch without its JSONata state (see the not-emulated
    # table): createHyperParameterTuningJob.sync, then aws-sdk:sagemaker:describeTrainingJob of the best job
    name = "direct-tuning"
    (integer, integer_range), (continuous, continuous_range) = map(declared.tuning_range, ("integer", "continuous"))
    (i_low, i_high), (c_low, c_high) = declared.narrower(integer_range), declared.narrower(continuous_range)
    static = {k: v for k, v in declared.EXAMPLE.items() if k not in {integer, continuous}}
    definition_request = {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": declared.OBJECTIVE_DIRECTION, "MetricName": OBJECTIVE},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "IntegerParameterRanges": [
                    {"Name": integer, "MinValue": str(int(i_low)), "MaxValue": str(int(i_high))}],
                "ContinuousParameterRanges": [
                    {"Name": continuous, "MinValue": str(c_low), "MaxValue": str(c_high)}],
            },
        },
        "TrainingJobDefinition": {
            key: value
            for key, value in _training_request(staging, "unused", direct_data).items()
            if key not in {"TrainingJobName", "HyperParameters"}
        }
        | {"StaticHyperParameters": static},
    }  # fmt: skip
    states = {
        "Tune": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createHyperParameterTuningJob.sync",
                 "Parameters": definition_request, "ResultPath": "$.tuning", "Next": "DescribeBest",
                 "ResultSelector": {"best.$": "$.BestTrainingJob.TrainingJobName",
                                    "objective.$": "$.BestTrainingJob.FinalHyperParameterTuningJobObjectiveMetric"}},
        "DescribeBest": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sagemaker:describeTrainingJob",
                         "Parameters": {"TrainingJobName.$": "$.tuning.best"}, "ResultPath": "$.training",
                         "ResultSelector": {"artifact.$": "$.ModelArtifacts.S3ModelArtifacts",
                                            "hyperparameters.$": "$.HyperParameters"}, "End": True},
    }  # fmt: skip
    sfn = staging.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="direct-tuning", definition=json.dumps({"StartAt": "Tune", "States": states}), roleArn=ROLE
    )
    # WHEN it runs
    run = staging.wait(sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")["executionArn"])
    # THEN three training jobs ran with the static and sampled hyperparameters, within the ranges
    assert run.status == "SUCCEEDED", staging.explain(run)
    sagemaker = staging.client("sagemaker")
    tuning = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert tuning["HyperParameterTuningJobStatus"] == "Completed"
    assert tuning["TrainingJobStatusCounters"]["Completed"] == 3
    streams = staging.client("logs").describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{name}-"
    )["logStreams"]
    jobs = sorted({s["logStreamName"].split("/")[0] for s in streams})
    assert [job.rsplit("-", 1)[0] for job in jobs] == [f"{name}-001", f"{name}-002", f"{name}-003"]
    objective: dict[str, float] = {}
    for job in jobs:
        described = sagemaker.describe_training_job(TrainingJobName=job)
        hyperparameters = described["HyperParameters"]
        assert {k: hyperparameters[k] for k in static} == static
        assert i_low <= int(hyperparameters[integer]) <= i_high
        assert c_low <= float(hyperparameters[continuous]) <= c_high
        objective[job] = next(m["Value"] for m in described["FinalMetricDataList"] if m["MetricName"] == OBJECTIVE)
    # AND the best is the job of the best objective, which the describeTrainingJob task read
    best = (max if declared.OBJECTIVE_DIRECTION == "Maximize" else min)(objective, key=lambda job: objective[job])
    assert run.output["tuning"]["best"] == best == tuning["BestTrainingJob"]["TrainingJobName"]
    assert run.output["tuning"]["objective"]["Value"] == pytest.approx(objective[best])
    assert run.output["training"]["artifact"] == f"s3://{staging.artifacts_bucket}/direct/{best}/output/model.tar.gz"
    assert run.output["training"]["hyperparameters"][integer] == tuning["BestTrainingJob"][
        "TunedHyperParameters"][integer]  # fmt: skip


def test_an_inference_component_scales_to_zero_and_out_again_only_as_the_stack_wires_it(staging: Environment) -> None:
    # GIVEN an endpoint whose variant names no model, hosting a component at 0 copies (its model's artifact missing,
    # so that starting its server shows as a ModelError naming the model's data)
    sagemaker, runtime = staging.client("sagemaker"), staging.client("sagemaker-runtime")
    missing = f"s3://{staging.artifacts_bucket}/no-such/model.tar.gz"
    sagemaker.create_model(ModelName="component-model", ExecutionRoleArn=ROLE,
                           PrimaryContainer={"Image": IMAGE, "ModelDataUrl": missing})  # fmt: skip
    scaling_range = {"Status": "ENABLED", "MinInstanceCount": 0, "MaxInstanceCount": 1}
    variant = {"VariantName": "primary", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1,
               "ManagedInstanceScaling": scaling_range}  # fmt: skip
    sagemaker.create_endpoint_config(EndpointConfigName="component-config", ProductionVariants=[variant],
                                     ExecutionRoleArn=ROLE)  # fmt: skip
    sagemaker.create_endpoint(EndpointName="component-endpoint", EndpointConfigName="component-config")
    sagemaker.create_inference_component(
        InferenceComponentName="component", EndpointName="component-endpoint", VariantName="primary",
        Specification={"ModelName": "component-model",
                       "ComputeResourceRequirements": {"NumberOfCpuCoresRequired": 1, "MinMemoryRequiredInMb": 1024}},
        RuntimeConfig={"CopyCount": 0},
    )  # fmt: skip

    def invoke(**component: str) -> ClientError:
        with pytest.raises(ClientError) as raised:
            runtime.invoke_endpoint(EndpointName="component-endpoint", Body=b"1,2\n", ContentType="text/csv",
                                    **component)  # fmt: skip
        return raised.value

    def copies() -> int:
        described = sagemaker.describe_inference_component(InferenceComponentName="component")
        return int(described["RuntimeConfig"]["CurrentCopyCount"])

    # WHEN a request names no component THEN it is refused, naming the components hosted
    assert "InferenceComponentName is required" in str(invoke())
    # WHEN it names the component at 0 copies, with no scale out from zero wired THEN it is refused as AWS refuses
    # it, and stays at zero
    refused = invoke(InferenceComponentName="component")
    assert refused.response["Error"]["Code"] == "ValidationError", refused.response
    assert "Inference Component has no capacity to process this request" in str(refused)
    assert copies() == 0
    # WHEN the stack's wiring exists (scalable target, step policy, alarm on NoCapacityInvocationFailures to it)
    scaling, resource = staging.client("application-autoscaling"), "inference-component/component"
    target = {"ServiceNamespace": "sagemaker", "ResourceId": resource,
              "ScalableDimension": "sagemaker:inference-component:DesiredCopyCount"}  # fmt: skip
    scaling.register_scalable_target(**target, MinCapacity=0, MaxCapacity=2)
    step = {"AdjustmentType": "ChangeInCapacity", "StepAdjustments": [{"MetricIntervalLowerBound": 0,
                                                                        "ScalingAdjustment": 1}]}  # fmt: skip
    policy = scaling.put_scaling_policy(PolicyName="wake", PolicyType="StepScaling", **target,
                                        StepScalingPolicyConfiguration=step)["PolicyARN"]  # fmt: skip
    staging.client("cloudwatch").put_metric_alarm(
        AlarmName="component-wake", Namespace="AWS/SageMaker", MetricName="NoCapacityInvocationFailures",
        Dimensions=[{"Name": "InferenceComponentName", "Value": "component"}], Statistic="Maximum", Period=30,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold", AlarmActions=[policy],
    )  # fmt: skip
    # THEN the first request is still refused, and scales out from zero: the next one starts the component's model
    assert "no capacity" in str(invoke(InferenceComponentName="component"))
    assert copies() == 1
    cold = invoke(InferenceComponentName="component")
    assert cold.response["Error"]["Code"] == "ModelError" and "could not be loaded" in str(cold)
    # WHEN scaled in to zero (what target tracking does when idle) THEN it is at zero again; deleted, it is gone
    sagemaker.update_inference_component_runtime_config(InferenceComponentName="component",
                                                        DesiredRuntimeConfig={"CopyCount": 0})  # fmt: skip
    assert copies() == 0
    sagemaker.delete_inference_component(InferenceComponentName="component")
    with pytest.raises(ClientError, match="does not exist"):
        sagemaker.describe_inference_component(InferenceComponentName="component")


def test_an_asynchronous_endpoint_reads_requests_from_s3_and_writes_results_failures_and_notifications(
    staging: Environment, direct_data: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an endpoint whose config is asynchronous (results and failures in the artifacts bucket, the topic
    # notified), serving a trained model, and a queue subscribed to the topic
    sagemaker, runtime, s3 = staging.client("sagemaker"), staging.client("sagemaker-runtime"), staging.client("s3")
    job = _train(staging, _training_request(staging, "direct-async", direct_data))
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    container = {"Image": IMAGE, "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"]}
    sagemaker.create_model(ModelName="direct-async", ExecutionRoleArn=ROLE, PrimaryContainer=container)
    bucket, topic = staging.artifacts_bucket, staging.output("Platform", "AlarmTopicArn")
    output = {"S3OutputPath": f"s3://{bucket}/async/out/", "S3FailurePath": f"s3://{bucket}/async/failed/",
              "NotificationConfig": {"SuccessTopic": topic, "ErrorTopic": topic}}  # fmt: skip
    variant = {"VariantName": "primary", "ModelName": "direct-async", "InitialInstanceCount": 1,
               "InstanceType": "ml.m5.large"}  # fmt: skip
    sagemaker.create_endpoint_config(EndpointConfigName="direct-async", ProductionVariants=[variant],
                                     AsyncInferenceConfig={"OutputConfig": output})  # fmt: skip
    sagemaker.create_endpoint(EndpointName="direct-async", EndpointConfigName="direct-async")
    queue = staging.subscribe_queue("async-notifications")
    rows = direct_data.score_features[:3]
    bodies = {"good": "".join(",".join(f"{v:.6g}" for v in row) + "\n" for row in rows).encode(), "bad": b"1,2\n"}
    for name, body in bodies.items():
        s3.put_object(Bucket=bucket, Key=f"async/in/{name}.csv", Body=body)

    def submit(name: str) -> dict[str, Any]:
        return dict(runtime.invoke_endpoint_async(EndpointName="direct-async", ContentType="text/csv",
                                                  InputLocation=f"s3://{bucket}/async/in/{name}.csv"))  # fmt: skip

    def written(location: str) -> bytes:
        key = location.removeprefix(f"s3://{bucket}/")
        for _ in range(600):
            listed = s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])
            if listed:
                return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            time.sleep(0.1)
        raise AssertionError(f"nothing was written to {location}")

    # WHEN a good request is submitted THEN SageMaker's answer says where its result and failure will be, and the
    # result is the model's predictions, under <S3OutputPath>/<inference id>.out
    good = submit("good")
    assert good["OutputLocation"] == f"s3://{bucket}/async/out/{good['InferenceId']}.out"
    assert good["FailureLocation"] == f"s3://{bucket}/async/failed/{good['InferenceId']}-error.out"
    predictions = [float(v) for v in written(good["OutputLocation"]).decode().split()]
    parsed = [[float(v) for v in line.split(",")] for line in bodies["good"].decode().splitlines()]
    assert predictions == pytest.approx(list(staging.model_of("direct-async").predict(parsed)), rel=1e-6)
    # WHEN a request the model rejects is submitted THEN the container's reason is its failure object
    bad = submit("bad")
    reason = written(bad["FailureLocation"]).decode()
    assert "Received client error (400)" in reason and "features" in reason
    # THEN the topic heard of both, with their inference ids, locations and outcome
    outcomes: dict[str, str] = {}
    for _ in range(100):
        for note in staging.notifications(queue):
            outcomes[note["Message"]["inferenceId"]] = note["Message"]["responseParameters"]["invocationStatus"]
        if len(outcomes) == 2:
            break
        time.sleep(0.1)
    assert outcomes == {good["InferenceId"]: "Completed", bad["InferenceId"]: "Failed"}
    # WHEN the asynchronous endpoint is invoked in real time THEN it refuses, as SageMaker's does
    with pytest.raises(ClientError, match="configured for asynchronous inference: call InvokeEndpointAsync"):
        runtime.invoke_endpoint(EndpointName="direct-async", Body=bodies["good"], ContentType="text/csv")
    # WHEN the SageMaker Python SDK submits the request (sagemaker-core's Endpoint.invoke_async, which its
    # AsyncPredictor calls) THEN it gets the locations, and the same predictions are written
    monkeypatch.setenv("AWS_ENDPOINT_URL", staging.server.url)
    sdk = Endpoint(endpoint_name="direct-async").invoke_async(
        input_location=f"s3://{bucket}/async/in/good.csv",
        content_type="text/csv",
        session=staging.server.session(),
        region="us-east-1",
    )
    sdk_predictions = [float(v) for v in written(sdk.output_location).decode().split()]
    assert sdk_predictions == pytest.approx(predictions, rel=1e-12)
    # WHEN a client that skips botocore's validation asks for more than SageMaker allows THEN it is refused
    unchecked = staging.server.session().client(
        "sagemaker-runtime", endpoint_url=staging.server.url, config=Config(parameter_validation=False)
    )
    with pytest.raises(ClientError, match=r"Value '3601' at 'invocationTimeoutSeconds' .*less than or equal to 3600"):
        unchecked.invoke_endpoint_async(EndpointName="direct-async", InputLocation=f"s3://{bucket}/async/in/good.csv",
                                        InvocationTimeoutSeconds=3601)  # fmt: skip
    # WHEN the model server answers nothing (stopped) and a request allows it 1 s THEN the request expires as
    # SageMaker marks one processed past its InvocationTimeoutSeconds: its failure object says so
    server = _serving_process_group(staging, "direct-async")
    os.killpg(server, signal.SIGSTOP)
    try:
        late = runtime.invoke_endpoint_async(EndpointName="direct-async", ContentType="text/csv",
                                             InputLocation=f"s3://{bucket}/async/in/good.csv",
                                             InvocationTimeoutSeconds=1)  # fmt: skip
        assert written(late["FailureLocation"]).decode() == EXPIRED.format(seconds=1)
    finally:
        os.killpg(server, signal.SIGCONT)


def _serving_process_group(env: Environment, endpoint: str) -> int:
    """The process group of `endpoint`'s model server (its master and workers), run under /opt/ml trees of its own."""
    for child in psutil.Process(env.server.process.pid).children(recursive=True):
        if f"/endpoints/{endpoint}/" in child.environ().get("OPT_ML_DIR", ""):
            return os.getpgid(child.pid)
    raise AssertionError(f"no model server of {endpoint} is running")
