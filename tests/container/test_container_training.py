"""`train` through the real entry point: model quality per objective, metrics, checkpoints, every failure."""

from __future__ import annotations

import hashlib
import json
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from lightgbm_gbdt.algorithm import ALGORITHM

from tests.container.conftest import OBJECTIVES, Trained
from tests.container.harness import (
    CONTAINER,
    csv_bytes,
    failure_of,
    make_data,
    run_train,
    start_long_training,
    write_tree,
)

METRIC_DEFINITIONS: list[dict[str, str]] = json.loads((CONTAINER / "metric_definitions.json").read_text())


def _predict(model_dir: Path, features: np.ndarray) -> np.ndarray:
    prediction: np.ndarray = ALGORITHM.load(model_dir).predict(features)
    return prediction


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_each_objective_learns_a_good_model(trained: dict[str, Trained], objective: str) -> None:
    """GIVEN a job per objective on generated data WHEN its model predicts held-out rows THEN it scores well."""
    job = trained[objective]
    prediction = _predict(job.root / "model", job.test_features)
    if objective == "regression":
        residual = np.sum((job.test_labels - prediction) ** 2)
        r2 = 1 - residual / np.sum((job.test_labels - job.test_labels.mean()) ** 2)
        assert r2 > 0.9
    elif objective == "binary":
        assert np.mean((prediction > 0.5) == job.test_labels) > 0.9
    else:
        assert prediction.shape == (len(job.test_labels), 3)
        assert np.allclose(prediction.sum(axis=1), 1.0)
        assert np.mean(prediction.argmax(axis=1) == job.test_labels) > 0.85


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_model_metadata_and_training_summary(trained: dict[str, Trained], objective: str) -> None:
    """GIVEN a finished job THEN metadata.json and the summary describe the model and the run."""
    job = trained[objective]
    metadata = json.loads((job.root / "model" / "metadata.json").read_text())
    assert metadata["objective"] == objective
    assert metadata["num_features"] == 5
    assert metadata["num_class"] == {"regression": None, "binary": 2, "multiclass": 3}[objective]
    assert set(metadata["library_versions"]) >= {"lightgbm", "numpy", "python"}
    model_file = (job.root / "model" / "model.txt").read_bytes()
    assert metadata["files"] == {
        "model.txt": {"sha256": hashlib.sha256(model_file).hexdigest(), "bytes": len(model_file)}
    }
    summary = json.loads((job.root / "output" / "data" / "training_summary.json").read_text())
    assert summary["schema_version"] == 1
    assert summary["rows"] == {"train": 2000, "validation": 500}
    assert summary["hosts"] == ["algo-1"]
    summary_line = next(line for line in job.stdout.splitlines() if line.startswith("#summary "))
    assert json.loads(summary_line.removeprefix("#summary ")) == summary


def test_metric_definitions_fit_sagemaker_limits_and_cover_every_metric() -> None:
    """GIVEN metric_definitions.json THEN it is SageMaker's shape, within limits, one per reportable metric."""
    assert len(METRIC_DEFINITIONS) <= 40
    for definition in METRIC_DEFINITIONS:
        assert set(definition) == {"Name", "Regex"}
        assert len(definition["Name"]) <= 255
        assert len(definition["Regex"]) <= 500
        assert re.compile(definition["Regex"]).groups == 1
    assert {d["Name"] for d in METRIC_DEFINITIONS} == {m.name for m in ALGORITHM.declaration.metrics}


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_metric_regexes_match_the_real_training_log(trained: dict[str, Trained], objective: str) -> None:
    """GIVEN a real training log THEN each metric it reports is captured as a float by its definition's regex."""
    lines = [line for line in trained[objective].stdout.splitlines() if line.startswith("#metrics ")]
    assert len(lines) >= 2
    reported = dict(pair.split("=") for pair in lines[-1].split()[2:])
    assert set(reported) == {f"{channel}:{trained_metric(objective)}" for channel in ("train", "validation")}
    for definition in METRIC_DEFINITIONS:
        match = re.search(definition["Regex"], lines[-1])
        if definition["Name"] in reported:
            assert match is not None, definition
            assert float(match.group(1)) == pytest.approx(float(reported[definition["Name"]]))
        else:
            assert match is None, definition


