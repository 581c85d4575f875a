"""The drift baseline `train` writes, and `monitor` (a processing job) through the real entry point."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from lightgbm_gbdt.algorithm import ALGORITHM
from sagemaker_contract import baseline, capture, codecs, interface, logs, monitor
from sagemaker_contract.errors import BadRequestError, UserError
from sagemaker_contract.protocol import Dataset

from tests.container.harness import csv_bytes, entrypoint, make_data, run_train, train_on_split, write_tree

NUM_FEATURES = 5
NAMESPACE = "sagemaker-gbdt"
ENDPOINT = "sagemaker-gbdt-prod"


@pytest.fixture(scope="module")
def model_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """GIVEN a binary job whose validation channel has missing values in feature 4 (`nan`), trained by `train`."""
    labels, features = make_data("binary", 3000, NUM_FEATURES, seed=3)
    features[2000::10, 3] = np.nan
    hyperparameters = {"objective": "binary", "num_boost_round": "30"}
    return train_on_split(tmp_path_factory.mktemp("monitor-train"), hyperparameters, labels, features, 2000)


def _capture_line(
    features: np.ndarray, predictions: np.ndarray | None, kind: str = "text/csv", encoding: str = "CSV"
) -> bytes:
    """One data-capture record as SageMaker writes it (captureData with endpointInput/endpointOutput)."""
    if kind == "text/csv":
        body = csv_bytes(None, features)
    elif kind == "application/json":
        body = json.dumps({"instances": [[None if np.isnan(v) else v for v in row] for row in features]}).encode()
    elif kind == "application/jsonlines":
        body = b"".join(json.dumps({"features": row.tolist()}).encode() + b"\n" for row in features)
    else:
        buffer = io.BytesIO()
        np.save(buffer, features)
        body = buffer.getvalue()
    data = base64.b64encode(body).decode() if encoding == "BASE64" else body.decode()
    capture: dict[str, Any] = {
        "endpointInput": {"observedContentType": kind, "mode": "INPUT", "data": data, "encoding": encoding}
    }
    if predictions is not None:
        capture["endpointOutput"] = {
            "observedContentType": "text/csv; charset=utf-8",
            "mode": "OUTPUT",
            "data": "".join(f"{float(p)!r}\n" for p in predictions),  # serving writes shortest round-trip
            "encoding": "CSV",
        }
    record = {
        "captureData": capture,
        "eventMetadata": {"eventId": "00000000-0000-0000-0000-000000000000", "inferenceTime": "2026-12-01T10:00:00Z"},
        "eventVersion": "0",
    }
    return json.dumps(record).encode() + b"\n"


def _window(model_root: Path, features: np.ndarray, rows_per_request: int = 10, **kwargs: Any) -> bytes:
    """Captured requests of `features` with the model's own predictions, `rows_per_request` rows each."""
    model = ALGORITHM.load(model_root / "model")
    lines = []
    for start in range(0, len(features), rows_per_request):
        chunk = features[start : start + rows_per_request]
        lines.append(_capture_line(chunk, model.predict(chunk), **kwargs))
    return b"".join(lines)


def _processing_tree(root: Path, model_root: Path, files: dict[str, bytes], *, archive: bool = False) -> Path:
    """An /opt/ml tree for a processing job: the baseline input (file or model.tar.gz) and capture files."""
    baseline_dir = root / "processing" / interface.BASELINE_INPUT
    baseline_dir.mkdir(parents=True)
    if archive:
        with tarfile.open(baseline_dir / "model.tar.gz", "w:gz") as tar:
            for item in (model_root / "model").iterdir():
                tar.add(item, arcname=item.name)
    else:
        shutil.copy(model_root / "model" / baseline.BASELINE_FILE, baseline_dir)
    capture = root / "processing" / interface.CAPTURE_INPUT
    capture.mkdir(parents=True)
    for name, contents in files.items():
        (capture / name).parent.mkdir(parents=True, exist_ok=True)
        (capture / name).write_bytes(contents)
    return root


