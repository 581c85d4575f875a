"""Hyperparameter tuning of an environment's training pipeline: `[environments.<env>.tuning]`.

Checked at load time against what the tuning job will meet at run time: SageMaker's API (botocore's
service model: strategies, scaling types, early stopping and warm start types), the container's
exported hyperparameter schema (`container/hyperparameters.json`: types, bounds, choices, what is not
tuned) and what its algorithm declares (`container/algorithm.json`: metrics and their direction, default
ranges, Hyperband's resource, capabilities). docs/tuning.md explains the choices.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from config.algorithm import load_algorithm
from config.aws_catalog import did_you_mean, sagemaker_enum
from config.contract import MAX_TUNED_HYPERPARAMETERS, MAX_TUNING_PARALLEL_JOBS, MAX_TUNING_TRAINING_JOBS
from config.hyperparameters import Hyperparameter, load_schema
from config.registry_metadata import tuned_metadata_problems

# The strategies this pipeline supports (Grid needs categorical ranges only and no job limit: not offered).
STRATEGIES = ("Bayesian", "Hyperband", "Random")
# SageMaker's ParameterValues: 1-30 values per categorical range.
MAX_CATEGORICAL_VALUES = 30


def _offered(shape: str, supported: tuple[str, ...] | None = None) -> AfterValidator:
    """Accept the values of the SageMaker API's enum `shape` (botocore's service model), of `supported` only."""
    # What the configuration reference says (scripts/config_reference.py reads `what`).
    what = f"one of {', '.join(supported)}" if supported else f"a value of SageMaker's {shape} (botocore)"

    def check(value: str) -> str:
        offered = sagemaker_enum(shape) & frozenset(supported or sagemaker_enum(shape))
        if value not in offered:
            listed = what if supported else f"one of {', '.join(sorted(offered))}"
            raise ValueError(f"must be {listed} ({shape} in botocore's SageMaker model)")
        return value

    return AfterValidator(check)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class ParameterRangeSettings(_Frozen):
    """The values one hyperparameter may take in a tuning job.

    `integer` and `continuous` ranges go from `min_value` to `max_value` (both inclusive) with
    `scaling` (Auto, Linear, Logarithmic; continuous also ReverseLogarithmic); `categorical`
    ranges list their `values`. The type must match the container's schema: integer for its integers,
    continuous for its floats, categorical for anything (each value must be one the container accepts).
    """

    type: Literal["integer", "continuous", "categorical"]
    min_value: float | None = None
    max_value: float | None = None
    scaling: Annotated[str, _offered("HyperParameterScalingType")] = "Auto"
    values: tuple[str, ...] = ()

    def __repr__(self) -> str:
        """A TOML inline table, as the file writes it (the configuration reference shows the defaults so)."""
        if self.type == "categorical":
            return f'{{ type = "categorical", values = {list(self.values)} }}'
        bounds = [
            f"{name} = {value:g}"
            for name, value in (("min_value", self.min_value), ("max_value", self.max_value))
            if value is not None
        ]
        fields = [f'type = "{self.type}"', *bounds, f'scaling = "{self.scaling}"']
        return "{ " + ", ".join(fields) + " }"

    def problems(self, name: str, spec: Hyperparameter | None) -> list[str]:
        """What is wrong with this range of hyperparameter `name` (field paths from `ranges.<name>`)."""
        where = f"ranges.{name}"
        if spec is None:
            return [f"{where}: the container has no hyperparameter {name!r} (container/hyperparameters.json)"]
        if spec.not_tuned:
            return [f"{where}: {name} is not tuned: {spec.not_tuned}"]
        if self.type == "categorical":
            return self._categorical_problems(where, spec)
        return self._numeric_problems(where, spec)

    def _categorical_problems(self, where: str, spec: Hyperparameter) -> list[str]:
        problems = [f"{where}.{field}: categorical ranges take values only" for field in self._numeric_fields_given()]
        if not 2 <= len(self.values) <= MAX_CATEGORICAL_VALUES:
            problems.append(
                f"{where}.values: give 2-{MAX_CATEGORICAL_VALUES} values (one value is a static hyperparameter: "
                f"put it in training.hyperparameters), got {len(self.values)}"
            )
        if len(set(self.values)) != len(self.values):
            problems.append(f"{where}.values: lists a value twice")
        for value in self.values:
            try:
                spec.parse(value)
            except ValueError as error:
                problems.append(f"{where}.values: {error}")
        return problems

    def _numeric_fields_given(self) -> list[str]:
        given = [f for f in ("min_value", "max_value") if getattr(self, f) is not None]
        return given + (["scaling"] if self.scaling != "Auto" else [])

    def _numeric_problems(self, where: str, spec: Hyperparameter) -> list[str]:
        expected = {"integer": "integer", "continuous": "float"}[self.type]
        if spec.type != expected:
            kind = {"integer": "integer", "float": "continuous"}.get(spec.type, "categorical")
            return [f"{where}.type: {spec.name} has type {spec.type} in the container's schema: use type = {kind!r}"]
        if self.values:
            return [f"{where}.values: {self.type} ranges take min_value and max_value, not values"]
        if self.min_value is None or self.max_value is None:
            return [f"{where}: {self.type} ranges need min_value and max_value"]
        low, high = self.min_value, self.max_value
        problems = []
        if self.type == "integer" and not (low.is_integer() and high.is_integer()):
            problems.append(f"{where}: integer ranges need whole-number bounds, got {low:g} to {high:g}")
        if not low < high:
            problems.append(f"{where}: min_value ({low:g}) must be below max_value ({high:g})")
        if spec.minimum is not None and low < spec.minimum:
            problems.append(f"{where}.min_value: {spec.name} must be >= {spec.minimum:g} (container), got {low:g}")
        if spec.exclusive_minimum is not None and low <= spec.exclusive_minimum:
            problems.append(
                f"{where}.min_value: {spec.name} must be > {spec.exclusive_minimum:g} (container), got {low:g}"
            )
        if spec.maximum is not None and high > spec.maximum:
            problems.append(f"{where}.max_value: {spec.name} must be <= {spec.maximum:g} (container), got {high:g}")
        if self.scaling == "Logarithmic" and low <= 0:
            problems.append(f"{where}.min_value: Logarithmic scaling needs values above 0, got {low:g}")
        if self.scaling == "ReverseLogarithmic":
            if self.type == "integer":
                problems.append(f"{where}.scaling: ReverseLogarithmic applies to continuous ranges only")
            elif not (low >= 0 and high < 1):
                problems.append(f"{where}: ReverseLogarithmic scaling needs 0 <= min_value and max_value < 1")
        return problems

    def api_value(self, value: float) -> str:
        """A bound as SageMaker takes it: a string, whole for integer ranges."""
        return str(int(value)) if self.type == "integer" else repr(float(value))


def default_ranges() -> dict[str, ParameterRangeSettings]:
    """The ranges the algorithm declares worth searching (container/algorithm.json), as a `ranges` table."""
    return {name: ParameterRangeSettings(**spec) for name, spec in load_algorithm().tuning_ranges.items()}


class TuningSettings(_Frozen):
    """Hyperparameter tuning of the training pipeline (off unless `[environments.<env>.tuning]` is given).

    With this table the state machine can run a tuning job in place of the single training job;
    `enabled` says whether an execution tunes when its input does not say (`"tuning": true|false`).
    """

    enabled: bool = False
    strategy: Annotated[str, _offered("HyperParameterTuningJobStrategyType", STRATEGIES)] = "Bayesian"
    objective: str
    # Maximize or Minimize; the direction the algorithm declares for the objective when left out.
    objective_type: Annotated[str, _offered("HyperParameterTuningJobObjectiveType")] | None = None
    # The reference (docs/configuration.md) names where the default comes from rather than today's algorithm's values.
    ranges: dict[str, ParameterRangeSettings] = Field(
        default_factory=default_ranges,
        json_schema_extra={"default_text": "the algorithm's `tuning_ranges` (container/algorithm.json)"},
    )
    max_training_jobs: int = Field(default=20, ge=1, le=MAX_TUNING_TRAINING_JOBS)
    max_parallel_training_jobs: int = Field(default=2, ge=1, le=MAX_TUNING_PARALLEL_JOBS)
    early_stopping: Annotated[str, _offered("TrainingJobEarlyStoppingType")] = "Off"
    # IdenticalDataAndAlgorithm or TransferLearning; the parent is the input's `tuning_parent` (docs/tuning.md).
    warm_start: Annotated[str, _offered("HyperParameterTuningJobWarmStartType")] | None = None
    # Hyperband only: the least of the algorithm's tuning resource (its boosting rounds, epochs...) a job
    # trains before Hyperband may stop it.
    hyperband_min_resource: int = Field(default=10, ge=1)

    @model_validator(mode="after")
    def _check(self) -> TuningSettings:
        problems = self._strategy_problems() + self._objective_problems() + self._range_problems()
        if self.max_parallel_training_jobs > self.max_training_jobs:
            problems.append(
                f"max_parallel_training_jobs ({self.max_parallel_training_jobs}) must not exceed "
                f"max_training_jobs ({self.max_training_jobs})"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _strategy_problems(self) -> list[str]:
        problems = []
        algorithm = load_algorithm()
        if self.early_stopping != "Off" and (lacks := algorithm.lacks("early_stopping")):
            problems.append(f"early_stopping {self.early_stopping!r}: {lacks}")
        if self.strategy != "Hyperband":
            return problems
        resource = algorithm.capabilities.tuning_resource
        if resource is None:
            problems.append(
                f"strategy Hyperband needs a tuning resource (rounds, epochs) to allot, and the algorithm "
                f"{algorithm.name} declares none (capabilities.tuning_resource, container/algorithm.json)"
            )
        if self.early_stopping != "Off":
            problems.append("early_stopping must be 'Off' with strategy Hyperband: Hyperband stops jobs early itself")
        if resource is not None and resource in self.ranges:
            problems.append(
                f"ranges.{resource}: Hyperband decides how much of {resource} a job trains (up to "
                f"training.hyperparameters.{resource}); tune it with Bayesian or Random"
            )
        return problems

    def _objective_problems(self) -> list[str]:
        names = metric_names()
        if self.objective not in names:
            return [f"objective must be one of the container's metrics{did_you_mean(self.objective, names)}"]
        if not self.objective.startswith("validation:"):
            return [
                f"objective {self.objective!r} must be a validation: metric: the training data's own score "
                "rewards overfitting"
            ]
        return []

    def _range_problems(self) -> list[str]:
        schema = load_schema()
        if not 1 <= len(self.ranges) <= MAX_TUNED_HYPERPARAMETERS:
            return [f"ranges: give 1-{MAX_TUNED_HYPERPARAMETERS} hyperparameters, got {len(self.ranges)}"]
        return [
            problem
            for name, spec in sorted(self.ranges.items())
            for problem in spec.problems(name, schema.hyperparameters.get(name))
        ]

    @property
    def direction(self) -> str:
        """Maximize or Minimize: `objective_type`, or else the direction the algorithm declares for the objective."""
        return self.objective_type or load_algorithm().metrics[self.objective]


def metric_names() -> frozenset[str]:
    """The metrics the algorithm declares (its metric definitions: the only metrics a tuning job can see)."""
    return frozenset(load_algorithm().metrics)


def tuning_problems(tuning: TuningSettings, hyperparameters: dict[str, str]) -> list[str]:
    """What is wrong with `tuning` given the training step's static hyperparameters (full field paths)."""
    problems = [
        f"tuning.ranges.{name}: also set in training.hyperparameters; a tuning job takes each hyperparameter "
        "either as a range or as a static value: remove one"
        for name in sorted(set(tuning.ranges) & set(hyperparameters))
    ]
    # The best job is registered with its hyperparameters as the version's metadata, which AWS limits.
    ranges = {name: spec.values for name, spec in tuning.ranges.items()}
    problems += [f"tuning.{p}" for p in tuned_metadata_problems(hyperparameters, ranges, tuning.objective)]
    # An algorithm that evaluates one metric (chosen by a hyperparameter, its default depending on others the
    # export cannot resolve) reports only that one: so the metric is given, and must be the objective's.
    selector = load_algorithm().metric_hyperparameter
    metric = hyperparameters.get(selector) if selector is not None else None
    reported = tuning.objective.partition(":")[2]
    if selector is not None and metric is None:
        problems.append(
            f"tuning.objective: set training.hyperparameters.{selector} = {reported!r}: the jobs report only the "
            "metric they evaluate"
        )
    elif selector is not None and metric != reported:
        problems.append(
            f"tuning.objective: {tuning.objective!r} is not reported: training.hyperparameters.{selector} is "
            f"{metric!r}, so the jobs report validation:{metric}"
        )
    resource = load_algorithm().capabilities.tuning_resource
    if tuning.strategy == "Hyperband" and resource is not None:
        most = _static_resource(hyperparameters, resource)
        if most is not None and tuning.hyperband_min_resource > most:
            problems.append(
                f"tuning.hyperband_min_resource ({tuning.hyperband_min_resource}) must not exceed "
                f"training.hyperparameters.{resource} ({most})"
            )
    return problems


def hyperband_resource(tuning: TuningSettings, hyperparameters: dict[str, str]) -> tuple[str, int, int]:
    """(the algorithm's tuning resource, the least and the most of it a Hyperband job trains: the static value,
    else the default); for a validated configuration with strategy Hyperband (TuningSettings checks one exists)."""
    resource = load_algorithm().capabilities.tuning_resource
    if resource is None:
        raise ValueError("the algorithm declares no tuning resource for Hyperband")
    most = _static_resource(hyperparameters, resource)
    if most is None:
        most = int(load_schema().hyperparameters[resource].default)
    return resource, tuning.hyperband_min_resource, most


def _static_resource(hyperparameters: dict[str, str], resource: str) -> int | None:
    raw = hyperparameters.get(resource)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return int(value) if math.isfinite(value) else None
