"""Hyperparameter tuning in the training pipeline: the request SageMaker gets, the run through best job → gate →
model, the execution's input, the name of the tuning job, the permissions."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import subprocess
import sys
import tomllib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import botocore.session
import pytest
from aws_cdk.assertions import Template

from config import parse_config
from config.settings import DEFAULT_CONFIG_FILE
from config.tuning import ParameterRangeSettings
from sagemaker_constructs import QualityGate, TrainingJobOptions, TrainingPipeline
from sagemaker_constructs.training_pipeline import metric_definitions_from_json, tuning
from sagemaker_constructs.training_pipeline.tuning import TuningOptions
from stacks import build_app
from tests import declared
from tests.conftest import TEST_ACCOUNT, cdk_context
from tests.deploy_readiness.requirements import step_functions_sagemaker_needs
from tests.helpers import Platform, make_pipeline
from tests.sagemaker_constructs.state_machine import (
    Execution,
    ServiceAnswers,
    TaskFailedError,
    definition_of,
    run,
)

# The construct takes every name as an argument: these are the test's own (an algorithm's are in tests/declared.py).
METRICS = metric_definitions_from_json(
    json.dumps(
        [
            {"Name": name, "Regex": f"#metrics round=[0-9]+ .*{name}=([0-9.]+)"}
            for name in ("train:score", "validation:score", "validation:loss")
        ]
    )
)
PREFIX = "app-dev"
RANGES = {
    "step_size": ParameterRangeSettings(type="continuous", min_value=0.01, max_value=0.3, scaling="Logarithmic"),
    "width": ParameterRangeSettings(type="integer", min_value=8, max_value=256, scaling="Logarithmic"),
    "variant": ParameterRangeSettings(type="categorical", values=("plain", "fancy")),
}
TUNING = TuningOptions(
    "validation:score",
    "Maximize",
    RANGES,
    max_training_jobs=12,
    max_parallel_training_jobs=3,
    metric_hyperparameter="scored_by",
)
HYPERPARAMETERS = {"problem": "binary", "scored_by": "score", "rounds": "200"}
SAGEMAKER = botocore.session.get_session().get_service_model("sagemaker")
BEST_JOB_SUFFIX = "-007-1a2b3c4d"


def _pipeline(stack: cdk.Stack, platform: Platform, **overrides: Any) -> TrainingPipeline:
    arguments: dict[str, Any] = {
        "name_prefix": PREFIX,
        "metric_definitions": METRICS,
        "training": TrainingJobOptions(
            "ml.m5.large",
            max_runtime=cdk.Duration.hours(2),
            max_wait=cdk.Duration.hours(4),
            hyperparameters=HYPERPARAMETERS,
        ),
        "quality_gate": QualityGate("validation:score", 0.75),
        "tags": {"Environment": "dev"},
        "tuning": TUNING,
    }
    return make_pipeline(stack, platform, **(arguments | overrides))


def _definition(stack: cdk.Stack) -> dict[str, Any]:
    return definition_of(Template.from_stack(stack).to_json())


def _jsonata(expression: str, data: Any, context: Mapping[str, Any]) -> Any:
    """The one JSONata expression the pipeline uses, evaluated from its text (prefix and length as written)."""
    match = re.fullmatch(
        r"\{% \$merge\(\[\$states\.input, \{'tuning_job_name': '([a-z0-9-]+)' & "
        r"\$substring\(\$hash\(\$states\.context\.Execution\.Name, 'SHA-256'\), 0, (\d+)\)\}\]\) %\}",
        expression,
    )
    assert match, expression
    digest = hashlib.sha256(context["Execution"]["Name"].encode()).hexdigest()
    return {**data, "tuning_job_name": match.group(1) + digest[: int(match.group(2))]}


@dataclass
class SageMaker(ServiceAnswers):
    """Mocked answers of SageMaker and SNS; records every request (validated against botocore first)."""

    best_score: float = 0.83
    tuning_fails: bool = False

    def createHyperParameterTuningJob(self, request: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - the API's name
        name = request["HyperParameterTuningJobName"]
        if self.tuning_fails:
            raise TaskFailedError("SageMaker.AmazonSageMakerException", f"tuning job {name}: all training jobs failed")
        return {
            "HyperParameterTuningJobName": name,
            "HyperParameterTuningJobStatus": "Completed",
            "BestTrainingJob": {
                "TrainingJobName": name + BEST_JOB_SUFFIX,
                "TunedHyperParameters": {"step_size": "0.042", "width": "61", "variant": "plain"},
                "FinalHyperParameterTuningJobObjectiveMetric": {
                    "Type": "Maximize",
                    "MetricName": "validation:score",
                    "Value": self.best_score,
                },
                "TrainingJobStatus": "Completed",
            },
            "TrainingJobStatusCounters": {"Completed": 11, "Stopped": 1, "NonRetryableError": 0},
        }

    def describeTrainingJob(self, request: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - the API's name
        name = request["TrainingJobName"]
        return {
            "TrainingJobName": name,
            "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
            "TrainingJobStatus": "Completed",
            "ModelArtifacts": {"S3ModelArtifacts": f"s3://artifacts/pipeline/models/{name}/output/model.tar.gz"},
            "FinalMetricDataList": [{"MetricName": "validation:score", "Value": self.best_score}],
            "HyperParameters": {
                **HYPERPARAMETERS,
                "step_size": "0.042",
                "_tuning_objective_metric": "validation:score",
            },
        }

    def createTrainingJob(self, request: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - the API's name
        return {
            "TrainingJobName": request["TrainingJobName"],
            "ModelArtifacts": {"S3ModelArtifacts": "s3://artifacts/pipeline/models/single/model.tar.gz"},
            "FinalMetricDataList": [{"MetricName": "validation:score", "Value": 0.8}],
        }

    def createModel(self, request: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - the API's name
        return {"ModelArn": f"arn:aws:sagemaker:us-east-1:123456789012:model/{request['ModelName']}"}

    def createTransformJob(self, request: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - the API's name
        return {"TransformOutput": request["TransformOutput"]}


def _run(definition: dict[str, Any], document: dict[str, Any], sagemaker: SageMaker | None = None) -> Execution:
    return run(
        definition,
        document,
        execution_name="3f0c5b9e-7d2a-4c1e-9b8f-0a1b2c3d4e5f",
        task=sagemaker or SageMaker(),
        jsonata=_jsonata,
    )


INPUT = {"data_prefix": "datasets/churn", "tuning": True}


# ----- a tuned run, end to end ---------------------------------------------------------------------------


def test_a_tuned_run_trains_through_the_best_job_into_the_gate_model_and_transform(
    stack: cdk.Stack, platform: Platform
) -> None:
    # GIVEN a pipeline with tuning and a quality gate
    _pipeline(stack, platform)
    sagemaker = SageMaker()
    # WHEN an execution asks for tuning
    execution = _run(_definition(stack), INPUT, sagemaker)
    # THEN it tunes instead of training once, describes the best job, and goes on as after a single job
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert execution.states == [
        "ApplyDefaults",
        "CheckInput",
        "MergeInput",
        "Prepare",
        "ChooseTraining",
        "NameTuningJob",
        "Tune",
        "DescribeBestTrainingJob",
        "Evaluate",
        "MeetsQualityGate",
        "CreateModel",
        "Score",
        "Report",
        "NotifySucceeded",
    ]
    assert "createTrainingJob" not in sagemaker.requests
    name = sagemaker.requests["createHyperParameterTuningJob"][0]["HyperParameterTuningJobName"]
    best = name + BEST_JOB_SUFFIX
    assert sagemaker.requests["describeTrainingJob"] == [{"TrainingJobName": best}]
    model = sagemaker.requests["createModel"][0]
    assert model["PrimaryContainer"]["ModelDataUrl"] == f"s3://artifacts/pipeline/models/{best}/output/model.tar.gz"
    # AND the report, which is the SNS message, names the best job, its objective value and hyperparameters
    (message,) = sagemaker.published()
    assert message == execution.output
    assert message["training_job"] == best
    assert message["tuning"] == {
        "tuned": True,
        "job": name,
        "best_training_job": best,
        "objective": {"Type": "Maximize", "MetricName": "validation:score", "Value": 0.83},
        "tuned_hyperparameters": {"step_size": "0.042", "width": "61", "variant": "plain"},
        "training_jobs": {"Completed": 11, "Stopped": 1, "NonRetryableError": 0},
    }


def test_the_tuning_request_is_a_valid_create_hyper_parameter_tuning_job(stack: cdk.Stack, platform: Platform) -> None:
    # GIVEN a pipeline with tuning, spot training and checkpoints WHEN a tuned execution runs
    _pipeline(stack, platform)
    sagemaker = SageMaker()
    _run(_definition(stack), INPUT, sagemaker)
    (request,) = sagemaker.requests["createHyperParameterTuningJob"]
    # THEN botocore accepted the request (SageMaker mocked validated it) AND it carries the configuration
    config = request["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Bayesian"
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "validation:score"}
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 12, "MaxParallelTrainingJobs": 3}
    assert config["TrainingJobEarlyStoppingType"] == "Off"
    assert config["ParameterRanges"] == {
        "IntegerParameterRanges": [{"Name": "width", "MinValue": "8", "MaxValue": "256", "ScalingType": "Logarithmic"}],
        "ContinuousParameterRanges": [
            {"Name": "step_size", "MinValue": "0.01", "MaxValue": "0.3", "ScalingType": "Logarithmic"}
        ],
        "CategoricalParameterRanges": [{"Name": "variant", "Values": ["plain", "fancy"]}],
    }
    definition = request["TrainingJobDefinition"]
    assert definition["StaticHyperParameters"] == HYPERPARAMETERS
    assert definition["EnableManagedSpotTraining"] is True
    assert definition["StoppingCondition"] == {"MaxRuntimeInSeconds": 7200, "MaxWaitTimeInSeconds": 14400}
    assert definition["CheckpointConfig"]["LocalPath"] == "/opt/ml/checkpoints"
    assert definition["AlgorithmSpecification"]["MetricDefinitions"] == METRICS
    assert definition["EnableInterContainerTrafficEncryption"] is True
    assert {t["Key"] for t in request["Tags"]} == {"Environment", "Commit", "PipelineExecution"}
    assert "WarmStartConfig" not in request


def test_an_untuned_run_trains_once_and_reports_it_was_not_tuned(stack: cdk.Stack, platform: Platform) -> None:
    # GIVEN a pipeline with tuning, off by default WHEN an execution does not ask for it
    _pipeline(stack, platform)
    sagemaker = SageMaker()
    execution = _run(_definition(stack), {"data_prefix": "datasets/churn"}, sagemaker)
    # THEN the single training job runs (a valid CreateTrainingJob) and the report says so
    assert execution.status == "SUCCEEDED", execution.cause
    assert "Train" in execution.states
    assert "Tune" not in execution.states
    assert "createHyperParameterTuningJob" not in sagemaker.requests
    assert execution.output["tuning"] == {"tuned": False}


def test_enabled_by_default_tunes_unless_the_input_says_false(stack: cdk.Stack, platform: Platform) -> None:
    # GIVEN tuning on by default
    _pipeline(stack, platform, tuning=replace(TUNING, enabled_by_default=True))
    definition = _definition(stack)
    # WHEN an execution says nothing, or false THEN it tunes, or trains once
    assert "Tune" in _run(definition, {"data_prefix": "d"}).states
    assert "Train" in _run(definition, {"data_prefix": "d", "tuning": False}).states


def test_a_best_job_below_the_gate_creates_no_model(stack: cdk.Stack, platform: Platform) -> None:
    # GIVEN the gate validation:score >= 0.75 WHEN the best tuned job reaches only 0.7
    _pipeline(stack, platform)
    sagemaker = SageMaker(best_score=0.7)
    execution = _run(_definition(stack), INPUT, sagemaker)
    # THEN the model is rejected, with the best job named in the notification
    assert execution.error == "ModelRejected"
    assert "createModel" not in sagemaker.requests
    (message,) = sagemaker.published()
    assert message["training_job"].endswith(BEST_JOB_SUFFIX)


def test_a_failed_tuning_job_notifies_and_fails_the_execution(stack: cdk.Stack, platform: Platform) -> None:
    # GIVEN a tuning job whose training jobs all fail WHEN a tuned execution runs
    _pipeline(stack, platform)
    sagemaker = SageMaker(tuning_fails=True)
    execution = _run(_definition(stack), INPUT, sagemaker)
    # THEN the failure is notified with SageMaker's cause and the execution fails in TuningFailed
    assert execution.states[-2:] == ["NotifyTuningFailed", "TuningFailed"]
    assert execution.error == "SageMaker.AmazonSageMakerException"
    (message,) = sagemaker.published()
    assert message["stage"] == "Tuning"
    assert "all training jobs failed" in message["cause"]


def test_hyperband_stops_jobs_by_rounds_itself(stack: cdk.Stack, platform: Platform) -> None:
    # GIVEN the Hyperband strategy between 10 and 200 rounds WHEN a tuned execution runs
    hyperband = replace(TUNING, strategy="Hyperband", hyperband_resource=("rounds", 10, 200))
    _pipeline(stack, platform, tuning=hyperband)
    sagemaker = SageMaker()
    _run(_definition(stack), INPUT, sagemaker)
    # THEN the strategy's own configuration carries the rounds, and SageMaker's early stopping is off
    config = sagemaker.requests["createHyperParameterTuningJob"][0]["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Hyperband"
    assert config["StrategyConfig"] == {"HyperbandStrategyConfig": {"MinResource": 10, "MaxResource": 200}}
    assert config["TrainingJobEarlyStoppingType"] == "Off"
    # AND an execution may not change the rounds Hyperband's MaxResource was set from
    bigger = _run(_definition(stack), {**INPUT, "hyperparameters": {"rounds": "5000"}})
    assert bigger.error == "InvalidInput"


# ----- warm start ----------------------------------------------------------------------------------------


def test_warm_start_continues_the_tuning_job_the_input_names(stack: cdk.Stack, platform: Platform) -> None:
    # GIVEN warm start configured
    _pipeline(stack, platform, tuning=replace(TUNING, warm_start="TransferLearning"))
    definition = _definition(stack)
    sagemaker = SageMaker()
    # WHEN an execution names the previous tuning job of this environment
    execution = _run(definition, {**INPUT, "tuning_parent": f"{PREFIX}-0123456789abcdef0123456"}, sagemaker)
    # THEN the tuning job is warm-started from it (a valid request) and the report names the parent
    assert "TuneWarmStarted" in execution.states
    (request,) = sagemaker.requests["createHyperParameterTuningJob"]
    assert request["WarmStartConfig"] == {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": f"{PREFIX}-0123456789abcdef0123456"}],
        "WarmStartType": "TransferLearning",
    }
    assert execution.output["tuning"]["warm_start_parent"] == f"{PREFIX}-0123456789abcdef0123456"
    # AND the first run, which has no parent, starts cold
    first = _run(definition, INPUT)
    assert "Tune" in first.states
    assert "TuneWarmStarted" not in first.states


@pytest.mark.parametrize(
    "parent", ["app-staging-0123456789abcdef012", "app-deve-0123456789abcdef01234", 42, ""], ids=repr
)
def test_warm_start_from_another_environments_job_is_invalid_input(
    stack: cdk.Stack, platform: Platform, parent: Any
) -> None:
    # GIVEN warm start configured WHEN the parent is not a tuning job of this environment's prefix
    _pipeline(stack, platform, tuning=replace(TUNING, warm_start="IdenticalDataAndAlgorithm"))
    execution = _run(_definition(stack), {**INPUT, "tuning_parent": parent})
    # THEN nothing starts
    assert execution.error == "InvalidInput"


def test_a_parent_without_warm_start_configured_is_invalid_input(stack: cdk.Stack, platform: Platform) -> None:
    # GIVEN no warm start configured WHEN the input names a parent anyway THEN nothing starts
    _pipeline(stack, platform)
    assert _run(_definition(stack), {**INPUT, "tuning_parent": f"{PREFIX}-x"}).error == "InvalidInput"


# ----- the execution's input -------------------------------------------------------------------------------


def test_the_input_narrows_numeric_ranges_within_the_configured_ones(stack: cdk.Stack, platform: Platform) -> None:
    # GIVEN configured step_size 0.01-0.3 and width 8-256
    _pipeline(stack, platform)
    sagemaker = SageMaker()
    # WHEN the input narrows both, one to its configured bounds
    narrowed = {"step_size": {"min": 0.05, "max": 0.1}, "width": {"min": 8, "max": 256}}
    execution = _run(_definition(stack), {**INPUT, "tuning_ranges": narrowed}, sagemaker)
    # THEN the tuning job searches the narrowed ranges
    assert execution.status == "SUCCEEDED", execution.cause
    ranges = sagemaker.requests["createHyperParameterTuningJob"][0]["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert ranges["ContinuousParameterRanges"][0] | {} == {
        "Name": "step_size",
        "MinValue": "0.05",
        "MaxValue": "0.1",
        "ScalingType": "Logarithmic",
    }
    assert (ranges["IntegerParameterRanges"][0]["MinValue"], ranges["IntegerParameterRanges"][0]["MaxValue"]) == (
        "8",
        "256",
    )


@pytest.mark.parametrize(
    "document",
    [
        {"tuning": "yes"},
        {"tuning_ranges": "step_size=0.05:0.1"},
        {"tuning_ranges": None},
        {"tuning_ranges": {"step_size": {"min": 0.001, "max": 0.1}}},  # below the configured minimum
        {"tuning_ranges": {"step_size": {"min": 0.05, "max": 0.31}}},  # above the configured maximum
        {"tuning_ranges": {"step_size": {"min": 0.1, "max": 0.1}}},  # empty
        {"tuning_ranges": {"step_size": {"min": 0.2, "max": 0.1}}},  # reversed
        {"tuning_ranges": {"step_size": {"min": "0.05", "max": "0.1"}}},  # strings
        {"tuning_ranges": {"step_size": {"min": 0.05}}},  # half a range
        {"tuning_ranges": {"variant": {"min": 0, "max": 1}}},  # categorical ranges are fixed
        {"hyperparameters": {"step_size": "0.1"}},  # tuned and static at once
        {"hyperparameters": {"scored_by": "loss"}},  # the objective would not be reported
    ],
    ids=json.dumps,
)
def test_bad_tuning_input_fails_before_anything_starts(
    stack: cdk.Stack, platform: Platform, document: dict[str, Any]
) -> None:
    # GIVEN a pipeline with tuning WHEN a tuned execution's input breaks a rule
    _pipeline(stack, platform)
    sagemaker = SageMaker()
    execution = _run(_definition(stack), {**INPUT, **document}, sagemaker)
    # THEN it fails in InvalidInput, whose cause explains the tuning keys, and no job starts
    assert execution.states[-1] == "InvalidInput"
    assert "tuning_ranges" in (execution.cause or "")
    assert not sagemaker.requests


def test_static_values_of_tuned_names_are_fine_when_not_tuning(stack: cdk.Stack, platform: Platform) -> None:
    # GIVEN a pipeline with tuning WHEN an untuned execution sets a tuned name as a hyperparameter
    _pipeline(stack, platform)
    execution = _run(_definition(stack), {"data_prefix": "d", "tuning": False, "hyperparameters": {"width": "63"}})
    # THEN the single job trains with it
    assert execution.status == "SUCCEEDED", execution.cause


# ----- the tuning job's name -------------------------------------------------------------------------------


def test_the_tuning_job_name_is_the_execution_names_hash_and_fits_32_characters() -> None:
    # GIVEN every prefix length that fits, and many execution names (generated UUIDs and chosen names)
    pattern = re.compile(SAGEMAKER.shape_for("HyperParameterTuningJobName").metadata["pattern"])
    executions = [str(uuid.UUID(int=i * 7919)) for i in range(5000)] + [f"nightly-{i}" for i in range(5000)]
    for length in range(1, 24):
        prefix = ("a-b" * 10)[:length].rstrip("-") or "a"
        # WHEN the names are derived
        names = {tuning.tuning_job_name(prefix, execution) for execution in executions}
        # THEN each is unique, at most 32 characters, SageMaker's pattern, and starts with <prefix>-
        assert len(names) == len(executions), prefix
        for name in names:
            assert len(name) <= 32
            assert pattern.fullmatch(name), name
            assert name.startswith(f"{prefix}-")
            assert len(name) - len(prefix) - 1 >= 8
    # AND the same execution always gets the same name
    assert tuning.tuning_job_name("app-dev", "x") == tuning.tuning_job_name("app-dev", "x")


def test_the_name_state_computes_what_tuning_job_name_says(stack: cdk.Stack, platform: Platform) -> None:
    # GIVEN the synthesized NameTuningJob state WHEN its expression is evaluated THEN it equals the Python name
    _pipeline(stack, platform)
    state = _definition(stack)["States"]["NameTuningJob"]
    assert state["QueryLanguage"] == "JSONata"
    context = {"Execution": {"Name": "run-1"}}
    assert _jsonata(state["Output"], {"a": 1}, context) == {
        "a": 1,
        "tuning_job_name": tuning.tuning_job_name(PREFIX, "run-1"),
    }


def test_a_prefix_too_long_for_tuning_job_names_is_rejected(stack: cdk.Stack, platform: Platform) -> None:
    # GIVEN a 24-character prefix WHEN a pipeline with tuning is built THEN it is refused: no 8 hex digits would fit
    with pytest.raises(ValueError, match=r"name_prefix must be at most 23 characters with tuning"):
        _pipeline(stack, platform, name_prefix="a" * 24)


def test_tuning_the_pipeline_cannot_run_is_rejected_with_every_problem_and_the_path(
    stack: cdk.Stack, platform: Platform
) -> None:
    # GIVEN an objective the pipeline's metric definitions lack and a name prefix too long for tuning job names
    # (the options' own rules, strategy, limits and ranges, are the configuration's: tests/test_config_tuning.py)
    options = replace(TUNING, objective_metric="validation:no_such_metric")
    # WHEN the pipeline is built THEN one error names the construct's path and both problems
    with pytest.raises(ValueError, match=r"TrainingPipeline [\w/]+: 2 problems: name_prefix must be at most") as error:
        _pipeline(stack, platform, tuning=options, name_prefix="a" * 24)
    assert "tuning.objective_metric must be one of the metric definitions" in str(error.value)


# ----- what the pipeline may do ------------------------------------------------------------------------------


def _statements(stack: cdk.Stack) -> dict[str, dict[str, Any]]:
    policies = Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy")
    (policy,) = [p for name, p in policies.items() if name.startswith("PipelinePolicy")]
    return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}


def test_the_pipeline_may_run_only_its_own_tuning_jobs(stack: cdk.Stack, platform: Platform) -> None:
    # GIVEN a pipeline with tuning WHEN synthesized
    _pipeline(stack, platform)
    statements = _statements(stack)
    # THEN on tuning jobs named with its prefix only, it may do what Step Functions' .sync tuning integration needs
    # (the deploy-readiness table, not policy.py's list), and list their training jobs and tags; nothing more
    tune = statements["RunTuningJobs"]
    assert tune["Resource"]["Fn::Join"][1][-1] == f":hyper-parameter-tuning-job/{PREFIX}-*"
    needed = step_functions_sagemaker_needs("createHyperParameterTuningJob", sync=True)
    listing = {"sagemaker:ListTrainingJobsForHyperParameterTuningJob", "sagemaker:ListTags"}
    assert set(tune["Action"]) == {action for action in needed if action.startswith("sagemaker:")} | listing
    # AND describing the best job is the training-job statement's (<tuning job>-<n>-<id> starts with the prefix)
    assert "sagemaker:DescribeTrainingJob" in statements["RunTrainingJobs"]["Action"]
    assert statements["RunTrainingJobs"]["Resource"]["Fn::Join"][1][-1] == f":training-job/{PREFIX}-*"
    # AND it learns when .sync tuning jobs end
    rules = json.dumps(statements["LearnWhenJobsEnd"]["Resource"])
    assert "StepFunctionsGetEventsForSageMakerTuningJobsRule" in rules


def test_without_tuning_the_pipeline_has_no_tuning_states_or_permissions(stack: cdk.Stack, platform: Platform) -> None:
    # GIVEN a pipeline without tuning WHEN synthesized THEN nothing of tuning is in it
    _pipeline(stack, platform, tuning=None)
    assert "RunTuningJobs" not in _statements(stack)
    definition = _definition(stack)
    assert not {"ChooseTraining", "NameTuningJob", "Tune", "DescribeBestTrainingJob"} & set(definition["States"])
    assert "tuning" not in definition["States"]["Report"]["Parameters"]
    assert copy.deepcopy(definition["States"]["Prepare"]["Next"]) == "Train"


# ----- an environment that tunes -----------------------------------------------------------------------------


def _tuned_dev(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """Dev alone, with tuning (Hyperband, warm start) in its configuration, synthesized with every cdk-nag pack."""
    declared.resource()  # Hyperband allots the algorithm's tuning resource
    raw = tomllib.loads(DEFAULT_CONFIG_FILE.read_text())
    dev = raw["environments"]["dev"]
    if declared.METRIC_HYPERPARAMETER is not None:
        dev["training"]["hyperparameters"][declared.METRIC_HYPERPARAMETER] = declared.OBJECTIVE.partition(":")[2]
    dev["tuning"] = {
        "objective": declared.OBJECTIVE,
        "strategy": "Hyperband",
        "warm_start": "IdenticalDataAndAlgorithm",
        "max_training_jobs": 30,
        "max_parallel_training_jobs": 3,
    }
    config = parse_config({"app": raw["app"], "environments": {"dev": dev}}, default_account=TEST_ACCOUNT)
    app, stages = build_app(config, context=cdk_context(), outdir=str(tmp_path))
    app.synth()
    assembly = stages["dev"].synth()
    training = stages["dev"].training
    return tmp_path, assembly.get_stack_artifact(training.artifact_id).template


def test_an_environment_that_tunes_passes_every_cdk_nag_pack(tmp_path: Path) -> None:
    # GIVEN dev with tuning configured WHEN the app is synthesized with the nag packs
    outdir, template = _tuned_dev(tmp_path)
    # THEN every pack passed with nothing open
    report = json.loads((outdir / "validation-report.json").read_text())
    for plugin in report["pluginReports"]:
        assert plugin["conclusion"] == "success", plugin["pluginName"]
        assert plugin["violations"] == []
    # AND the configuration reached the state machine: Hyperband up to dev's resource, warm start, the default ranges
    body = next(r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine")
    text = json.dumps(body["Properties"]["DefinitionString"])
    resource = declared.resource()
    dev = tomllib.loads(DEFAULT_CONFIG_FILE.read_text())["environments"]["dev"]["training"]["hyperparameters"]
    most = int(dev.get(resource.name, resource.default))
    assert f'\\"MinResource\\":10,\\"MaxResource\\":{most}' in text
    assert "IdenticalDataAndAlgorithm" in text
    assert "sagemaker-gbdt-dev-" in text
    for name in declared.ALGORITHM.tuning_ranges:
        assert f'\\"Name\\":\\"{name}\\"' in text, name


def test_cfn_lint_finds_nothing_in_the_tuned_training_template(tmp_path: Path) -> None:
    # GIVEN dev's Training stack with tuning WHEN cfn-lint checks it (its state machine schema included)
    outdir, _ = _tuned_dev(tmp_path)
    templates = [str(p) for p in outdir.glob("assembly-Dev/*Training*.template.json")]
    assert templates
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    command = [str(cfn_lint), "--format", "parseable", "--ignore-checks", "W3005", "--", *templates]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    # THEN it reports nothing
    assert result.returncode == 0, result.stdout + result.stderr
