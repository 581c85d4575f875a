"""Hyperparameter tuning in the pipeline: its options, their checks and its states, as pure functions.

With `TuningOptions`, the state machine may run `createHyperParameterTuningJob.sync` in place of the
single training job (the execution's `tuning` input, default `enabled_by_default`), then describes
the best training job, so that the quality gate, CreateModel and the report read the same
`$.training` document as after a single job. docs/tuning.md explains the choices.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import aws_stepfunctions as sfn

from config.contract import (
    INPUT_HYPERPARAMETERS,
    INPUT_TUNING,
    INPUT_TUNING_PARENT,
    INPUT_TUNING_RANGES,
    MAX_TUNING_JOB_NAME_LENGTH,
    MIN_TUNING_NAME_HASH_LENGTH,
)
from config.tuning import ParameterRangeSettings, TuningSettings, hyperband_resource
from sagemaker_constructs.state_machines import task_state

# Where the state machine keeps the narrowed ranges and the tuning job's name.
RANGES_PATH = "$.tuning_ranges"
NAME_PATH = "$.tuning_job_name"
INVALID_TUNING_CAUSE = (
    f" With tuning: {INPUT_TUNING!r} is true or false; {INPUT_TUNING_RANGES!r} narrows numeric ranges as "
    '{"<name>": {"min": <number>, "max": <number>}} within the configured ones (min below max; categorical '
    f"ranges are fixed); a tuned run sets no tuned hyperparameter in {INPUT_HYPERPARAMETERS!r} and keeps the "
    "objective's metric (and, with Hyperband, the resource Hyperband allots); "
    f"{INPUT_TUNING_PARENT!r} names a tuning job of this environment (with warm start only)."
)


@dataclass(frozen=True)
class TuningOptions:
    """A hyperparameter tuning job in place of the single training job.

    :param objective_metric: one of the pipeline's metric definitions (a validation metric).
    :param objective_type: Maximize or Minimize.
    :param ranges: the tuned hyperparameters by name, each the configuration's validated range (whose defaults
        are the container's, read from container/algorithm.json); each is then not a static hyperparameter.
    :param enabled_by_default: whether an execution whose input does not say `tuning` tunes. @default False.
    :param warm_start: IdenticalDataAndAlgorithm or TransferLearning: an execution whose input names
        `tuning_parent` continues that tuning job's search. @default None (no warm start).
    :param hyperband_resource: (the integer hyperparameter Hyperband allots, such as boosting rounds, its
        MinResource, its MaxResource), with the Hyperband strategy.
    :param metric_hyperparameter: the hyperparameter choosing the one metric the jobs evaluate, if any: a tuned
        run keeps it. @default None (the jobs report every metric).
    """

    objective_metric: str
    objective_type: str
    ranges: Mapping[str, ParameterRangeSettings]
    strategy: str = "Bayesian"
    max_training_jobs: int = 20
    max_parallel_training_jobs: int = 2
    early_stopping: str = "Off"
    warm_start: str | None = None
    hyperband_resource: tuple[str, int, int] | None = None
    metric_hyperparameter: str | None = None
    enabled_by_default: bool = False

    @property
    def numeric_ranges(self) -> dict[str, ParameterRangeSettings]:
        return {name: r for name, r in self.ranges.items() if r.type != "categorical"}

    @classmethod
    def from_settings(
        cls, tuning: TuningSettings, hyperparameters: dict[str, str], *, metric_hyperparameter: str | None
    ) -> TuningOptions:
        """The options of an environment's `[tuning]` table, which the configuration validated, for an algorithm
        whose `metric_hyperparameter` (container/algorithm.json) chooses the metric its jobs evaluate."""
        return cls(
            objective_metric=tuning.objective,
            objective_type=tuning.direction,
            ranges=dict(sorted(tuning.ranges.items())),
            strategy=tuning.strategy,
            max_training_jobs=tuning.max_training_jobs,
            max_parallel_training_jobs=tuning.max_parallel_training_jobs,
            early_stopping=tuning.early_stopping,
            warm_start=tuning.warm_start,
            hyperband_resource=hyperband_resource(tuning, hyperparameters) if tuning.strategy == "Hyperband" else None,
            metric_hyperparameter=metric_hyperparameter,
            enabled_by_default=tuning.enabled,
        )


def name_hash_length(name_prefix: str) -> int:
    """How many hex digits of the execution's hash follow `<name_prefix>-` in the tuning job's name."""
    return MAX_TUNING_JOB_NAME_LENGTH - len(name_prefix) - 1


def tuning_job_name(name_prefix: str, execution_name: str) -> str:
    """`<prefix>-<the first hex digits of SHA-256(execution name)>`, exactly 32 characters.

    What the NameTuningJob state computes (`name_expression`); execution names are unique per state
    machine, and the name keeps at least 8 hex digits (32 bits) of their hash.
    """
    digest = hashlib.sha256(execution_name.encode()).hexdigest()
    return f"{name_prefix}-{digest[: name_hash_length(name_prefix)]}"


def name_expression(name_prefix: str) -> str:
    """The JSONata expression of `tuning_job_name` (JSONPath's intrinsics cannot take a substring)."""
    length = name_hash_length(name_prefix)
    return (
        "{% $merge([$states.input, {'tuning_job_name': "
        f"'{name_prefix}-' & $substring($hash($states.context.Execution.Name, 'SHA-256'), 0, {length})"
        "}]) %}"
    )


def tuning_problems(
    tuning: TuningOptions, *, name_prefix: str, metric_definitions: Sequence[Mapping[str, str]]
) -> list[str]:
    """What `tuning` cannot do in this pipeline: its name prefix and metric definitions.

    The options themselves (strategy, ranges, limits) are the configuration's to check, once, against the
    container's schema (config/tuning.py); `TuningOptions.from_settings` builds them from that.
    """
    problems = []
    longest = MAX_TUNING_JOB_NAME_LENGTH - 1 - MIN_TUNING_NAME_HASH_LENGTH
    if len(name_prefix) > longest:
        problems.append(
            f"name_prefix must be at most {longest} characters with tuning, so that <prefix>-<at least "
            f"{MIN_TUNING_NAME_HASH_LENGTH} hex digits> fits SageMaker's {MAX_TUNING_JOB_NAME_LENGTH}-character "
            f"tuning job names, got {name_prefix!r}"
        )
    if tuning.objective_metric not in {d.get("Name") for d in metric_definitions}:
        problems.append(
            f"tuning.objective_metric must be one of the metric definitions, got {tuning.objective_metric!r}"
        )
    return problems


# ----- state JSON ----------------------------------------------------------------------------------


def defaults(tuning: TuningOptions) -> dict[str, Any]:
    """ApplyDefaults' additions: whether to tune, and no narrowing."""
    return {INPUT_TUNING: tuning.enabled_by_default, INPUT_TUNING_RANGES: {}}


def configured_ranges(tuning: TuningOptions) -> dict[str, Any]:
    """MergeInput's addition: the configured numeric ranges, which the input's narrow."""
    return {
        "configured_ranges": {n: {"min": r.min_value, "max": r.max_value} for n, r in tuning.numeric_ranges.items()},
    }


def prepare() -> dict[str, Any]:
    """Prepare's additions: the ranges this execution searches, and the report's tuning section of an untuned run."""
    return {
        "tuning_ranges.$": f"States.JsonMerge($.configured_ranges, $.args.{INPUT_TUNING_RANGES}, false)",
        "tuning": {"tuned": False},
    }


def valid_input(tuning: TuningOptions, *, name_prefix: str, tuned_metric: str | None) -> sfn.Condition:
    """The input's tuning keys: see INVALID_TUNING_CAUSE."""
    c = sfn.Condition
    given = f"$.input.{INPUT_TUNING_RANGES}"
    rules = [
        c.or_(c.is_not_present(f"$.input.{INPUT_TUNING}"), c.is_boolean(f"$.input.{INPUT_TUNING}")),
        # Choice has no object test: these are the scalars (a list still fails in Prepare's JsonMerge).
        c.or_(
            c.is_not_present(given),
            c.not_(c.or_(c.is_string(given), c.is_numeric(given), c.is_boolean(given), c.is_null(given))),
        ),
    ]
    for name, r in tuning.ranges.items():
        path = f"{given}.{name}"
        if r.type == "categorical":
            rules.append(c.is_not_present(path))
            continue
        assert r.min_value is not None and r.max_value is not None  # noqa: S101 - the configuration ensured it
        rules.append(
            c.or_(
                c.is_not_present(path),
                c.and_(
                    c.is_present(f"{path}.min"),
                    c.is_present(f"{path}.max"),
                    c.is_numeric(f"{path}.min"),
                    c.is_numeric(f"{path}.max"),
                    c.number_greater_than_equals(f"{path}.min", r.min_value),
                    c.number_less_than_equals(f"{path}.max", r.max_value),
                    c.number_less_than_json_path(f"{path}.min", f"{path}.max"),
                ),
            )
        )
    parent = f"$.input.{INPUT_TUNING_PARENT}"
    if tuning.warm_start is None:
        rules.append(c.is_not_present(parent))
    else:
        rules.append(
            c.or_(c.is_not_present(parent), c.and_(c.is_string(parent), c.string_matches(parent, f"{name_prefix}-*")))
        )
    # A tuned run: the tuned names are ranges, not static values; the objective's metric stays.
    hyperparameters = f"$.input.{INPUT_HYPERPARAMETERS}"
    static_ok = [c.is_not_present(f"{hyperparameters}.{name}") for name in tuning.ranges]
    if tuning.hyperband_resource is not None:  # MaxResource is the configured value of the resource
        static_ok.append(c.is_not_present(f"{hyperparameters}.{tuning.hyperband_resource[0]}"))
    if tuned_metric is not None and tuning.metric_hyperparameter is not None:
        metric = f"{hyperparameters}.{tuning.metric_hyperparameter}"
        static_ok.append(c.or_(c.is_not_present(metric), c.string_equals(metric, tuned_metric)))
    asks = c.and_(c.is_present(f"$.input.{INPUT_TUNING}"), c.boolean_equals(f"$.input.{INPUT_TUNING}", True))
    tuned = c.or_(asks, c.is_not_present(f"$.input.{INPUT_TUNING}")) if tuning.enabled_by_default else asks
    rules.append(c.or_(c.not_(tuned), c.and_(*static_ok)))
    return c.and_(*rules)


def tuned() -> sfn.Condition:
    """ChooseTraining: this execution tunes."""
    return sfn.Condition.boolean_equals(f"$.args.{INPUT_TUNING}", True)


def warm_started() -> sfn.Condition:
    """ChooseWarmStart: the input names a parent tuning job."""
    return sfn.Condition.is_present(f"$.args.{INPUT_TUNING_PARENT}")


def parameter_ranges(tuning: TuningOptions) -> dict[str, Any]:
    """ParameterRanges: numeric bounds from the narrowed ranges (strings, as SageMaker takes them)."""

    def bound(name: str, which: str) -> str:
        return f"States.Format('{{}}', {RANGES_PATH}.{name}.{which})"

    def numeric(kind: str) -> list[dict[str, Any]]:
        return [
            {"Name": n, "MinValue.$": bound(n, "min"), "MaxValue.$": bound(n, "max"), "ScalingType": r.scaling}
            for n, r in tuning.ranges.items()
            if r.type == kind
        ]

    ranges: dict[str, Any] = {
        "IntegerParameterRanges": numeric("integer"),
        "ContinuousParameterRanges": numeric("continuous"),
        "CategoricalParameterRanges": [
            {"Name": n, "Values": list(r.values)} for n, r in tuning.ranges.items() if r.type == "categorical"
        ],
    }
    return {kind: entries for kind, entries in ranges.items() if entries}


def tuning_job(
    tuning: TuningOptions, single_job: Mapping[str, Any], *, partition: str, warm_start: bool
) -> dict[str, Any]:
    """Tune: CreateHyperParameterTuningJob (.sync), its training jobs defined like the single job `single_job`.

    The result is the tuning job's name, its best training job, that job's objective value and tuned
    hyperparameters, and how many training jobs ended how.
    """
    job = single_job["Parameters"]
    algorithm = {k: v for k, v in job["AlgorithmSpecification"].items() if k != "EnableSageMakerMetricsTimeSeries"}
    definition = {
        "StaticHyperParameters.$": job["HyperParameters.$"],
        "AlgorithmSpecification": algorithm,
        **{
            key: job[key]
            for key in (
                "RoleArn",
                "InputDataConfig",
                "OutputDataConfig",
                "ResourceConfig",
                "StoppingCondition",
                "EnableInterContainerTrafficEncryption",
                "EnableManagedSpotTraining",
                "CheckpointConfig",
                "EnableNetworkIsolation",
                "VpcConfig",
            )
            if key in job
        },
    }
    config: dict[str, Any] = {
        "Strategy": tuning.strategy,
        "HyperParameterTuningJobObjective": {"Type": tuning.objective_type, "MetricName": tuning.objective_metric},
        "ResourceLimits": {
            "MaxNumberOfTrainingJobs": tuning.max_training_jobs,
            "MaxParallelTrainingJobs": tuning.max_parallel_training_jobs,
        },
        "ParameterRanges": parameter_ranges(tuning),
        "TrainingJobEarlyStoppingType": tuning.early_stopping,
    }
    if tuning.hyperband_resource is not None:
        _, low, high = tuning.hyperband_resource
        config["StrategyConfig"] = {"HyperbandStrategyConfig": {"MinResource": low, "MaxResource": high}}
    parameters: dict[str, Any] = {
        "HyperParameterTuningJobName.$": NAME_PATH,
        "HyperParameterTuningJobConfig": config,
        "TrainingJobDefinition": definition,
        "Tags.$": job["Tags.$"],
    }
    if warm_start:
        parameters["WarmStartConfig"] = {
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName.$": f"$.args.{INPUT_TUNING_PARENT}"}],
            "WarmStartType": tuning.warm_start,
        }
    return task_state(
        partition,
        "sagemaker:createHyperParameterTuningJob.sync",
        parameters,
        result_path="$.tuning",
        result_selector={
            "tuned": True,
            "job.$": "$.HyperParameterTuningJobName",
            "best_training_job.$": "$.BestTrainingJob.TrainingJobName",
            "objective.$": "$.BestTrainingJob.FinalHyperParameterTuningJobObjectiveMetric",
            "tuned_hyperparameters.$": "$.BestTrainingJob.TunedHyperParameters",
            "training_jobs.$": "$.TrainingJobStatusCounters",
            **({"warm_start_parent.$": f"$$.Execution.Input.{INPUT_TUNING_PARENT}"} if warm_start else {}),
        },
        comment="CreateHyperParameterTuningJob (.sync): CDK has no task for it",
    )


def name_tuning_job(name_prefix: str) -> dict[str, Any]:
    """NameTuningJob: the tuning job's name from the execution's (a JSONata state: see name_expression)."""
    return {
        "Type": "Pass",
        "QueryLanguage": "JSONata",
        "Comment": "<prefix>-<hex digits of SHA-256(execution name)>: 32 characters, SageMaker's limit",
        "Output": name_expression(name_prefix),
    }


def describe_best_job(partition: str) -> dict[str, Any]:
    """DescribeBestTrainingJob: what CreateModel, the quality gate and the report read, as after a single job."""
    return task_state(
        partition,
        "aws-sdk:sagemaker:describeTrainingJob",
        {"TrainingJobName.$": "$.tuning.best_training_job"},
        result_path="$.training",
        result_selector={
            "TrainingJobName.$": "$.TrainingJobName",
            "TrainingJobArn.$": "$.TrainingJobArn",
            "ModelArtifacts.$": "$.ModelArtifacts",
            "FinalMetricDataList.$": "$.FinalMetricDataList",
            "HyperParameters.$": "$.HyperParameters",
        },
        comment="The best training job's artifact and final metrics, in the single job's shape",
    )


def report() -> dict[str, Any]:
    """Report's addition: the tuning job, its best job, objective and tuned hyperparameters (untuned: tuned false)."""
    return {"tuning.$": "$.tuning"}