def _run_monitor(root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "OPT_ML_DIR": str(root), "METRICS_NAMESPACE": NAMESPACE}
    environment |= {"METRICS_ENDPOINT_NAME": ENDPOINT, **env}
    return subprocess.run(
        entrypoint("monitor"),
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _report(root: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((root / "processing" / "output" / monitor.REPORT_FILE).read_text())
    return report


def _metrics(stdout: str) -> list[dict[str, Any]]:
    return [record for line in stdout.splitlines() if line.startswith("{") and "_aws" in (record := json.loads(line))]


def _overall(stdout: str) -> dict[str, Any]:
    (record,) = [r for r in _metrics(stdout) if "Feature" not in r]
    return record


def _message(root: Path) -> str:
    return (root / "output" / "message").read_text().strip()


def _fresh(seed: int, rows: int = 1000) -> np.ndarray:
    return make_data("binary", rows, NUM_FEATURES, seed=seed)[1]


# -- the baseline ------------------------------------------------------------------------------------


def test_training_writes_the_baseline_next_to_the_model_in_model_monitor_shapes(model_root: Path) -> None:
    """GIVEN the finished job THEN drift-baseline.json describes the validation channel and the predictions."""
    document = json.loads((model_root / "model" / baseline.BASELINE_FILE).read_text())
    assert document["format"] == "drift-baseline"
    assert document["channel"] == "validation"
    assert document["num_features"] == NUM_FEATURES
    assert document["prediction_columns"] == ["prediction"]
    entries = {entry["name"]: entry for entry in document["statistics"]["features"]}
    assert list(entries) == ["_c0", "_c1", "_c2", "_c3", "_c4", "prediction"]
    assert document["statistics"]["dataset"]["item_count"] == 1000
    common = entries["_c3"]["numerical_statistics"]["common"]
    assert common == {"num_present": 900, "num_missing": 100}
    first = entries["_c0"]["numerical_statistics"]
    buckets = first["distribution"]["kll"]["buckets"]
    assert len(buckets) == 10
    assert sum(bucket["count"] for bucket in buckets) == 1000
    assert buckets[0]["lower_bound"] == first["min"] and buckets[-1]["upper_bound"] == first["max"]
    assert first["quantiles"]["0.5"] == pytest.approx(np.median(_validation_features(model_root)[:, 0]), abs=1e-5)
    prediction = entries["prediction"]["numerical_statistics"]
    assert 0.0 <= prediction["min"] <= prediction["max"] <= 1.0
    constraints = {c["name"]: c["completeness"] for c in document["constraints"]["features"]}
    assert constraints["_c3"] == pytest.approx(0.9)
    assert constraints["_c0"] == 1.0


def _validation_features(model_root: Path) -> np.ndarray:
    data = np.loadtxt(model_root / "input" / "data" / "validation" / "part-0.csv", delimiter=",")
    features: np.ndarray = data[:, 1:]
    return features


def test_without_a_validation_channel_the_baseline_describes_the_train_channel(tmp_path: Path) -> None:
    labels, features = make_data("regression", 400, 3, seed=5)
    root = write_tree(
        tmp_path, {"objective": "regression", "num_boost_round": "5"}, {"train": {"a.csv": csv_bytes(labels, features)}}
    )
    assert run_train(root).returncode == 0
    document = json.loads((root / "model" / baseline.BASELINE_FILE).read_text())
    assert document["channel"] == "train"
    assert document["statistics"]["dataset"]["item_count"] == 400


def test_a_constant_feature_gets_two_open_bins_and_an_all_missing_feature_none() -> None:
    constant = baseline.describe_column("_c0", np.full(50, 2.0), np.full(50, 2.0))
    buckets = constant["numerical_statistics"]["distribution"]["kll"]["buckets"]
    assert [b["count"] for b in buckets] == [50, 0]
    missing = baseline.describe_column("_c1", np.full(50, np.nan), np.full(50, np.nan))
    assert missing["numerical_statistics"] == {"common": {"num_present": 0, "num_missing": 50}}


# -- drift -------------------------------------------------------------------------------------------


def test_same_distribution_shows_no_drift(model_root: Path, tmp_path: Path) -> None:
    """GIVEN captured requests drawn like the validation data WHEN monitored THEN no feature drifts."""
    root = _processing_tree(
        tmp_path, model_root, {"endpoint/primary/2026/12/01/10/a.jsonl": _window(model_root, _fresh(11))}
    )
    result = _run_monitor(root)
    assert result.returncode == 0, result.stderr
    report = _report(root)
    assert report["status"] == "ok"
    assert report["rows"] == 1000
    assert report["overall"]["drift"] < 0.1
    assert report["overall"]["prediction_drift"] < 0.1
    assert not any(entry["drifted"] for entry in report["features"])
    assert all(entry["ks_p_value"] > 0.001 for entry in report["features"])
    assert json.loads((root / "processing" / "output" / monitor.VIOLATIONS_FILE).read_text()) == {"violations": []}
    overall = _overall(result.stdout)
    assert overall["EndpointName"] == ENDPOINT
    assert overall["_aws"]["CloudWatchMetrics"][0]["Namespace"] == NAMESPACE
    assert overall["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["EndpointName"]]
    assert overall["OverallDrift"] == pytest.approx(report["overall"]["drift"])
    assert overall["RowsAnalyzed"] == 1000
    per_feature = {r["Feature"]: r for r in _metrics(result.stdout) if "Feature" in r}
    assert set(per_feature) == {"_c0", "_c1", "_c2", "_c3", "_c4"}
    assert per_feature["_c0"]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["EndpointName", "Feature"]]


def test_a_shifted_feature_drifts_and_moves_the_predictions(model_root: Path, tmp_path: Path) -> None:
    """GIVEN requests whose first feature moved by 1.5 standard deviations THEN _c0 alone drifts, predictions too."""
    shifted = _fresh(12)
    shifted[:, 0] += 1.5
    root = _processing_tree(tmp_path, model_root, {"a.jsonl": _window(model_root, shifted)})
    result = _run_monitor(root, DRIFT_PSI_THRESHOLD="0.2")
    assert result.returncode == 0, result.stderr
    report = _report(root)
    assert report["status"] == "drift"
    assert report["overall"]["most_drifted_feature"] == "_c0"
    drifted = {entry["name"] for entry in report["features"] if entry["drifted"]}
    assert drifted == {"_c0"}
    first = report["features"][0]
    assert first["psi"] > 1.0
    assert first["ks_statistic"] > 0.4 and first["ks_p_value"] < 1e-6
    assert first["out_of_range_rate"] > 0.01  # above the baseline's maximum
    assert report["overall"]["prediction_drift"] > 0.2
    assert _overall(result.stdout)["DriftedFeatures"] == 1
    violations = json.loads((root / "processing" / "output" / monitor.VIOLATIONS_FILE).read_text())["violations"]
    assert [v["feature_name"] for v in violations] == ["_c0"]
    assert violations[0]["constraint_check_type"] == "baseline_drift_check"


def test_more_missing_values_show_in_the_missing_rate(model_root: Path, tmp_path: Path) -> None:
    features = _fresh(13)
    features[::2, 1] = np.nan
    root = _processing_tree(tmp_path, model_root, {"a.jsonl": _window(model_root, features, kind="application/json")})
    assert _run_monitor(root).returncode == 0
    second = _report(root)["features"][1]
    assert second["missing_rate"] == pytest.approx(0.5)
    assert second["baseline_missing_rate"] == 0.0
    per_feature = {r["Feature"]: r for r in _metrics(_run_monitor(root).stdout) if "Feature" in r}
    assert per_feature["_c1"]["MissingRate"] == pytest.approx(50.0)


@pytest.mark.parametrize(
    ("kind", "encoding"),
    [
        ("text/csv", "CSV"),
        ("application/json", "JSON"),
        ("application/jsonlines", "JSON"),
        ("text/csv", "BASE64"),
        ("application/x-npy", "BASE64"),
    ],
)
def test_every_capture_encoding_is_read(model_root: Path, tmp_path: Path, kind: str, encoding: str) -> None:
    """GIVEN the same requests captured as CSV, JSON, JSON Lines or base64 THEN each reads to the same rows."""
    root = _processing_tree(
        tmp_path, model_root, {"a.jsonl": _window(model_root, _fresh(14, 200), kind=kind, encoding=encoding)}
    )
    result = _run_monitor(root)
    assert result.returncode == 0, result.stderr
    report = _report(root)
    assert report["rows"] == 200
    assert report["records"] == {
        "files": 1,
        "lines": 20,
        "valid": 20,
        "corrupt": 0,
        "mismatched": 0,
        "unmatched_predictions": 0,
    }
    assert report["overall"]["prediction_rows"] == 200


def test_the_baseline_is_read_from_the_model_archive(model_root: Path, tmp_path: Path) -> None:
    root = _processing_tree(tmp_path, model_root, {"a.jsonl": _window(model_root, _fresh(15, 200))}, archive=True)
    assert _run_monitor(root).returncode == 0
    assert _report(root)["baseline_channel"] == "validation"


# -- imperfect windows -------------------------------------------------------------------------------


def test_corrupt_lines_are_skipped_counted_and_located(model_root: Path, tmp_path: Path) -> None:
    good = _window(model_root, _fresh(16, 300))
    bad = [
        b"not json\n",
        b'{"eventVersion": "0"}\n',
        _capture_line(np.array([[1.0, 2.0, 3.0, 4.0, 5.0]]), None).replace(b"1,2,3", b"1,x,3"),
        json.dumps({"captureData": {"endpointInput": {"data": "%%%", "encoding": "BASE64"}}}).encode() + b"\n",
    ]
    root = _processing_tree(tmp_path, model_root, {"a.jsonl": good + b"".join(bad)})
    result = _run_monitor(root, DRIFT_MIN_ROWS="300")
    assert result.returncode == 0, result.stderr
    report = _report(root)
    assert report["records"]["corrupt"] == 4
    assert report["records"]["valid"] == 30
    assert report["status"] == "ok"
    assert report["problems"][0] == "a.jsonl:31: line is not JSON"
    assert "not a data-capture record" in report["problems"][1]
    assert "not a number" in report["problems"][2]
    assert "base64" in report["problems"][3]
    assert "x" not in report["problems"][2].split(": ", 1)[1]  # no payload values in the report
    assert _overall(result.stdout)["CorruptRecords"] == 4


def test_a_response_that_cannot_be_read_leaves_its_request_counted_without_predictions() -> None:
    line = json.loads(_capture_line(np.ones((2, NUM_FEATURES)), np.array([0.1, 0.2])))
    line["captureData"]["endpointOutput"]["data"] = '{"error": "model rejected"}'
    line["captureData"]["endpointOutput"]["observedContentType"] = "application/json"
    features, predictions = capture.parse_record(json.dumps(line).encode(), NUM_FEATURES)
    assert features.shape == (2, NUM_FEATURES)
    assert predictions is None


def test_a_response_that_does_not_pair_with_its_rows_is_counted_and_its_request_kept(
    model_root: Path, tmp_path: Path
) -> None:
    # GIVEN a window where three responses hold one prediction for ten rows (a proxy that cut the answer)
    features = _fresh(23, 300)
    model = ALGORITHM.load(model_root / "model")
    short = b"".join(_capture_line(features[i : i + 10], model.predict(features[i : i + 1])) for i in (0, 10, 20))
    root = _processing_tree(tmp_path, model_root, {"a.jsonl": short + _window(model_root, features[30:])})
    # WHEN the monitor reads it
    result = _run_monitor(root)
    # THEN their rows count for feature drift, their predictions not, and the report and a metric say how many
    assert result.returncode == 0, result.stderr
    report = _report(root)
    assert report["rows"] == 300
    assert report["overall"]["prediction_rows"] == 270
    assert report["records"]["unmatched_predictions"] == 3
    assert report["records"]["valid"] == 30
    assert (
        report["problems"][0]
        == "a.jsonl:1: response of 1 x 1 predictions for 10 rows; the baseline has 1 output(s) per row"
    )
    assert _overall(result.stdout)["UnmatchedPredictions"] == 3


def test_a_multiclass_baseline_describes_each_class_probability() -> None:
    rng = np.random.default_rng(0)
    dataset = Dataset("validation", np.zeros(300), rng.normal(size=(300, 2)))
    probabilities = rng.dirichlet([1.0, 1.0, 1.0], size=300)
    document = baseline.build(dataset, probabilities)
    assert document["prediction_columns"] == ["prediction_0", "prediction_1", "prediction_2"]
    parsed = baseline.parse(json.loads(json.dumps(document)), "test")
    assert [c.name for c in parsed.features] == ["_c0", "_c1"]
    assert [c.name for c in parsed.predictions] == ["prediction_0", "prediction_1", "prediction_2"]
    assert all(sum(c.counts) == 300 for c in parsed.predictions)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"format": "other"}, 'is not a drift baseline \\(no "format": "drift-baseline"\\)'),
        ({"format": "drift-baseline", "format_version": 2}, "has format_version 2; this monitor reads 1"),
        ({"format": "drift-baseline", "format_version": 1}, "missing 'num_features'"),
    ],
)
def test_a_document_that_is_not_a_baseline_is_refused_naming_what_is_wrong(
    document: dict[str, Any], message: str
) -> None:
    with pytest.raises(UserError, match=message):
        baseline.parse(document, "drift-baseline.json")