def trained_metric(objective: str) -> str:
    return {"regression": "l2", "binary": "auc", "multiclass": "multi_logloss"}[objective]


def test_validation_channel_stops_training_early(tmp_path: Path) -> None:
    """GIVEN a validation channel and many rounds WHEN the validation metric stops improving THEN training stops."""
    labels, features = make_data("binary", 1500, seed=2)
    root = write_tree(
        tmp_path,
        {"objective": "binary", "num_boost_round": "2000", "early_stopping_rounds": "5", "learning_rate": "0.3"},
        {
            "train": {"a.csv": csv_bytes(labels[:1000], features[:1000])},
            "validation": {"a.csv": csv_bytes(labels[1000:], features[1000:])},
        },
    )
    result = run_train(root)
    assert result.returncode == 0, result.stderr
    metadata = json.loads((root / "model" / "metadata.json").read_text())
    assert metadata["rounds_trained"] < 2000
    assert 0 < metadata["best_iteration"] < metadata["rounds_trained"]
    # Stopped between two train-metric rounds or not, the last round trained reports the train metric.
    reports = _reports(result.stdout)
    assert max(reports["train:binary_logloss"]) == metadata["rounds_trained"]
    assert sorted(reports["validation:binary_logloss"]) == list(range(1, metadata["rounds_trained"] + 1))
    summary = json.loads((root / "output" / "data" / "training_summary.json").read_text())
    assert set(summary["final_metrics"]) == {"train:binary_logloss", "validation:binary_logloss"}


def _reports(stdout: str) -> dict[str, dict[int, float]]:
    """{metric: {round: value}} from the #metrics lines of a training log."""
    reports: dict[str, dict[int, float]] = {}
    for line in stdout.splitlines():
        if line.startswith("#metrics "):
            round_, *fields = line.split()[1:]
            for name, value in (field.split("=") for field in fields):
                reports.setdefault(name, {})[int(round_.removeprefix("round="))] = float(value)
    return reports


@pytest.mark.parametrize(
    ("period", "train_rounds"), [("10", [10, 20, 25]), ("1", list(range(1, 26))), ("7", [7, 14, 21, 25]), ("100", [25])]
)
def test_the_train_metric_is_reported_every_period_and_after_the_last_round(
    tmp_path: Path, period: str, train_rounds: list[int]
) -> None:
    """GIVEN train_metric_period THEN the train channel's metric comes every k rounds and after the last,
    validation's every round, and the value is the final model's log loss on the training rows."""
    labels, features = make_data("binary", 1200, seed=4)
    root = write_tree(
        tmp_path,
        {"objective": "binary", "num_boost_round": "25", "early_stopping_rounds": "0", "train_metric_period": period},
        {
            "train": {"a.csv": csv_bytes(labels[:900], features[:900])},
            "validation": {"a.csv": csv_bytes(labels[900:], features[900:])},
        },
    )
    result = run_train(root)
    assert result.returncode == 0, result.stderr
    reports = _reports(result.stdout)
    assert sorted(reports["train:binary_logloss"]) == train_rounds
    assert sorted(reports["validation:binary_logloss"]) == list(range(1, 26))
    # What the CSV holds (6 significant digits), as training read it (float32).
    train = np.loadtxt(root / "input" / "data" / "train" / "a.csv", delimiter=",", dtype=np.float32)
    p = _predict(root / "model", train[:, 1:])
    logloss = -np.mean(train[:, 0] * np.log(p) + (1 - train[:, 0]) * np.log(1 - p))
    assert reports["train:binary_logloss"][25] == pytest.approx(logloss, rel=1e-5)


