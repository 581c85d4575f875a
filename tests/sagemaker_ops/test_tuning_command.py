"""`train --tuning ...` and `status --tuning-job ...`: the input a tuned run starts with, checked before it starts,
and a tuning job's progress per finished training job. Through `cli.main`, with recorded AWS answers."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from config import load_config, parse_config
from config.exit_codes import ExitCode
from config.registry_metadata import max_registered_hyperparameters
from config.settings import DEFAULT_CONFIG_FILE
from sagemaker_ops import cli
from sagemaker_ops.deployment import Deployment
from scripts.demo_swap import to_toml
from stacks import build_app
from tests import declared
from tests.conftest import TEST_ACCOUNT, cdk_context
from tests.sagemaker_constructs.state_machine import definition_of, run

PREFIX = "sagemaker-gbdt-dev"
OBJECTIVE = declared.OBJECTIVE
# The algorithm's hyperparameters (tests/declared.py): a continuous range, an integer one, a categorical one if any.
CONTINUOUS, CONTINUOUS_RANGE = declared.tuning_range("continuous")
INTEGER, INTEGER_RANGE = declared.tuning_range("integer")
CATEGORICAL = declared.optional(declared.categorical_range)
C_LOW, C_HIGH = declared.narrower(CONTINUOUS_RANGE)  # a narrower continuous range, as `--tuning-range` gives it
I_LOW, I_HIGH = (int(bound) for bound in declared.narrower(INTEGER_RANGE))
NARROWED = f"{CONTINUOUS}={C_LOW:g}:{C_HIGH:g}"
TUNING = {
    "objective": OBJECTIVE,
    "warm_start": "TransferLearning",
    "ranges": {CONTINUOUS: CONTINUOUS_RANGE, INTEGER: INTEGER_RANGE} | dict([CATEGORICAL] if CATEGORICAL else []),
}
TUNED = {CONTINUOUS: "0.05"}  # what SageMaker reports a training job was tuned with (recorded answers)


def _raw(tuning: dict[str, Any] | None = TUNING) -> dict[str, Any]:
    raw = tomllib.loads(DEFAULT_CONFIG_FILE.read_text())
    dev = raw["environments"]["dev"]
    if declared.METRIC_HYPERPARAMETER is not None:
        dev["training"]["hyperparameters"][declared.METRIC_HYPERPARAMETER] = OBJECTIVE.partition(":")[2]
    if tuning is not None:
        dev["tuning"] = tuning
    return {"app": raw["app"], "environments": {"dev": dev}}


class _Pages:
    def __init__(self, pages: list[dict[str, Any]], calls: list[dict[str, Any]]) -> None:
        self._pages, self._calls = pages, calls

    def paginate(self, **query: Any) -> list[dict[str, Any]]:
        self._calls.append(query)
        return self._pages


class _SageMaker:
    """Recorded SageMaker answers: the environment's tuning jobs, and one tuning job's training jobs."""

    def __init__(self) -> None:
        self.list_queries: list[dict[str, Any]] = []
        self.tuning_jobs = [
            {"HyperParameterTuningJobName": f"staging-{PREFIX}-aaaaaaaaaaa"},  # contains the prefix, not ours
            {"HyperParameterTuningJobName": f"{PREFIX}-0123456789abc"},
            {"HyperParameterTuningJobName": f"{PREFIX}-fedcba9876543"},
        ]

    def get_paginator(self, name: str) -> _Pages:
        if name == "list_hyper_parameter_tuning_jobs":
            return _Pages([{"HyperParameterTuningJobSummaries": self.tuning_jobs}], self.list_queries)
        assert name == "list_training_jobs_for_hyper_parameter_tuning_job"
        summaries = [
            _summary("001-aaaaaaaa", "Completed", 0.81, TUNED),
            _summary("002-bbbbbbbb", "InProgress", None, TUNED),
            _summary("003-cccccccc", "Failed", None, TUNED, reason="AlgorithmError: ..."),
            _summary("004-dddddddd", "Stopped", 0.7, TUNED),
        ]
        return _Pages([{"TrainingJobSummaries": summaries[:2]}, {"TrainingJobSummaries": summaries[2:]}], [])

    def describe_hyper_parameter_tuning_job(self, HyperParameterTuningJobName: str) -> dict[str, Any]:  # noqa: N803
        return {
            "HyperParameterTuningJobName": HyperParameterTuningJobName,
            "HyperParameterTuningJobStatus": "InProgress",
            "HyperParameterTuningJobConfig": {
                "HyperParameterTuningJobObjective": {"Type": declared.OBJECTIVE_DIRECTION, "MetricName": OBJECTIVE},
                "ResourceLimits": {"MaxNumberOfTrainingJobs": 20, "MaxParallelTrainingJobs": 2},
            },
            "TrainingJobStatusCounters": {"Completed": 1, "InProgress": 1, "RetryableError": 0, "Stopped": 1},
            "BestTrainingJob": _summary("001-aaaaaaaa", "Completed", 0.81, TUNED),
        }


def _summary(suffix: str, status: str, value: float | None, tuned: dict[str, str], reason: str = "") -> dict[str, Any]:
    summary: dict[str, Any] = {
        "TrainingJobName": f"{PREFIX}-0123456789abc-{suffix}",
        "TrainingJobStatus": status,
        "TunedHyperParameters": tuned,
    }
    if value is not None:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {"MetricName": OBJECTIVE, "Value": value}
    if reason:
        summary["FailureReason"] = reason
    return summary


class _StepFunctions:
    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []

    def start_execution(self, stateMachineArn: str, input: str) -> dict[str, str]:  # noqa: N803
        self.started.append(json.loads(input))
        return {"executionArn": f"{stateMachineArn}:run-1"}


class _Deployment(Deployment):
    def __init__(self, raw: dict[str, Any]) -> None:
        settings = parse_config(raw, default_account=TEST_ACCOUNT).environment("dev")
        super().__init__(settings, boto3.Session(region_name="us-east-1"))
        self.sagemaker, self.stepfunctions = _SageMaker(), _StepFunctions()

    def client(self, service: str) -> Any:
        return {"sagemaker": self.sagemaker, "stepfunctions": self.stepfunctions}[service]

    @property
    def state_machine_arn(self) -> str:
        return "arn:aws:states:us-east-1:123456789012:stateMachine:Pipeline"


def _ops(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], deployment: Deployment, *args: str
) -> tuple[int, dict[str, Any]]:
    monkeypatch.setattr(cli, "_deployment", lambda _args, _settings: deployment)
    code = cli.main([*args, "--env", "dev", "--json"])
    return code, json.loads(capsys.readouterr().out)


def _train(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], deployment: Deployment, *args: str
) -> tuple[int, dict[str, Any]]:
    return _ops(monkeypatch, capsys, deployment, "train", "--data-prefix", "datasets/churn", "--no-wait", *args)


def test_a_tuned_run_starts_with_narrowed_ranges_and_the_latest_parent(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN dev with tuning and warm start, and earlier tuning jobs (one of another prefix listed first)
    deployment = _Deployment(_raw())
    # WHEN a tuned run narrows two ranges
    code, result = _train(
        monkeypatch,
        capsys,
        deployment,
        "--tuning",
        "on",
        "--tuning-range",
        NARROWED,
        "--tuning-range",
        f"{INTEGER}={I_LOW}:{I_HIGH}",
    )
    # THEN it starts with the tuning keys, the newest completed tuning job of dev as the parent
    assert code == ExitCode.OK, result
    (document,) = deployment.stepfunctions.started
    assert document == {
        "data_prefix": "datasets/churn",
        "hyperparameters": {},
        "tuning": True,
        "tuning_ranges": {CONTINUOUS: {"min": C_LOW, "max": C_HIGH}, INTEGER: {"min": I_LOW, "max": I_HIGH}},
        "tuning_parent": f"{PREFIX}-0123456789abc",
    }
    assert deployment.sagemaker.list_queries == [
        {"NameContains": f"{PREFIX}-", "SortBy": "CreationTime", "SortOrder": "Descending", "StatusEquals": "Completed"}
    ]


@pytest.mark.parametrize(
    ("args", "input_keys"),
    [
        ((), {}),  # the configuration decides (off here), no parent looked up
        (("--tuning", "off"), {"tuning": False}),
        (("--tuning", "on", "--tuning-parent", "none"), {"tuning": True}),
        (
            ("--tuning", "on", "--tuning-parent", f"{PREFIX}-00000000000aa"),
            {"tuning": True, "tuning_parent": f"{PREFIX}-00000000000aa"},
        ),
    ],
)
def test_the_tuning_keys_follow_the_options(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    input_keys: dict[str, Any],
) -> None:
    deployment = _Deployment(_raw())
    code, result = _train(monkeypatch, capsys, deployment, *args)
    assert code == ExitCode.OK, result
    (document,) = deployment.stepfunctions.started
    assert {k: v for k, v in document.items() if k.startswith("tuning")} == input_keys


def _with_metric() -> tuple[str, ...]:
    """`-p <metric hyperparameter>=<another metric>` (a skip when no hyperparameter chooses the metric)."""
    return ("--tuning", "on", "-p", f"{declared.metric_hyperparameter()}={declared.other_metric().partition(':')[2]}")


def _beyond_hyperband() -> tuple[str, ...]:
    return ("--tuning", "on", "-p", f"{declared.resource().name}=5000")


RESOURCE = declared.TUNING_RESOURCE
NO_CATEGORICAL = pytest.mark.skipif(CATEGORICAL is None, reason="the algorithm declares no categorical hyperparameter")
C_MIN, C_MAX = CONTINUOUS_RANGE["min_value"], CONTINUOUS_RANGE["max_value"]
OUTSIDE = re.escape(f"needs {C_MIN:g} <= MIN < MAX <= {C_MAX:g}")


@pytest.mark.parametrize(
    ("tuning", "args", "message"),
    [
        (None, ("--tuning", "on"), r"environment 'dev' has no \[environments.dev.tuning\] table"),
        (None, ("--tuning-range", NARROWED), r"has no \[environments.dev.tuning\] table"),
        (None, ("--tuning-parent", f"{PREFIX}-x"), r"--tuning-parent needs warm_start"),
        (TUNING, ("--tuning-range", NARROWED), r"--tuning-range narrows a tuned run: add --tuning on"),
        (TUNING, ("--tuning", "on", "--tuning-range", CONTINUOUS), r"--tuning-range must be NAME=MIN:MAX"),
        (
            TUNING,
            ("--tuning", "on", "--tuning-range", "no_such_hyperparameter=0:1"),
            rf"no_such_hyperparameter: not tuned here; tuned: {', '.join(sorted(TUNING['ranges']))}",
        ),
        pytest.param(
            TUNING,
            ("--tuning", "on", "--tuning-range", f"{CATEGORICAL[0] if CATEGORICAL else ''}=0:1"),
            r": a categorical range is fixed",
            marks=NO_CATEGORICAL,
        ),
        (
            TUNING,
            ("--tuning", "on", "--tuning-range", f"{INTEGER}={I_LOW + 0.5}:{I_HIGH}"),
            rf"{INTEGER}={I_LOW + 0.5}:{I_HIGH}: bounds must be whole numbers",
        ),
        (TUNING, ("--tuning", "on", "--tuning-range", f"{CONTINUOUS}={C_LOW:g}:nan"), r"bounds must be finite"),
        (TUNING, ("--tuning", "on", "--tuning-range", f"{CONTINUOUS}={C_MIN / 10:g}:{C_HIGH:g}"), OUTSIDE),
        (TUNING, ("--tuning", "on", "--tuning-range", f"{CONTINUOUS}={C_HIGH:g}:{C_HIGH:g}"), OUTSIDE),
        (
            TUNING,
            (
                "--tuning",
                "on",
                "--tuning-range",
                f"{INTEGER}={I_LOW}:{I_HIGH}",
                "--tuning-range",
                f"{INTEGER}={I_LOW}:{I_HIGH}",
            ),
            r"names a hyperparameter twice",
        ),
        (
            TUNING,
            ("--tuning", "on", "-p", f"{INTEGER}={I_LOW}"),
            rf"--hyperparameter {INTEGER}: tuned in this environment",
        ),
        (TUNING, _with_metric, rf"the tuning objective is {OBJECTIVE}"),
        (
            {**TUNING, "strategy": "Hyperband", "warm_start": None},
            _beyond_hyperband,
            rf"--hyperparameter {RESOURCE}: Hyperband's most {RESOURCE} per job is the configured value",
        ),
        (
            TUNING,
            ("--tuning", "on", "--tuning-parent", "sagemaker-gbdt-staging-0123"),
            r"not a tuning job of this environment",
        ),
    ],
)
def test_bad_tuning_options_are_usage_errors_and_start_nothing(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tuning: dict[str, Any] | None,
    args: tuple[str, ...] | Callable[[], tuple[str, ...]],
    message: str,
) -> None:
    deployment = _Deployment(_raw(tuning))
    code, result = _train(monkeypatch, capsys, deployment, *(args() if callable(args) else args))
    assert code == ExitCode.USAGE
    assert re.search(message, result["error"]), result["error"]
    assert not deployment.stepfunctions.started


def test_status_lists_each_finished_training_job_with_its_objective(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a tuning job with finished and running training jobs, over two pages
    deployment = _Deployment(_raw())
    # WHEN its progress is asked for (the latest of the environment)
    code, result = _ops(monkeypatch, capsys, deployment, "status", "--tuning-job", "latest")
    # THEN each finished job is listed in creation order with its objective value; the running one is not
    assert code == ExitCode.OK, result
    assert result["tuning_job"] == f"{PREFIX}-0123456789abc"
    assert [(j["job"][-12:], j["status"], j["objective"]) for j in result["finished"]] == [
        ("001-aaaaaaaa", "Completed", 0.81),
        ("003-cccccccc", "Failed", None),
        ("004-dddddddd", "Stopped", 0.7),
    ]
    assert result["finished"][1]["failure_reason"] == "AlgorithmError: ..."
    assert (result["best_objective"], result["best_hyperparameters"]) == (0.81, TUNED)
    assert result["max_training_jobs"] == 20
    # AND the latest is looked up among all states (a running job is the one to watch)
    assert "StatusEquals" not in deployment.sagemaker.list_queries[0]


def test_the_clis_input_passes_the_state_machines_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN dev's synthesized pipeline with tuning, and the input `train` writes for a narrowed, warm-started run
    raw = _raw()
    deployment = _Deployment(raw)
    _train(monkeypatch, capsys, deployment, "--tuning", "on", "--tuning-range", f"{INTEGER}={I_LOW}:{I_HIGH}")
    (document,) = deployment.stepfunctions.started
    app, stages = build_app(
        parse_config(raw, default_account=TEST_ACCOUNT), context=cdk_context(), outdir=str(tmp_path)
    )
    app.synth()
    training = stages["dev"].training
    definition = definition_of(stages["dev"].synth().get_stack_artifact(training.artifact_id).template)
    requests: list[dict[str, Any]] = []

    def stop_at_tuning(resource: str, parameters: Any) -> Any:
        requests.append(parameters)
        raise RuntimeError("stop here")

    # WHEN the state machine runs it up to the tuning job
    with pytest.raises(RuntimeError, match="stop here"):
        run(
            definition,
            document,
            execution_name="run-1",
            task=stop_at_tuning,
            jsonata=lambda _e, data, _c: {**data, "tuning_job_name": f"{PREFIX}-x"},
        )
    # THEN CheckInput let it through and the request carries the narrowed range and the parent
    (request,) = requests
    (narrowed,) = request["HyperParameterTuningJobConfig"]["ParameterRanges"]["IntegerParameterRanges"]
    assert (narrowed["MinValue"], narrowed["MaxValue"]) == (str(I_LOW), str(I_HIGH))
    assert request["WarmStartConfig"]["ParentHyperParameterTuningJobs"] == [
        {"HyperParameterTuningJobName": f"{PREFIX}-0123456789abc"}
    ]


@pytest.mark.parametrize("switch", ["on", "off"])
def test_a_tuned_run_counts_the_ranges_and_the_objective_against_the_version_s_metadata(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, switch: str
) -> None:
    # GIVEN dev tuned, and -p filling the version's metadata to its limit with the static hyperparameters alone
    raw = _raw()
    path = tmp_path / "environments.toml"
    path.write_text(to_toml(raw))
    static = set(load_config(path).environment("dev").training.hyperparameters)
    extra = [f"extra{i}=1" for i in range(max_registered_hyperparameters() - len(static))]
    # WHEN a run is started tuned (or once, untuned)
    arguments = [a for item in extra for a in ("-p", item)]
    code, result = _train(monkeypatch, capsys, _Deployment(raw), "--config", str(path), "--tuning", switch, *arguments)
    # THEN tuned, the best job's metadata would also hold every range and the objective: refused before it starts
    # (the extra names are unknown to the schema either way: only the count is this test's)
    assert code == ExitCode.USAGE
    counted = f"ranges: {max_registered_hyperparameters() + len(TUNING['ranges']) + 1} hyperparameters"
    assert (counted in result["error"]) == (switch == "on"), result["error"]