def test_a_window_of_only_corrupt_lines_fails_the_job_with_a_reason(model_root: Path, tmp_path: Path) -> None:
    root = _processing_tree(tmp_path, model_root, {"a.jsonl": b"garbage\n{}\n"})
    result = _run_monitor(root)
    assert result.returncode == 1
    assert _message(root) == "none of the 2 captured records is readable; first: a.jsonl:1: line is not JSON"


def test_requests_of_another_feature_count_are_counted_and_fail_the_job_when_they_are_all(
    model_root: Path, tmp_path: Path
) -> None:
    wide = np.hstack([_fresh(17, 100), np.zeros((100, 1))])
    lines = b"".join(_capture_line(wide[i : i + 10], None) for i in range(0, 100, 10))
    root = _processing_tree(tmp_path / "all", model_root, {"a.jsonl": lines})
    result = _run_monitor(root)
    assert result.returncode == 1
    assert _message(root).startswith(
        "every captured request has another feature count than the baseline's 5: 6 (10 records)"
    )
    mixed = _processing_tree(tmp_path / "some", model_root, {"a.jsonl": lines + _window(model_root, _fresh(18, 300))})
    result = _run_monitor(mixed)
    assert result.returncode == 0, result.stderr
    assert _report(mixed)["records"]["mismatched"] == 10
    assert _overall(result.stdout)["MismatchedRecords"] == 10


