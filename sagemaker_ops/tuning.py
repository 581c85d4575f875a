"""Tuned runs from the ops CLI: the tuning keys of `train`'s input, the warm start parent, a tuning job's progress.

`train --tuning on|off --tuning-range NAME=MIN:MAX --tuning-parent NAME|latest|none` writes the input
keys the state machine reads (`config.contract`), checked here against the environment's
`[tuning]` table first, so that a mistake is a usage error before anything starts.
`status --tuning-job NAME|latest` lists the tuning job's finished training jobs with their objective
values (ListTrainingJobsForHyperParameterTuningJob).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from config.algorithm import load_algorithm
from config.contract import INPUT_TUNING, INPUT_TUNING_PARENT, INPUT_TUNING_RANGES
from config.tuning import TuningSettings

LATEST = "latest"
NONE = "none"
# The training job states that end a job (the others are InProgress).
FINISHED = ("Completed", "Failed", "Stopped")


class TuningUsageError(ValueError):
    """A tuning option that does not fit the environment's configuration."""


def tuning_input(
    tuning: TuningSettings | None,
    *,
    environment: str,
    switch: str | None,
    ranges: list[str],
    hyperparameters: dict[str, str],
) -> dict[str, Any]:
    """The tuning keys of the execution's input (none when no option is given)."""
    if tuning is None:
        if switch == "on" or ranges:
            raise TuningUsageError(
                f"environment {environment!r} has no [environments.{environment}.tuning] table: it cannot tune"
            )
        return {}
    document: dict[str, Any] = {} if switch is None else {INPUT_TUNING: switch == "on"}
    tuned = switch == "on" or (switch is None and tuning.enabled)
    if ranges and not tuned:
        raise TuningUsageError("--tuning-range narrows a tuned run: add --tuning on")
    if tuned:
        overlap = sorted(set(hyperparameters) & set(tuning.ranges))
        if overlap:
            raise TuningUsageError(
                f"--hyperparameter {', '.join(overlap)}: tuned in this environment; narrow it with --tuning-range "
                "instead, or train once with --tuning off"
            )
        algorithm = load_algorithm()
        resource = algorithm.capabilities.tuning_resource
        if tuning.strategy == "Hyperband" and resource in hyperparameters:
            raise TuningUsageError(
                f"--hyperparameter {resource}: Hyperband's most {resource} per job is the configured value"
            )
        selector = algorithm.metric_hyperparameter
        metric = hyperparameters.get(selector) if selector is not None else None
        if metric is not None and f"validation:{metric}" != tuning.objective:
            raise TuningUsageError(f"--hyperparameter {selector}={metric}: the tuning objective is {tuning.objective}")
    narrowed = dict(_narrowed(tuning, item) for item in ranges)
    if len(narrowed) != len(ranges):
        raise TuningUsageError("--tuning-range names a hyperparameter twice")
    if narrowed:
        document[INPUT_TUNING_RANGES] = narrowed
    return document


def _narrowed(tuning: TuningSettings, item: str) -> tuple[str, dict[str, float | int]]:
    name, sep, bounds = item.partition("=")
    low_text, colon, high_text = bounds.partition(":")
    if not sep or not colon:
        raise TuningUsageError(f"--tuning-range must be NAME=MIN:MAX, got {item!r}")
    configured = tuning.ranges.get(name)
    if configured is None:
        raise TuningUsageError(f"--tuning-range {name}: not tuned here; tuned: {', '.join(sorted(tuning.ranges))}")
    if configured.type == "categorical" or configured.min_value is None or configured.max_value is None:
        raise TuningUsageError(f"--tuning-range {name}: a categorical range is fixed by the configuration")
    low, high = _number(low_text, item, configured.type), _number(high_text, item, configured.type)
    if not configured.min_value <= low < high <= configured.max_value:
        raise TuningUsageError(
            f"--tuning-range {item}: needs {configured.min_value:g} <= MIN < MAX <= {configured.max_value:g} "
            "(the configured range)"
        )
    return name, {"min": low, "max": high}