def test_parquet_channel_trains_like_csv(tmp_path: Path) -> None:
    """GIVEN application/x-parquet channels (label first column) THEN training reads them and succeeds."""
    labels, features = make_data("regression", 800, seed=3)
    table = pa.table({"label": labels, **{f"f{i}": features[:, i] for i in range(5)}})
    pq.write_table(table, tmp_path / "train.parquet")
    root = write_tree(
        tmp_path / "ml",
        {"objective": "regression", "num_boost_round": "20"},
        {"train": {"part.parquet": (tmp_path / "train.parquet").read_bytes()}},
        input_data_config={"train": {"ContentType": "application/x-parquet", "TrainingInputMode": "FastFile"}},
    )
    result = run_train(root)
    assert result.returncode == 0, result.stderr
    assert json.loads((root / "model" / "metadata.json").read_text())["num_features"] == 5


def _good_train() -> dict[str, bytes]:
    labels, features = make_data("binary", 200, seed=4)
    return {"a.csv": csv_bytes(labels, features)}


# Hyperparameters the job refuses whatever its data: one row a case, its id, the hyperparameters, the reason.
BAD_SETTINGS: list[tuple[str, dict[str, str], str]] = [
    (
        "unknown hyperparameter",
        {"objective": "binary", "max_bins": "63"},
        "unknown hyperparameter(s) max_bins; known: bagging_fraction, bagging_freq, early_stopping_rounds",
    ),
    ("not an integer", {"objective": "binary", "num_leaves": "many"}, "num_leaves must be an integer, got 'many'"),
    ("out of range", {"objective": "binary", "learning_rate": "2"}, "learning_rate must be <= 1.0, got 2.0"),
    ("bad objective", {"objective": "ranking"}, "objective must be one of regression, binary, multiclass"),
    ("num_class missing", {"objective": "multiclass"}, "num_class is required when objective is multiclass"),
    (
        "metric for another objective",
        {"objective": "binary", "metric": "l2"},
        "metric must be one of binary_logloss, binary_error, auc, average_precision when objective is binary, got 'l2'",
    ),
    (
        "bad distributed timeout",
        {"objective": "binary", "distributed_timeout_seconds": "0"},
        "distributed_timeout_seconds must be >= 1.0, got 0.0",
    ),
    (
        "unknown sagemaker_ name",
        {"objective": "binary", "sagemaker_mpi_enabled": "true"},
        "unknown hyperparameter(s) sagemaker_mpi_enabled",
    ),
]
# Every failure: its id, the hyperparameters, the channels, write_tree's options, and the reason it must write.
FAILURES: list[tuple[str, dict[str, str], dict[str, dict[str, bytes]], dict[str, Any], str]] = [
    *((name, hyperparameters, {"train": _good_train()}, {}, reason) for name, hyperparameters, reason in BAD_SETTINGS),
    ("objective missing", {"num_boost_round": "5"}, {"train": _good_train()}, {}, "objective is required"),
    (
        "missing train channel",
        {"objective": "binary"},
        {"validation": _good_train()},
        {},
        "required channel(s) train missing",
    ),
    ("empty data", {"objective": "binary"}, {"train": {"a.csv": b"", "b.csv": b""}}, {}, "channel train has no rows"),
    (
        "ragged rows",
        {"objective": "binary"},
        {"train": {"a.csv": b"1,2,3\n0,1,2\n1,2\n"}},
        {},
        "line 3 has 2 columns, expected 3",
    ),
    (
        "non-numeric value",
        {"objective": "binary"},
        {"train": {"a.csv": b"1,2,3\n0,abc,2\n"}},
        {},
        "line 2, column 2: 'abc' is not a number",
    ),
    (
        "binary label out of range",
        {"objective": "binary"},
        {"train": {"a.csv": b"1,2,3\n2,1,2\n"}},
        {},
        "row 2 has label 2; objective binary needs labels 0 or 1",
    ),
    (
        "multiclass label out of range",
        {"objective": "multiclass", "num_class": "3"},
        {"train": {"a.csv": b"0,2,3\n3,1,2\n"}},
        {},
        "row 2 has label 3; objective multiclass with num_class=3 needs integer labels 0 to 2",
    ),
    (
        "pipe mode",
        {"objective": "binary"},
        {"train": _good_train()},
        {"input_data_config": {"train": {"ContentType": "text/csv", "TrainingInputMode": "Pipe"}}},
        "Pipe input mode is not supported; use File or FastFile",
    ),
    (
        "current host not among the hosts",
        {"objective": "binary"},
        {"train": _good_train()},
        {"resource_config": {"current_host": "algo-3", "hosts": ["algo-1", "algo-2"]}},
        "current_host 'algo-3' is not one of the hosts (algo-1, algo-2)",
    ),
    (
        "sharded validation channel on several hosts",
        {"objective": "binary"},
        {"train": _good_train(), "validation": _good_train()},
        {
            "resource_config": {"current_host": "algo-1", "hosts": ["algo-1", "algo-2"]},
            "input_data_config": {
                "train": {"ContentType": "text/csv"},
                "validation": {"ContentType": "text/csv", "S3DistributionType": "ShardedByS3Key"},
            },
        },
        "channel validation must use S3DataDistributionType FullyReplicated when training on several hosts",
    ),
    (
        "binary with one class",
        {"objective": "binary"},
        {"train": {"a.csv": csv_bytes(np.ones(200), make_data("binary", 200)[1])}},
        {},
        "channel train has label 1 only; objective binary needs rows of both 0 and 1",
    ),
    (
        "multiclass with a class absent",
        {"objective": "multiclass", "num_class": "4"},
        {"train": {"a.csv": csv_bytes(*make_data("multiclass", 300))}},
        {},
        "channel train has no row of class 3; objective multiclass with num_class=4 needs every class 0 to 3",
    ),
    (
        "regression with one label value",
        {"objective": "regression"},
        {"train": {"a.csv": csv_bytes(np.full(200, 2.5), make_data("regression", 200)[1])}},
        {},
        "every label in channel train is 2.5; objective regression has nothing to learn",
    ),
    (
        "no feature varies",
        {"objective": "binary"},
        {"train": {"a.csv": csv_bytes(make_data("binary", 200)[0], np.full((200, 3), 7.0))}},
        {},
        "no feature varies in channel train: each of its 3 feature(s) has one value in all 200 rows",
    ),
    (
        "too few rows for min_data_in_leaf",
        {"objective": "binary"},
        {"train": {"a.csv": csv_bytes(*make_data("binary", 39))}},
        {},
        "channel train has 39 rows; min_data_in_leaf=20 needs at least 40 for a tree to split into two leaves",
    ),
    (
        "too few rows once bagged",
        {"objective": "binary", "min_data_in_leaf": "10", "bagging_fraction": "0.5", "bagging_freq": "1"},
        {"train": {"a.csv": csv_bytes(*make_data("binary", 39))}},
        {},
        "min_data_in_leaf=10 and bagging_fraction=0.5 needs at least 40",
    ),
    (
        "no split found",
        {"objective": "regression", "num_boost_round": "3"},
        {"train": {"a.csv": csv_bytes(np.arange(100.0), np.eye(100)[:, :1])}},
        {},
        "LightGBM found no split in 3 round(s), so the model would predict one constant",
    ),
    (
        "validation with other features",
        {"objective": "binary"},
        {"train": {"a.csv": b"1,2,3\n0,1,2\n"}, "validation": {"a.csv": b"1,2\n0,1\n"}},
        {},
        "channel validation has 1 features but train has 2",
    ),
    (
        "bare carriage return in the first line",
        {"objective": "binary"},
        {"train": {"a.csv": b"1,2,3\r0,1,2\n1,2,3\n"}},
        {},
        "channel train, file a.csv, line 1: new-line character seen in unquoted field",
    ),
]