def test_an_empty_window_reports_no_data_and_publishes_counts_only(model_root: Path, tmp_path: Path) -> None:
    """GIVEN an hour without captured requests THEN the job succeeds, RowsAnalyzed is 0 and no drift is published."""
    root = _processing_tree(tmp_path, model_root, {})
    result = _run_monitor(root)
    assert result.returncode == 0, result.stderr
    assert _report(root)["status"] == "no_data"
    overall = _overall(result.stdout)
    assert overall["RowsAnalyzed"] == 0
    assert "OverallDrift" not in overall
    assert [m["Name"] for m in overall["_aws"]["CloudWatchMetrics"][0]["Metrics"]] == [
        "RowsAnalyzed",
        "CorruptRecords",
        "MismatchedRecords",
        "UnmatchedPredictions",
    ]


def test_too_few_rows_publish_no_drift(model_root: Path, tmp_path: Path) -> None:
    shifted = _fresh(19, 50)
    shifted[:, 0] += 3
    root = _processing_tree(tmp_path, model_root, {"a.jsonl": _window(model_root, shifted)})
    result = _run_monitor(root, DRIFT_MIN_ROWS="100")
    assert result.returncode == 0
    assert _report(root)["status"] == "too_few_rows"
    assert "OverallDrift" not in _overall(result.stdout)
    assert not [r for r in _metrics(result.stdout) if "Feature" in r]


