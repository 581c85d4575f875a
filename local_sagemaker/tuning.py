"""CreateHyperParameterTuningJob on this machine: a few training jobs, one after the other, and the best of them.

Each training job is the request's `TrainingJobDefinition` with its `StaticHyperParameters` and one
sample of `ParameterRanges` (uniform within each range on its scale: Linear, Logarithmic,
ReverseLogarithmic; a categorical value at random; seeded by the tuning job's name), named
`<tuning job>-<nnn>-<8 hex>` as SageMaker names them. They run through the local training runner (so
DescribeTrainingJob answers for them); `BestTrainingJob` is the completed one whose final value of the
objective metric is best for its `Type`. Every strategy samples this way (see not_emulated.py).
"""

from __future__ import annotations

import copy
import hashlib
import math
import random
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from local_sagemaker.jobs import Job, arn, now
from local_sagemaker.training import RequestError, TrainingJob

FAILURE_REASON_LIMIT = 1024
# The request members this runner acts on; the others are in not_emulated.NOT_EMULATED.
HANDLED_FIELDS = frozenset(
    {"HyperParameterTuningJobName", "HyperParameterTuningJobConfig", "TrainingJobDefinition", "Tags"}
)


def sample(ranges: Mapping[str, Any], rng: random.Random) -> dict[str, str]:
    """One value per range, as SageMaker passes hyperparameters: strings."""
    values: dict[str, str] = {}
    for kind, integer in (("IntegerParameterRanges", True), ("ContinuousParameterRanges", False)):
        for item in ranges.get(kind, []):
            low, high = float(item["MinValue"]), float(item["MaxValue"])
            scaling = item.get("ScalingType", "Auto")
            if scaling == "Logarithmic":
                value = math.exp(rng.uniform(math.log(low), math.log(high)))
            elif scaling == "ReverseLogarithmic":
                value = 1 - math.exp(rng.uniform(math.log(1 - high), math.log(1 - low)))
            else:
                value = rng.uniform(low, high)
            values[item["Name"]] = str(min(int(high), max(int(low), round(value)))) if integer else repr(value)
    for item in ranges.get("CategoricalParameterRanges", []):
        values[item["Name"]] = str(rng.choice(item["Values"]))
    return values


class TuningJob(Job):
    """One tuning job: validated at creation, its training jobs run one after the other in a thread."""

    def __init__(self, request: Mapping[str, Any], new_training_job: Callable[[dict[str, Any]], TrainingJob]) -> None:
        created = now()
        state = {"HyperParameterTuningJobStatus": "InProgress", "CreationTime": created, "LastModifiedTime": created}
        super().__init__(request, str(request.get("HyperParameterTuningJobName", "")), "tuning", _validate, state)
        self._new_training_job = new_training_job
        self._jobs: list[tuple[TrainingJob, dict[str, str]]] = []

    def stop(self) -> None:
        """StopHyperParameterTuningJob: no new training jobs, and each running one stopped."""
        super().stop()
        with self._lock:
            for job, _ in self._jobs:
                job.stop()

    @property
    def _objective(self) -> Mapping[str, str]:
        objective: Mapping[str, str] = self.request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
        return objective

    def _objective_value(self, described: Mapping[str, Any]) -> float | None:
        for metric in described.get("FinalMetricDataList", []):
            if metric["MetricName"] == self._objective["MetricName"]:
                return float(metric["Value"])
        return None

    def describe(self) -> dict[str, Any]:
        with self._lock:
            state = copy.deepcopy(self._state)
            jobs = list(self._jobs)
        described_jobs = [(job.describe(), tuned) for job, tuned in jobs]
        statuses = [d["TrainingJobStatus"] for d, _ in described_jobs]
        values = [self._objective_value(d) for d, _ in described_jobs]
        scored = [s for s, v in zip(statuses, values, strict=True) if v is not None]
        unscored = [s for s, v in zip(statuses, values, strict=True) if v is None]
        described: dict[str, Any] = {
            "HyperParameterTuningJobName": self.name,
            "HyperParameterTuningJobArn": arn("hyper-parameter-tuning-job", self.name),
            "HyperParameterTuningJobConfig": self.request["HyperParameterTuningJobConfig"],
            "TrainingJobDefinition": self.request["TrainingJobDefinition"],
            "TrainingJobStatusCounters": {
                "Completed": statuses.count("Completed"),
                "InProgress": statuses.count("InProgress"),
                "RetryableError": 0,
                "NonRetryableError": statuses.count("Failed"),
                "Stopped": statuses.count("Stopped"),
            },
            "ObjectiveStatusCounters": {
                "Succeeded": scored.count("Completed"),
                "Pending": statuses.count("InProgress"),
                "Failed": len(unscored) - unscored.count("InProgress"),
            },
            **state,
        }
        best = self._best(described_jobs)
        if best is not None:
            described["BestTrainingJob"] = best
        return described

    def _best(self, described_jobs: list[tuple[dict[str, Any], dict[str, str]]]) -> dict[str, Any] | None:
        scored = [
            (value, d, tuned)
            for d, tuned in described_jobs
            if d["TrainingJobStatus"] == "Completed" and (value := self._objective_value(d)) is not None
        ]
        if not scored:
            return None
        maximize = self._objective["Type"] == "Maximize"
        value, d, tuned = (max if maximize else min)(scored, key=lambda item: item[0])
        return {
            "TrainingJobName": d["TrainingJobName"],
            "TrainingJobArn": d["TrainingJobArn"],
            "CreationTime": d["CreationTime"],
            "TrainingStartTime": d.get("TrainingStartTime"),
            "TrainingEndTime": d.get("TrainingEndTime"),
            "TrainingJobStatus": "Completed",
            "TunedHyperParameters": tuned,
            "FinalHyperParameterTuningJobObjectiveMetric": {
                "Type": self._objective["Type"],
                "MetricName": self._objective["MetricName"],
                "Value": value,
            },
            "ObjectiveStatus": "Succeeded",
        }

    def _run(self) -> None:
        try:
            self._run_jobs()
        except Exception as error:  # the job fails, the emulator stays up
            traceback.print_exc()
            self._end("Failed", FailureReason=f"InternalServerError: the local SageMaker failed: {error}")

    def _end(self, status: str, **fields: Any) -> None:
        moment = now()
        with self._lock:
            self._state.update(
                HyperParameterTuningJobStatus=status,
                HyperParameterTuningEndTime=moment,
                LastModifiedTime=moment,
                **{k: v[:FAILURE_REASON_LIMIT] if isinstance(v, str) else v for k, v in fields.items()},
            )

    def _run_jobs(self) -> None:
        config = self.request["HyperParameterTuningJobConfig"]
        definition = self.request["TrainingJobDefinition"]
        count = int(config["ResourceLimits"]["MaxNumberOfTrainingJobs"])
        rng = random.Random(hashlib.sha256(self.name.encode()).digest())  # noqa: S311 - sampling, not security
        for index in range(1, count + 1):
            if self._stop_requested:
                break
            tuned = sample(config.get("ParameterRanges", {}), rng)
            name = f"{self.name}-{index:03d}-{rng.getrandbits(32):08x}"
            request = {
                "TrainingJobName": name,
                **{k: v for k, v in definition.items() if k not in {"StaticHyperParameters", "DefinitionName"}},
                "HyperParameters": {**definition.get("StaticHyperParameters", {}), **tuned},
            }
            request["AlgorithmSpecification"] = dict(definition.get("AlgorithmSpecification", {}))
            try:
                job = self._new_training_job(request)
            except RequestError as error:
                self._end("Failed", FailureReason=f"training job {index}: {error}")
                return
            with self._lock:
                self._jobs.append((job, tuned))
            job.start()
            job.thread.join()
        if self._stop_requested:
            self._end("Stopped")
        elif self.describe().get("BestTrainingJob") is None:
            reasons = [j.describe().get("FailureReason", "no objective metric") for j, _ in self._jobs]
            self._end("Failed", FailureReason=f"No training job succeeded with the objective metric: {reasons[0]}")
        else:
            self._end("Completed")


