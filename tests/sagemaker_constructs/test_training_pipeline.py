"""TrainingPipeline: every input is checked at synth time, with an error naming the field."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_events as events
from aws_cdk.assertions import Template

from config.contract import CONTAINER
from sagemaker_constructs import QualityGate, TrainingJobOptions, TransformJobOptions
from sagemaker_constructs.training_pipeline import metric_definitions_from_json, states
from tests.helpers import PIPELINE_METRICS as METRICS
from tests.helpers import Platform, definition, make_pipeline
from tests.sagemaker_constructs.state_machine import TaskFailedError, definition_of, run


def test_without_max_wait_training_is_on_demand_without_checkpoints(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN training options without max_wait
    WHEN the pipeline is synthesized
    THEN the training job is on-demand, stopped after max_runtime."""
    make_pipeline(stack, platform, training=TrainingJobOptions("ml.m5.large", max_runtime=cdk.Duration.hours(2)))
    train = definition(Template.from_stack(stack).to_json())["States"]["Train"]["Parameters"]
    assert "EnableManagedSpotTraining" not in train
    assert train["StoppingCondition"] == {"MaxRuntimeInSeconds": 7200}


def test_max_wait_turns_on_spot_with_checkpoints(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN max_wait above max_runtime
    WHEN the pipeline is synthesized
    THEN training runs on spot capacity, waits at most max_wait, and checkpoints."""
    options = TrainingJobOptions("ml.m5.large", max_runtime=cdk.Duration.hours(1), max_wait=cdk.Duration.hours(3))
    make_pipeline(stack, platform, training=options)
    train = definition(Template.from_stack(stack).to_json())["States"]["Train"]["Parameters"]
    assert train["EnableManagedSpotTraining"] is True
    assert train["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 10800}
    assert train["CheckpointConfig"]["LocalPath"] == "/opt/ml/checkpoints"


def test_several_instances_may_shard_the_train_channel(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN three instances sharding the train channel by key
    WHEN the pipeline is synthesized
    THEN train is sharded, validation replicated, and traffic between hosts encrypted."""
    options = TrainingJobOptions("ml.m5.large", instance_count=3, train_data_distribution="ShardedByS3Key")
    make_pipeline(stack, platform, training=options)
    train = definition(Template.from_stack(stack).to_json())["States"]["Train"]["Parameters"]
    distributions = {
        channel["ChannelName"]: channel["DataSource"]["S3DataSource"]["S3DataDistributionType"]
        for channel in train["InputDataConfig"]
    }
    assert distributions == {"train": "ShardedByS3Key", "validation": "FullyReplicated"}
    assert train["EnableInterContainerTrafficEncryption"] is True


def test_a_lower_is_better_gate_compares_at_most(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN a lower-is-better quality gate at 0.5
    WHEN the pipeline is synthesized
    THEN the gate passes metrics at most 0.5."""
    metrics = [{"Name": "validation:loss", "Regex": "validation:loss=([0-9.]+)"}]
    make_pipeline(stack, platform, metric_definitions=metrics, quality_gate=QualityGate("validation:loss", 0.5, False))
    choice = definition(Template.from_stack(stack).to_json())["States"]["MeetsQualityGate"]
    assert {"Variable": "$.evaluation.values[0]", "NumericLessThanEquals": 0.5} in choice["Choices"][0]["And"]


def test_a_schedule_starts_executions_with_its_input(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN a disabled daily schedule with an input
    WHEN it is added to the pipeline
    THEN a disabled rule starts executions with that input, as a role only EventBridge, for this account, assumes."""
    pipeline = make_pipeline(stack, platform)
    pipeline.add_schedule(
        "Nightly",
        schedule=events.Schedule.rate(cdk.Duration.days(1)),
        execution_input={"data_prefix": "d"},
        enabled=False,
    )
    template = Template.from_stack(stack)
    rule = next(iter(template.find_resources("AWS::Events::Rule").values()))["Properties"]
    assert rule["State"] == "DISABLED"
    assert json.loads(rule["Targets"][0]["Input"]) == {"data_prefix": "d"}
    role = template.to_json()["Resources"][rule["Targets"][0]["RoleArn"]["Fn::GetAtt"][0]]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_a_schedule_needs_a_data_prefix(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN an execution input without data_prefix WHEN a schedule is added THEN a ValueError names it."""
    pipeline = make_pipeline(stack, platform)
    with pytest.raises(ValueError, match="execution_input must name 'data_prefix'"):
        pipeline.add_schedule("Nightly", schedule=events.Schedule.rate(cdk.Duration.days(1)), execution_input={})


def test_grant_start_execution_allows_starting_this_state_machine(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN an operator WHEN granted start-execution THEN their policy allows states:StartExecution."""
    pipeline = make_pipeline(stack, platform)
    user = cdk.aws_iam.User(stack, "Operator")
    pipeline.grant_start_execution(user)
    policy = json.dumps(Template.from_stack(stack).find_resources("AWS::IAM::Policy"))
    assert "states:StartExecution" in policy


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name_prefix": "App_Dev"}, r"name_prefix must be 1-26 lowercase letters"),
        ({"name_prefix": "a" * 27}, r"name_prefix must be 1-26"),
        ({"metric_definitions": []}, r"metric_definitions must hold 1-40 entries, got 0"),
        ({"metric_definitions": METRICS * 41}, r"metric_definitions must hold 1-40 entries, got 41"),
        ({"metric_definitions": [{"Name": "x"}]}, r"metric_definitions\[0\] must have exactly Name and Regex"),
        ({"metric_definitions": [{"Name": "x" * 256, "Regex": "(1)"}]}, r"metric_definitions\[0\]\.Name must be 1-255"),
        (
            {"metric_definitions": [{"Name": "x", "Regex": "(" + "1" * 500 + ")"}]},
            r"metric_definitions\[0\]\.Regex must be 1-500",
        ),
        ({"metric_definitions": [{"Name": "x", "Regex": "(["}]}, r"metric_definitions\[0\]\.Regex is not a regular"),
        ({"metric_definitions": [{"Name": "x", "Regex": "x=1"}]}, r"metric_definitions\[0\]\.Regex must capture"),
        (
            {"metric_definitions": METRICS * 2},
            r"metric_definitions\[1\]\.Name 'validation:score' is defined twice",
        ),
        ({"quality_gate": QualityGate("validation:error", 1.0)}, r"quality_gate\.metric must be one of"),
        ({"training": TrainingJobOptions("ml.m5.large", max_runtime=cdk.Duration.days(29))}, r"training\.max_runtime"),
        (
            {
                "training": TrainingJobOptions(
                    "ml.m5.large", max_runtime=cdk.Duration.hours(2), max_wait=cdk.Duration.hours(1)
                )
            },
            r"training\.max_wait \(3600 s\) must exceed max_runtime \(7200 s\)",
        ),
        (
            {
                "training": TrainingJobOptions(
                    "ml.m5.large", max_runtime=cdk.Duration.hours(1), max_wait=cdk.Duration.days(29)
                )
            },
            r"training\.max_wait \(2\.5056e\+06 s\) must exceed max_runtime \(3600 s\) and be at most 2419200 s",
        ),
        ({"training": TrainingJobOptions("ml.m5.large", instance_count=0)}, r"training\.instance_count must be 1-100"),
        ({"training": TrainingJobOptions("ml.m5.large", volume_size_gb=0)}, r"training\.volume_size_gb must be"),
        ({"training": TrainingJobOptions("ml.m5.large", input_mode="Pipe")}, r"training\.input_mode must be File"),  # type: ignore[arg-type]
        (
            {"training": TrainingJobOptions("ml.m5.large", hyperparameters={"seed": 1})},  # type: ignore[dict-item]
            r"hyperparameters\['seed'\] must be a string",
        ),
        (
            {"transform": TransformJobOptions("ml.m5.large", max_payload_mb=101)},
            r"transform\.max_payload_mb must be 1-100",
        ),
        (
            {"transform": TransformJobOptions("ml.m5.large", max_concurrent_transforms=0)},
            r"max_concurrent_transforms must be at least 1",
        ),
        (
            {"transform": TransformJobOptions("ml.m5.large", max_payload_mb=50, max_concurrent_transforms=3)},
            r"must not exceed 100 MB",
        ),
        (
            {"transform": TransformJobOptions("ml.m5.large", instance_count=0)},
            r"transform\.instance_count must be at least 1",
        ),
        (
            {"transform": TransformJobOptions("ml.m5.large", invocation_timeout=cdk.Duration.seconds(3601))},
            r"transform\.invocation_timeout must be 1-3600 s in whole seconds, got 3601 s",
        ),
        (
            {"transform": TransformJobOptions("ml.m5.large", invocation_timeout=cdk.Duration.millis(1500))},
            r"transform\.invocation_timeout must be 1-3600 s in whole seconds, got 1\.5 s",
        ),
    ],
)
def test_bad_inputs_are_rejected_naming_the_field(
    stack: cdk.Stack, platform: Platform, overrides: dict[str, Any], message: str
) -> None:
    """GIVEN one bad input WHEN the pipeline is built THEN a ValueError names the field and what is allowed."""
    with pytest.raises(ValueError, match=message):
        make_pipeline(stack, platform, **overrides)


def test_metric_definitions_json_must_be_a_list_of_objects() -> None:
    """GIVEN metric definitions as JSON
    WHEN they are parsed
    THEN an object is rejected and a list of objects comes back unchanged."""
    with pytest.raises(ValueError, match="must be a JSON list"):
        metric_definitions_from_json('{"Name": "x"}')
    assert metric_definitions_from_json(json.dumps(METRICS)) == METRICS


def test_the_states_are_pure_functions_of_the_options() -> None:
    # GIVEN options and names, no construct at all
    training = TrainingJobOptions("ml.m5.large", max_wait=cdk.Duration.days(2), hyperparameters={"seed": "1"})
    transform = TransformJobOptions("ml.c5.xlarge", max_payload_mb=10, max_concurrent_transforms=4)
    # WHEN the training and transform states are computed
    train = states.training_job(
        training,
        partition="aws",
        image_uri="image",
        role_arn="role",
        key_arn="key",
        data_bucket="data",
        artifacts_bucket="artifacts",
        metric_definitions=METRICS,
    )
    score = states.transform_job(
        transform, partition="aws", key_arn="key", data_bucket="data", artifacts_bucket="artifacts"
    )
    # THEN they are plain JSON: spot training with per-job checkpoints, and the container told the job's own numbers
    assert json.loads(json.dumps(train)) == train
    assert train["Parameters"]["EnableManagedSpotTraining"] is True
    assert train["Parameters"]["CheckpointConfig"]["LocalPath"] == states.CHECKPOINT_LOCAL_PATH
    assert score["Parameters"]["Environment"] == {
        CONTAINER.environment.max_payload_mb: "10",
        CONTAINER.environment.server_workers: "4",
        CONTAINER.environment.server_timeout: "600",
    }
    # AND the jobs' tags end with the commit and the execution, after the given tags in name order
    tags = states.job_tags({"Project": "p", "Environment": "dev"})
    assert [t["Key"] for t in tags] == ["Environment", "Project", "Commit", "PipelineExecution"]


@pytest.mark.parametrize(
    ("output_prefix", "refused"),
    [
        ("async-inference", True),
        ("async-inference/models", True),
        ("async-inference/", True),  # also a trailing '/'
        ("async-inferences", False),  # only a name alike
        ("pipeline/async-inference", False),
    ],
)
def test_a_run_may_not_write_its_models_where_asynchronous_objects_expire(
    stack: cdk.Stack, platform: Platform, output_prefix: str, refused: bool
) -> None:
    """GIVEN a pipeline WHEN an execution names an output_prefix under async-inference/ (reserved: everything there
    expires after endpoint.asynchronous.retention_days) THEN it fails in InvalidInput, saying why, before any job;
    a prefix only named alike passes the check."""
    make_pipeline(stack, platform)
    jobs: list[str] = []

    def first_job_ends_the_run(resource: str, _parameters: Any) -> Any:
        jobs.append(resource)
        raise TaskFailedError("Test.Stop", "the check passed; no job needs to run here")

    execution = run(
        definition_of(Template.from_stack(stack).to_json()),
        {"data_prefix": "datasets/churn", "output_prefix": output_prefix},
        execution_name="3f0c5b9e-7d2a-4c1e-9b8f-0a1b2c3d4e5f",
        task=first_job_ends_the_run,
    )
    if refused:
        assert (execution.states[-1], execution.error, jobs) == ("InvalidInput", "InvalidInput", [])
        assert "'output_prefix' must not lie under async-inference/" in str(execution.cause)
    else:
        assert execution.states[:3] == ["ApplyDefaults", "CheckInput", "MergeInput"] and jobs