def test_without_a_namespace_nothing_is_published(model_root: Path, tmp_path: Path) -> None:
    root = _processing_tree(tmp_path, model_root, {"a.jsonl": _window(model_root, _fresh(20, 200))})
    result = _run_monitor(root, METRICS_NAMESPACE="")
    assert result.returncode == 0
    assert _metrics(result.stdout) == []


def test_a_missing_baseline_fails_the_job_naming_what_to_give(tmp_path: Path) -> None:
    (tmp_path / "processing" / interface.BASELINE_INPUT).mkdir(parents=True)
    result = _run_monitor(tmp_path)
    assert result.returncode == 1
    assert "no drift-baseline.json and no model.tar.gz" in _message(tmp_path)


def test_a_model_archive_without_a_baseline_says_to_retrain(model_root: Path, tmp_path: Path) -> None:
    directory = tmp_path / "processing" / interface.BASELINE_INPUT
    directory.mkdir(parents=True)
    with tarfile.open(directory / "model.tar.gz", "w:gz") as tar:
        tar.add(model_root / "model" / "model.txt", arcname="model.txt")
    assert _run_monitor(tmp_path).returncode == 1
    assert "retrain it" in _message(tmp_path)


# Each drift setting: bad values, and what the failure says after the variable's name.
BAD_SETTINGS = {
    "DRIFT_PSI_THRESHOLD": {
        "high": "must be a number, got 'high'",
        "0": "must be a number above 0",
        "nan": "must be a finite number",
    },
    "DRIFT_MIN_ROWS": {"0": "must be a whole number of at least 1", "2.5": "must be a whole number"},
}


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [(variable, value, message) for variable, cases in BAD_SETTINGS.items() for value, message in cases.items()],
)
def test_bad_settings_fail_the_job_naming_the_variable(
    model_root: Path, tmp_path: Path, variable: str, value: str, message: str
) -> None:
    root = _processing_tree(tmp_path, model_root, {})
    assert _run_monitor(root, **{variable: value}).returncode == 1
    assert f"{variable} {message}" in _message(root)