def _validate(request: Mapping[str, Any]) -> None:
    """What CreateHyperParameterTuningJob rejects here (ValidationException), all problems at once."""
    problems: list[str] = []
    for key in ("HyperParameterTuningJobName", "HyperParameterTuningJobConfig", "TrainingJobDefinition"):
        if key not in request:
            problems.append(f"{key} is required")
    if "TrainingJobDefinitions" in request:
        problems.append("TrainingJobDefinitions (several algorithms) is not emulated; give TrainingJobDefinition")
    config = request.get("HyperParameterTuningJobConfig", {})
    objective = config.get("HyperParameterTuningJobObjective", {})
    if objective.get("Type") not in {"Maximize", "Minimize"} or not objective.get("MetricName"):
        problems.append(
            f"HyperParameterTuningJobObjective needs Type Maximize|Minimize and MetricName, got {objective}"
        )
    count = config.get("ResourceLimits", {}).get("MaxNumberOfTrainingJobs")
    if not isinstance(count, int) or count < 1:
        problems.append(f"ResourceLimits.MaxNumberOfTrainingJobs must be an integer of at least 1, got {count!r}")
    problems.extend(_range_problems(config.get("ParameterRanges", {})))
    if problems:
        raise RequestError("; ".join(problems))


def _range_problems(ranges: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    for kind in ("IntegerParameterRanges", "ContinuousParameterRanges"):
        for item in ranges.get(kind, []):
            where = f"ParameterRanges.{kind} {item.get('Name')}"
            try:
                low, high = float(item["MinValue"]), float(item["MaxValue"])
            except (KeyError, TypeError, ValueError):
                problems.append(f"{where}: MinValue and MaxValue must be numbers, got {item}")
                continue
            scaling = item.get("ScalingType", "Auto")
            if low > high:
                problems.append(f"{where}: MinValue {low:g} is above MaxValue {high:g}")
            elif scaling == "Logarithmic" and low <= 0:
                problems.append(f"{where}: Logarithmic scaling needs MinValue above 0, got {low:g}")
            elif scaling == "ReverseLogarithmic" and not (low >= 0 and high < 1):
                problems.append(f"{where}: ReverseLogarithmic scaling needs values in [0, 1), got {low:g}-{high:g}")
    for item in ranges.get("CategoricalParameterRanges", []):
        if not item.get("Values"):
            problems.append(f"ParameterRanges.CategoricalParameterRanges {item.get('Name')}: Values must not be empty")
    return problems