@pytest.mark.parametrize(
    ("hyperparameters", "channels", "options", "reason"), [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES]
)
def test_every_failure_writes_one_clear_reason(
    tmp_path: Path,
    hyperparameters: dict[str, str],
    channels: dict[str, dict[str, bytes]],
    options: dict[str, Any],
    reason: str,
) -> None:
    """GIVEN a job with one problem WHEN it trains THEN it exits non-zero with the reason in output/failure."""
    root = write_tree(tmp_path, hyperparameters, channels, **options)
    result = run_train(root)
    assert result.returncode != 0
    failure = failure_of(root)
    assert reason in failure
    assert "\n" not in failure
    assert "Traceback" not in result.stderr
    assert not (root / "model" / "metadata.json").exists()


def _long_job(tmp_path: Path) -> Path:
    labels, features = make_data("regression", 2000, seed=5)
    return write_tree(
        tmp_path,
        {"objective": "regression", "num_boost_round": "100000", "learning_rate": "0.001"},
        {"train": {"a.csv": csv_bytes(labels, features)}},
    )


def test_out_of_memory_kill_still_leaves_a_failure_reason(tmp_path: Path) -> None:
    """GIVEN a training process WHEN the kernel's OOM killer SIGKILLs it THEN the failure file says out of memory."""
    process, _ = start_long_training(_long_job(tmp_path))
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    assert len(children) == 1
    subprocess.run(["kill", "-KILL", children[0]], check=True)
    assert process.wait(timeout=30) == 128 + signal.SIGKILL
    assert "killed by SIGKILL, most likely by the kernel's out-of-memory killer" in failure_of(tmp_path)