# -- the statistics ----------------------------------------------------------------------------------


def test_psi_is_zero_for_equal_bins_and_grows_with_the_shift() -> None:
    expected = np.full(10, 100.0)
    assert monitor.psi(expected, expected * 3) == pytest.approx(0.0)
    small = monitor.psi(expected, np.array([120, 110, 100, 100, 100, 100, 100, 100, 90, 80.0]))
    large = monitor.psi(expected, np.array([400, 300, 200, 100, 0, 0, 0, 0, 0, 0.0]))
    assert 0 < small < 0.1 < large
    assert np.isfinite(large)  # empty bins are floored, not infinite


def test_ks_is_the_largest_cdf_gap_on_the_bins() -> None:
    statistic, p_value = monitor.ks(np.array([50.0, 50.0]), np.array([100.0, 0.0]))
    assert statistic == pytest.approx(0.5)
    assert p_value < 1e-6
    assert monitor.ks(np.array([50.0, 50.0]), np.array([25.0, 25.0])) == (0.0, 1.0)


def test_counting_in_batches_gives_the_counts_of_the_whole_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """The monitor never holds a whole window: counting batch by batch must equal counting all at once."""
    rng = np.random.default_rng(1)
    data = rng.normal(size=(1000, 2))
    data[::7, 1] = np.nan
    entries = [baseline.describe_column(f"_c{j}", data[:500, j], data[:500, j]) for j in range(2)]
    document = {"format": "drift-baseline", "format_version": 1, "num_features": 2, "prediction_columns": []}
    parsed = baseline.parse(document | {"statistics": {"features": entries}}, "test")
    whole = capture.Tally(parsed.features)
    whole.add(data)
    whole.flush()
    monkeypatch.setattr(capture, "BATCH_ROWS", 64)
    batched = capture.Tally(parsed.features)
    for start in range(0, 1000, 10):
        batched.add(data[start : start + 10])
    batched.flush()
    assert batched.rows == whole.rows == 1000
    assert batched.missing.tolist() == whole.missing.tolist() == [0, 143]
    assert batched.outside.tolist() == whole.outside.tolist()
    assert [c.tolist() for c in batched.counts] == [c.tolist() for c in whole.counts]