def _number(text: str, item: str, kind: str) -> float | int:
    try:
        value: float | int = int(text) if kind == "integer" else float(text)
    except ValueError:
        what = "whole numbers" if kind == "integer" else "numbers"
        raise TuningUsageError(f"--tuning-range {item}: bounds must be {what}") from None
    if not math.isfinite(value):
        raise TuningUsageError(f"--tuning-range {item}: bounds must be finite")
    return value


def latest_tuning_job(sagemaker: Any, name_prefix: str, status: str | None = "Completed") -> str | None:
    """The newest tuning job named `<name_prefix>-...` (with `status`), or None: the previous run's.

    Names are `<prefix>-<hash>`, so the newest by creation time is the one the last tuned execution
    started; another environment's prefix never matches (`<prefix>-` is checked, not just contained).
    """
    query: dict[str, Any] = {
        "NameContains": f"{name_prefix}-",
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        **({"StatusEquals": status} if status else {}),
    }
    for page in sagemaker.get_paginator("list_hyper_parameter_tuning_jobs").paginate(**query):
        for summary in page["HyperParameterTuningJobSummaries"]:
            name: str = summary["HyperParameterTuningJobName"]
            if name.startswith(f"{name_prefix}-"):
                return name
    return None


def warm_start_input(
    tuning: TuningSettings | None,
    sagemaker: Callable[[], Any],
    *,
    name_prefix: Callable[[], str],
    parent: str | None,
    tuned: bool,
) -> dict[str, Any]:
    """`tuning_parent`: the given job, the latest completed one of this environment (default), or none.

    `sagemaker` and `name_prefix` are asked for only when a parent is looked up or checked.
    """
    if parent is not None and (tuning is None or tuning.warm_start is None):
        raise TuningUsageError("--tuning-parent needs warm_start in the environment's [tuning] table")
    if tuning is None or tuning.warm_start is None or not tuned or parent == NONE:
        return {}
    prefix = name_prefix()
    if parent is None or parent == LATEST:
        found = latest_tuning_job(sagemaker(), prefix)
        return {INPUT_TUNING_PARENT: found} if found else {}
    if not parent.startswith(f"{prefix}-"):
        raise TuningUsageError(f"--tuning-parent {parent}: not a tuning job of this environment ({prefix}-...)")
    return {INPUT_TUNING_PARENT: parent}


def tuning_progress(sagemaker: Any, name: str) -> dict[str, Any]:
    """The tuning job's status, counts, best job, and each finished training job with its objective value."""
    job = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    finished = []
    paginator = sagemaker.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job")
    for page in paginator.paginate(HyperParameterTuningJobName=name, SortBy="CreationTime", SortOrder="Ascending"):
        for summary in page["TrainingJobSummaries"]:
            if summary["TrainingJobStatus"] not in FINISHED:
                continue
            objective = summary.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
            finished.append(
                {
                    "job": summary["TrainingJobName"],
                    "status": summary["TrainingJobStatus"],
                    "objective": objective.get("Value"),
                    "hyperparameters": summary.get("TunedHyperParameters", {}),
                    **({"failure_reason": summary["FailureReason"]} if summary.get("FailureReason") else {}),
                }
            )
    config = job["HyperParameterTuningJobConfig"]
    best = job.get("BestTrainingJob") or {}
    return {
        "tuning_job": name,
        "status": job["HyperParameterTuningJobStatus"],
        "objective": config.get("HyperParameterTuningJobObjective"),
        "max_training_jobs": config["ResourceLimits"]["MaxNumberOfTrainingJobs"],
        "training_jobs": job.get("TrainingJobStatusCounters"),
        "best_training_job": best.get("TrainingJobName"),
        "best_objective": (best.get("FinalHyperParameterTuningJobObjectiveMetric") or {}).get("Value"),
        "best_hyperparameters": best.get("TunedHyperParameters"),
        "finished": finished,
    }