def test_sigterm_checkpoints_and_stops_without_a_model(tmp_path: Path) -> None:
    """GIVEN checkpointing WHEN SIGTERM arrives mid-training THEN a checkpoint is saved and no model is left."""
    root = _long_job(tmp_path)
    (root / "checkpoints").mkdir()
    process, _ = start_long_training(root)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 143
    assert "training stopped by SIGTERM" in failure_of(root)
    assert "checkpoint saved" in failure_of(root)
    assert json.loads((root / "checkpoints" / "lightgbm-checkpoint.json").read_text())["rounds"] >= 1
    assert not (root / "model" / "metadata.json").exists()


def test_training_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    """GIVEN a checkpoint after 10 rounds WHEN the job runs again for 25 rounds THEN it trains 15 more, not 25."""
    labels, features = make_data("binary", 600, seed=6)
    hyperparameters = {"objective": "binary", "num_boost_round": "10"}
    root = write_tree(tmp_path, hyperparameters, {"train": {"a.csv": csv_bytes(labels, features)}})
    (root / "checkpoints").mkdir()
    assert run_train(root).returncode == 0
    # Reporting every round shows which rounds ran; the report period is no reason to start again.
    (root / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps(hyperparameters | {"num_boost_round": "25", "train_metric_period": "1"})
    )
    result = run_train(root)
    assert result.returncode == 0, result.stderr
    assert "resuming from checkpoint after round 10" in result.stdout
    rounds = [
        int(line.split()[1].removeprefix("round="))
        for line in result.stdout.splitlines()
        if line.startswith("#metrics ")
    ]
    assert rounds == list(range(11, 26))
    metadata = json.loads((root / "model" / "metadata.json").read_text())
    assert (metadata["rounds_trained"], metadata["resumed_from_round"]) == (25, 10)


def test_checkpoint_of_other_hyperparameters_is_ignored(tmp_path: Path) -> None:
    """GIVEN a checkpoint written with other hyperparameters THEN training starts from round 1."""
    labels, features = make_data("binary", 600, seed=6)
    root = write_tree(
        tmp_path, {"objective": "binary", "num_boost_round": "5"}, {"train": {"a.csv": csv_bytes(labels, features)}}
    )
    (root / "checkpoints").mkdir()
    assert run_train(root).returncode == 0
    (root / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps({"objective": "binary", "num_boost_round": "5", "num_leaves": "7"})
    )
    result = run_train(root)
    assert result.returncode == 0
    assert "checkpoint ignored" in result.stdout
    assert json.loads((root / "model" / "metadata.json").read_text())["resumed_from_round"] == 0