def _same_distribution_drift(rows: int, seed: int, features: int = 30) -> dict[str, Any]:
    """The report of a `rows`-row window drawn from the distribution of a 20 000-row baseline."""
    rng = np.random.default_rng(seed)

    def draw(n: int) -> np.ndarray:
        # Normal, skewed and discrete columns, as real features are.
        columns = [rng.normal(size=n), rng.lognormal(size=n), rng.integers(0, 5, size=n).astype(float)]
        return np.column_stack([columns[j % 3] * (j + 1) for j in range(features)])

    reference = draw(20_000)
    document = baseline.build(Dataset("validation", np.zeros(len(reference)), reference), rng.uniform(size=20_000))
    parsed = baseline.parse(json.loads(json.dumps(document)), "test")
    window = capture.Window(capture.Tally(parsed.features), capture.Tally(parsed.predictions), lines=1)
    window.features.add(draw(rows))
    window.features.flush()
    target = logs.MetricsTarget(None, "e")
    settings = monitor.Settings(target, interface.DEFAULT_DRIFT_THRESHOLD, interface.DEFAULT_DRIFT_MIN_ROWS, None)
    return monitor.analyse(parsed, window, settings)


@pytest.mark.parametrize("seed", range(8))
def test_same_distribution_windows_of_the_minimum_size_stay_below_the_default_threshold(seed: int) -> None:
    # GIVEN a 30-feature baseline and a window of the default minimum size drawn from the same distribution
    report = _same_distribution_drift(interface.DEFAULT_DRIFT_MIN_ROWS, seed)
    # WHEN compared THEN the highest feature PSI (the alarm's) stays well below the default threshold: no page
    assert report["status"] == "ok"
    assert report["overall"]["drift"] < interface.DEFAULT_DRIFT_THRESHOLD / 2
    assert report["overall"]["drifted_features"] == 0


@pytest.mark.parametrize("rows", [100, interface.DEFAULT_DRIFT_MIN_ROWS, 5000])
def test_the_report_gives_the_psi_sampling_alone_explains(rows: int) -> None:
    # GIVEN same-distribution windows of several sizes WHEN compared
    reports = [_same_distribution_drift(rows, seed) for seed in range(3)]
    # (the continuous columns: a discrete one has fewer bins than the deciles give)
    entries = [entry for report in reports for j, entry in enumerate(report["features"]) if j % 3 != 2]
    # THEN each feature's psi_noise is (bins - 1)(1/n + 1/m), and the mean PSI is close to it: noise, not drift
    bins = len(baseline.DECILES) + 1
    assert all(entry["psi_noise"] == pytest.approx((bins - 1) * (1 / 20_000 + 1 / rows), rel=0.15) for entry in entries)
    mean = float(np.mean([entry["psi"] for entry in entries]))
    assert 0.5 * entries[0]["psi_noise"] < mean < 1.5 * entries[0]["psi_noise"]


# -- what the SageMaker Python SDK sends ---------------------------------------------------------------