def test_sagemakers_reserved_hyperparameters_are_accepted_and_ignored(tmp_path: Path) -> None:
    """GIVEN what a tuning job started from the SDK sends besides the algorithm's own hyperparameters
    WHEN it trains THEN it succeeds and the log names what it ignored."""
    reserved = {
        "_tuning_objective_metric": "validation:auc",
        "sagemaker_estimator_class_name": '"Estimator"',
        "sagemaker_estimator_module": '"sagemaker.estimator"',
        "sagemaker_container_log_level": "20",
        "sagemaker_job_name": '"tuning-001"',
        "sagemaker_program": '"train.py"',
        "sagemaker_region": '"eu-west-1"',
        "sagemaker_submit_directory": '"s3://bucket/source.tar.gz"',
    }
    root = write_tree(tmp_path, {"objective": "binary", "num_boost_round": "5"} | reserved, {"train": _good_train()})
    result = run_train(root)
    assert result.returncode == 0, result.stderr
    assert f"hyperparameters reserved by SageMaker, ignored: {', '.join(sorted(reserved))}" in result.stdout
    assert (
        "_tuning_objective_metric" not in json.loads((root / "model" / "metadata.json").read_text())["hyperparameters"]
    )


def _break_hyperparameters(root: Path) -> Path:
    path = root / "input" / "config" / "hyperparameters.json"
    path.unlink()
    path.mkdir()
    return path


def _break_resource_config(root: Path) -> Path:
    path = root / "input" / "config" / "resourceconfig.json"
    path.unlink()
    path.mkdir()
    return path


def _loop_in_channel(root: Path) -> Path:
    path = root / "input" / "data" / "train" / "part-9.csv"
    path.symlink_to(path.name)
    return path


def _loop_as_input_data_config(root: Path) -> Path:
    path = root / "input" / "config" / "inputdataconfig.json"
    path.unlink()
    path.symlink_to("other.json")
    (path.parent / "other.json").symlink_to(path.name)
    return path


UNREADABLE = {
    "hyperparameters.json is a directory": (_break_hyperparameters, "reading hyperparameters", "Is a directory"),
    "resourceconfig.json is a directory": (_break_resource_config, "reading the job configuration", "Is a directory"),
    "a symbolic link loop among the data files": (
        _loop_in_channel,
        "reading the data channels",
        "Too many levels of symbolic links (a symbolic link that points back to itself",
    ),
    "inputdataconfig.json is a symbolic link loop": (
        _loop_as_input_data_config,
        "reading the data channels",
        "Too many levels of symbolic links",
    ),
}


@pytest.mark.parametrize("case", list(UNREADABLE), ids=list(UNREADABLE))
def test_an_unreadable_input_names_the_path_and_the_problem(tmp_path: Path, case: str) -> None:
    """GIVEN an input that cannot be read WHEN it trains THEN the failure names the stage, the path, the problem."""
    breaks, stage, problem = UNREADABLE[case]
    root = write_tree(tmp_path, {"objective": "binary"}, {"train": _good_train()})
    path = breaks(root)
    result = run_train(root)
    assert result.returncode == 1
    assert failure_of(root).startswith(f"cannot finish {stage}: {path}: {problem}")
    assert "internal error" not in failure_of(root)
    assert "Traceback" not in result.stderr


def test_a_file_in_place_of_the_model_directory_fails_before_reading_data(tmp_path: Path) -> None:
    """GIVEN a file where the model directory belongs WHEN it trains THEN it fails at once, naming the path."""
    root = write_tree(tmp_path, {"objective": "binary"}, {"train": _good_train()})
    (root / "model").write_text("")
    result = run_train(root)
    assert result.returncode == 1
    assert failure_of(root) == f"the model directory {root / 'model'} is not a directory"
    assert "data: train" not in result.stdout