_SDK_INPUTS: dict[str, Any] = {
    "rows": [[1.5, 2], [3, 4]],
    "rows as an array": np.array([[1.5, 2.0], [3.0, np.nan]]),
    "one row": [1.5, 2],
    "one row as an array": np.array([1.5, 2.0]),
    "instances": {"instances": [[1.5, 2], [3, 4]]},
    "a row of one feature per line": [[1.5], [2]],
}


def _sdk_bodies() -> list[tuple[str, str, bytes]]:
    """(case, Content-Type, body) of every input the SDK 3.x's feature serializers can write."""
    from sagemaker.core.serializers import (  # type: ignore[import-untyped]  # noqa: PLC0415 - only this test
        CSVSerializer,
        JSONLinesSerializer,
        JSONSerializer,
        NumpySerializer,
    )

    bodies = []
    for serializer in (CSVSerializer(), JSONSerializer(), JSONLinesSerializer(), NumpySerializer()):
        for case, data in _SDK_INPUTS.items():
            try:
                body = serializer.serialize(data)
            except (TypeError, KeyError, ValueError):
                continue  # a shape this serializer does not write
            body = body.encode() if isinstance(body, str) else body
            bodies.append((f"{type(serializer).__name__}: {case}", serializer.CONTENT_TYPE, body))
    return bodies


def _captured(content_type: str, body: bytes) -> bytes:
    part = {"observedContentType": content_type, "mode": "INPUT", "data": base64.b64encode(body).decode()}
    return json.dumps({"captureData": {"endpointInput": part | {"encoding": "BASE64"}}}).encode()


@pytest.mark.parametrize(("case", "content_type", "body"), _sdk_bodies(), ids=lambda v: v if isinstance(v, str) else "")
def test_the_monitor_reads_every_sdk_body_as_serving_does(case: str, content_type: str, body: bytes) -> None:
    # GIVEN a body an SDK serializer wrote, as serving receives it and as data capture stores it
    width = 1 if "one feature" in case else 2
    try:
        served = codecs.decode(body, codecs.input_type(content_type), width)
    except BadRequestError:
        served = None
    # WHEN the monitor reads the capture record
    try:
        read: np.ndarray | None = capture.parse_record(_captured(content_type, body), width)[0]
    except capture.RecordError:
        read = None
    # THEN it reads the rows serving reads, and refuses what serving refuses
    if served is None:
        assert read is None, case
    else:
        assert read is not None, case
        np.testing.assert_array_equal(read, served)


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
def test_a_bare_json_array_from_the_sdk_counts_as_the_request_it_is(content_type: str) -> None:
    # GIVEN JSONSerializer's default body for rows: a bare array, which serving accepts
    line = _captured(content_type, b"[[1, 2], [3, 4]]")
    # WHEN the monitor reads it THEN it holds the two rows, not a corrupt record
    features, _ = capture.parse_record(line, 2)
    assert features.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_rows_of_another_width_are_a_mismatch_and_ragged_rows_are_corrupt() -> None:
    with pytest.raises(capture.MismatchError) as mismatch:
        capture.parse_record(_captured("text/csv", b"1,2,3\n4,5,6\n"), 2)
    assert mismatch.value.width == 3
    with pytest.raises(capture.RecordError) as ragged:
        capture.parse_record(_captured("application/json", b"[[1, 2], [3]]"), 2)
    assert not isinstance(ragged.value, capture.MismatchError)


@pytest.mark.parametrize("kind", codecs.OUTPUT_TYPES)
@pytest.mark.parametrize("predictions", [np.array([0.25, 1.0, 3e-9]), np.array([[0.2, 0.8], [0.5, 0.5]])])
def test_the_monitor_reads_back_every_response_serving_writes(kind: str, predictions: np.ndarray) -> None:
    decoded = codecs.decode_predictions(codecs.encode(predictions, kind), kind)
    np.testing.assert_array_equal(decoded, predictions.reshape(len(predictions), -1))
