"""`monitor`: a SageMaker processing job comparing a window of captured requests with the model's baseline.

Processing-job contract (docs/drift.md has the full description):
  /opt/ml/processing/input/baseline/   drift-baseline.json, or the model.tar.gz that holds it
  /opt/ml/processing/input/capture/    the window's data-capture files (JSON Lines, any sub-folders)
  /opt/ml/processing/output/           drift-report.json and constraint_violations.json (uploaded to S3)
  /opt/ml/output/message               on failure: one line, DescribeProcessingJob's ExitMessage
Exit 0 when the window was analysed (also when it was empty), 1 when it could not be (no baseline,
nothing readable, every request of another feature count). CloudWatch metrics go to stdout in embedded
metric format when METRICS_NAMESPACE is set, per feature and overall, by EndpointName.

Outcomes of imperfect windows: an unreadable line (not JSON, not a capture record, a payload that is not
numbers) is skipped and counted (`CorruptRecords`); a request with another feature count than the
baseline is skipped and counted (`MismatchedRecords`); a response whose predictions do not pair with its
request's rows (another count of predictions than rows, or another number of outputs than the baseline's)
leaves its request counted without predictions and is counted (`UnmatchedPredictions`); a window with
fewer than DRIFT_MIN_ROWS rows gets a report and counts but no drift metrics, so a quiet hour neither
alarms nor hides an earlier alarm.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from scipy import stats  # type: ignore[import-untyped]

from sagemaker_contract import baseline as baselines
from sagemaker_contract.errors import UserError
from sagemaker_contract.failure import write_failure
from sagemaker_contract.interface import METRICS_ENDPOINT_NAME as METRICS_ENDPOINT_VARIABLE
from sagemaker_contract.interface import METRICS_NAMESPACE as METRICS_NAMESPACE_VARIABLE
from sagemaker_contract.paths import OptMl
from sagemaker_contract.protocol import Matrix

# Local paths of the processing job's inputs and output, under /opt/ml/processing.
PROCESSING_DIR = "processing"
BASELINE_INPUT = "input/baseline"
CAPTURE_INPUT = "input/capture"
OUTPUT = "output"
REPORT_FILE = "drift-report.json"
VIOLATIONS_FILE = "constraint_violations.json"
REPORT_FORMAT_VERSION = 1
# Environment of the job (all optional).
THRESHOLD_VARIABLE = "DRIFT_PSI_THRESHOLD"
MIN_ROWS_VARIABLE = "DRIFT_MIN_ROWS"
WINDOW_VARIABLE = "DRIFT_WINDOW"
DEFAULT_THRESHOLD = 0.2
# At 500 rows two samples of one distribution differ by a PSI of about 0.02 per feature (docs/drift.md).
DEFAULT_MIN_ROWS = 500
# Bin fractions are floored at this before the logarithm of the PSI, so an empty bin counts as rare, not infinite.
PSI_FLOOR = 1e-4
PROBLEMS_KEPT = 20
BATCH_ROWS = 65_536
# Metric names (docs/drift.md); per feature by EndpointName+Feature, overall by EndpointName.
FEATURE_METRICS = {"FeatureDrift": "None", "FeatureKSStatistic": "None", "MissingRate": "Percent",
                   "OutOfRangeRate": "Percent"}  # fmt: skip
OVERALL_METRICS = {"OverallDrift": "None", "PredictionDrift": "None", "DriftedFeatures": "Count",
                   "MissingRateMax": "Percent", "OutOfRangeRateMax": "Percent", "RowsAnalyzed": "Count",
                   "CorruptRecords": "Count", "MismatchedRecords": "Count",
                   "UnmatchedPredictions": "Count"}  # fmt: skip
EXIT_FAILURE = 1

CSV_TYPES = frozenset({"text/csv", "text/x-csv"})
JSON_TYPES = frozenset({"application/json"})
JSONLINES_TYPES = frozenset({"application/jsonlines", "application/x-jsonlines", "application/jsonl"})
NPY_TYPES = frozenset({"application/x-npy"})


class RecordError(Exception):
    """A captured line the monitor cannot use; the message names the problem, never payload values."""


@dataclass(frozen=True)
class Settings:
    namespace: str | None
    endpoint_name: str
    threshold: float
    min_rows: int
    window: str | None

    @classmethod
    def from_environment(cls, environ: dict[str, str]) -> Settings:
        threshold = _number(environ, THRESHOLD_VARIABLE, DEFAULT_THRESHOLD)
        min_rows = _number(environ, MIN_ROWS_VARIABLE, DEFAULT_MIN_ROWS)
        if not threshold > 0:
            raise UserError(f"{THRESHOLD_VARIABLE} must be a number above 0, got {environ[THRESHOLD_VARIABLE]!r}")
        if min_rows < 1 or min_rows != int(min_rows):
            raise UserError(
                f"{MIN_ROWS_VARIABLE} must be a whole number of at least 1, got {environ[MIN_ROWS_VARIABLE]!r}"
            )
        return cls(
            namespace=environ.get(METRICS_NAMESPACE_VARIABLE) or None,
            endpoint_name=environ.get(METRICS_ENDPOINT_VARIABLE) or "unknown",
            threshold=threshold,
            min_rows=int(min_rows),
            window=environ.get(WINDOW_VARIABLE) or None,
        )


def _number(environ: dict[str, str], name: str, default: float) -> float:
    text = environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{name} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise UserError(f"{name} must be a finite number, got {text!r}")
    return value


def _media_type(value: Any) -> str:
    return str(value or "").split(";", 1)[0].strip().lower()


def _payload(part: Any, what: str) -> tuple[str, bytes]:
    """(media type, bytes) of captureData.endpointInput or endpointOutput."""
    if not isinstance(part, dict) or "data" not in part:
        raise RecordError(f"captureData.{what} has no data")
    data, encoding = part["data"], str(part.get("encoding", "")).upper()
    if not isinstance(data, str):
        raise RecordError(f"captureData.{what}.data is not a string")
    if encoding == "BASE64":
        try:
            return _media_type(part.get("observedContentType")), base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise RecordError(f"captureData.{what}.data is not valid base64") from None
    if encoding in {"CSV", "JSON"}:
        return _media_type(part.get("observedContentType")), data.encode()
    raise RecordError(f"captureData.{what}.encoding {encoding or 'missing'!r} is not CSV, JSON or BASE64")


def _csv_rows(body: bytes) -> Matrix:
    try:
        lines = [line for line in body.decode("utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError:
        raise RecordError("CSV payload is not UTF-8") from None
    rows = []
    for line in lines:
        try:
            rows.append([float(cell) if cell.strip() else math.nan for cell in line.split(",")])
        except ValueError:
            raise RecordError("CSV payload holds a value that is not a number") from None
    return _matrix(rows)


def _matrix(rows: Any) -> Matrix:
    if not isinstance(rows, list) or not rows:
        raise RecordError("payload has no rows")
    try:
        matrix = np.array(rows, dtype=np.float64)
    except (ValueError, TypeError):
        raise RecordError("payload rows are not all lists of numbers of the same length") from None
    if matrix.ndim == 1:
        matrix = matrix.reshape(-1, 1) if not isinstance(rows[0], list) else matrix.reshape(1, -1)
    if matrix.ndim != 2:
        raise RecordError("payload rows are not flat lists of numbers")
    return matrix


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise RecordError("JSON payload is malformed") from None


def _jsonlines(body: bytes, key: str) -> list[Any]:
    items = []
    for line in body.splitlines():
        if line.strip():
            item = _json(line)
            items.append(item[key] if isinstance(item, dict) and key in item else item)
    return items


def decode_features(kind: str, body: bytes) -> Matrix:
    """Rows x features of a captured request body (the formats serving accepts); NaN marks a missing value."""
    if kind in CSV_TYPES:
        return _csv_rows(body)
    if kind in JSON_TYPES:
        document = _json(body)
        if not isinstance(document, dict) or "instances" not in document:
            raise RecordError('JSON payload is not {"instances": [[...], ...]}')
        return _matrix(document["instances"])
    if kind in JSONLINES_TYPES:
        rows = _jsonlines(body, "features")
        if not all(isinstance(row, list) for row in rows):
            raise RecordError('JSON Lines payload rows are not [number, ...] or {"features": [...]}')
        return _matrix(rows)
    if kind in NPY_TYPES:
        try:
            array = np.load(io.BytesIO(body), allow_pickle=False)
        except (ValueError, OSError, EOFError):
            raise RecordError("npy payload is not a .npy array") from None
        if array.dtype.kind not in "biuf" or array.ndim not in (1, 2):
            raise RecordError("npy payload is not a 1-D or 2-D array of numbers")
        return np.asarray(array, dtype=np.float64).reshape(1, -1) if array.ndim == 1 else np.asarray(array, np.float64)
    raise RecordError(f"content type {kind or 'missing'!r} is not one the monitor reads")


def decode_predictions(kind: str, body: bytes) -> Matrix:
    """Rows x outputs of a captured response body (CSV, JSON {"predictions": ...} or JSON Lines)."""
    if kind in CSV_TYPES:
        return _csv_rows(body)
    if kind in JSON_TYPES:
        document = _json(body)
        if not isinstance(document, dict) or "predictions" not in document:
            raise RecordError('response is not {"predictions": [...]}')
        return _matrix(document["predictions"])
    if kind in JSONLINES_TYPES:
        return _matrix(_jsonlines(body, "prediction"))
    raise RecordError(f"response content type {kind or 'missing'!r} is not one the monitor reads")


def parse_record(line: bytes) -> tuple[Matrix, Matrix | None]:
    """(features, predictions or None) of one data-capture line; `RecordError` when it is unusable.

    The predictions are as the response held them: whether they pair with the rows is the caller's to check.
    """
    record = _json(line)
    capture = record.get("captureData") if isinstance(record, dict) else None
    if not isinstance(capture, dict) or "endpointInput" not in capture:
        raise RecordError("line is not a data-capture record (no captureData.endpointInput)")
    features = decode_features(*_payload(capture["endpointInput"], "endpointInput"))
    predictions = None
    if "endpointOutput" in capture:
        try:
            predictions = decode_predictions(*_payload(capture["endpointOutput"], "endpointOutput"))
        except RecordError:
            predictions = None  # e.g. an error answer: the request still tells about the inputs
    return features, predictions


class Tally:
    """Per-column counts of a window's values against baseline columns, added batch by batch.

    Memory stays proportional to the columns, not to the window: rows are buffered up to BATCH_ROWS, then
    counted (missing, outside the baseline's range, per baseline bin) and dropped.
    """

    def __init__(self, columns: tuple[baselines.Column, ...]) -> None:
        self.columns = columns
        self.rows = 0
        self.missing = np.zeros(len(columns), dtype=np.int64)
        self.outside = np.zeros(len(columns), dtype=np.int64)
        self.counts = [np.zeros(len(c.counts) or 1, dtype=np.int64) for c in columns]
        self._pending: list[Matrix] = []
        self._pending_rows = 0

    def add(self, matrix: Matrix) -> None:
        self._pending.append(matrix)
        self._pending_rows += int(matrix.shape[0])
        if self._pending_rows >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        batch = np.concatenate(self._pending)
        self._pending, self._pending_rows = [], 0
        self.rows += int(batch.shape[0])
        for j, column in enumerate(self.columns):
            values = batch[:, j]
            present = values[~np.isnan(values)]
            self.missing[j] += values.size - present.size
            if column.minimum is None or column.maximum is None:  # every baseline value was missing
                self.outside[j] += present.size
            else:
                self.outside[j] += np.count_nonzero((present < column.minimum) | (present > column.maximum))
            bins = np.searchsorted(np.asarray(column.edges), present, side="left")
            self.counts[j] += np.bincount(bins, minlength=self.counts[j].size)[: self.counts[j].size]


@dataclass
class Window:
    """What the capture files of one window held."""

    features: Tally
    predictions: Tally
    files: int = 0
    lines: int = 0
    corrupt: int = 0
    mismatched: int = 0
    # Responses whose predictions do not pair with their request's rows: the request counts, its predictions not.
    unmatched_predictions: int = 0
    widths: dict[int, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def note(self, problem: str) -> None:
        if len(self.problems) < PROBLEMS_KEPT:
            self.problems.append(problem)

    @property
    def valid(self) -> int:
        return self.lines - self.corrupt - self.mismatched


def _capture_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(
        p
        for p in directory.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )


def read_window(directory: Path, baseline: baselines.Baseline) -> Window:
    window = Window(Tally(baseline.features), Tally(baseline.predictions))
    num_features, num_outputs = baseline.num_features, len(baseline.predictions)
    for path in _capture_files(directory):
        window.files += 1
        with path.open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                window.lines += 1
                where = f"{path.relative_to(directory)}:{number}"
                try:
                    features, predictions = parse_record(line)
                except RecordError as error:
                    window.corrupt += 1
                    window.note(f"{where}: {error}")
                    continue
                width = int(features.shape[1])
                if width != num_features:
                    window.mismatched += 1
                    window.widths[width] = window.widths.get(width, 0) + 1
                    window.note(f"{where}: {width} features, the baseline has {num_features}")
                    continue
                window.features.add(features)
                if predictions is None:
                    continue
                if predictions.shape != (features.shape[0], num_outputs):
                    window.unmatched_predictions += 1
                    window.note(
                        f"{where}: response of {predictions.shape[0]} x {predictions.shape[1]} predictions for "
                        f"{features.shape[0]} rows; the baseline has {num_outputs} output(s) per row"
                    )
                    continue
                window.predictions.add(predictions)
    window.features.flush()
    window.predictions.flush()
    return window


def psi(expected: np.ndarray[Any, Any], actual: np.ndarray[Any, Any]) -> float:
    """Population stability index of bin counts `actual` against `expected` (fractions floored at PSI_FLOOR)."""
    e = np.maximum(expected / max(expected.sum(), 1), PSI_FLOOR)
    a = np.maximum(actual / max(actual.sum(), 1), PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def ks(expected: np.ndarray[Any, Any], actual: np.ndarray[Any, Any]) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic on the baseline's bins, and its asymptotic p-value.

    The CDFs are compared at the baseline's bin edges only, so the statistic is a lower bound of the exact one
    (it never reports more drift than there is); p from the Kolmogorov distribution with n·m/(n+m) rows.
    """
    n, m = float(expected.sum()), float(actual.sum())
    if n == 0 or m == 0:
        return 0.0, 1.0
    distance = float(np.max(np.abs(np.cumsum(expected) / n - np.cumsum(actual) / m)))
    return distance, float(stats.kstwobign.sf(distance * math.sqrt(n * m / (n + m))))


def psi_noise(expected: np.ndarray[Any, Any], actual: np.ndarray[Any, Any]) -> float:
    """The PSI expected with no drift at these sample sizes: (bins - 1) x (1/n + 1/m) (a chi-square's mean)."""
    n, m = float(expected.sum()), float(actual.sum())
    return (expected.size - 1) * (1 / n + 1 / m)


def compare(tally: Tally, j: int) -> dict[str, Any]:
    """Drift of the window's column `j` against its baseline column."""
    column, rows = tally.columns[j], tally.rows
    missing, outside = int(tally.missing[j]), int(tally.outside[j])
    present = rows - missing
    result: dict[str, Any] = {
        "name": column.name,
        "rows": rows,
        "missing_rate": _rate(missing, rows),
        "baseline_missing_rate": column.missing_rate,
        "out_of_range_rate": _rate(outside, present),
    }
    expected = np.asarray(column.counts, dtype=np.float64)
    if expected.sum() == 0 or present == 0:
        return result | {"psi": None, "psi_noise": None, "ks_statistic": None, "ks_p_value": None}
    actual = tally.counts[j].astype(np.float64)
    statistic, p_value = ks(expected, actual)
    return result | {
        "psi": psi(expected, actual),
        "psi_noise": psi_noise(expected, actual),
        "ks_statistic": statistic,
        "ks_p_value": p_value,
    }


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def analyse(baseline: baselines.Baseline, window: Window, settings: Settings) -> dict[str, Any]:
    """The report document (docs/drift.md, "The report")."""
    rows = window.features.rows
    report: dict[str, Any] = {
        "format": "drift-report",
        "format_version": REPORT_FORMAT_VERSION,
        "endpoint_name": settings.endpoint_name,
        "window": settings.window,
        "baseline_channel": baseline.channel,
        "threshold": settings.threshold,
        "min_rows": settings.min_rows,
        "records": {
            "files": window.files,
            "lines": window.lines,
            "valid": window.valid,
            "corrupt": window.corrupt,
            "mismatched": window.mismatched,
            "unmatched_predictions": window.unmatched_predictions,
        },
        "rows": rows,
        "problems": window.problems,
    }
    if window.lines == 0:
        return report | {"status": "no_data", "features": [], "predictions": [], "overall": None}
    compared = [compare(window.features, j) for j in range(len(baseline.features))]
    for entry in compared:
        entry["drifted"] = entry["psi"] is not None and entry["psi"] > settings.threshold
    outputs = (
        [compare(window.predictions, j) for j in range(len(baseline.predictions))] if window.predictions.rows else []
    )
    drifts = [e["psi"] for e in compared if e["psi"] is not None]
    prediction_drifts = [e["psi"] for e in outputs if e["psi"] is not None]
    overall = {
        "drift": max(drifts, default=0.0),
        "most_drifted_feature": max(compared, key=lambda e: e["psi"] or 0.0)["name"] if drifts else None,
        "prediction_drift": max(prediction_drifts) if prediction_drifts else None,
        "drifted_features": sum(e["drifted"] for e in compared),
        "missing_rate_max": max((e["missing_rate"] for e in compared), default=0.0),
        "out_of_range_rate_max": max((e["out_of_range_rate"] for e in compared), default=0.0),
        "prediction_rows": window.predictions.rows,
    }
    status = "ok" if rows >= settings.min_rows else "too_few_rows"
    if status == "ok":
        status = "drift" if overall["drift"] > settings.threshold else "ok"
    return report | {"status": status, "features": compared, "predictions": outputs, "overall": overall}


def violations(report: dict[str, Any]) -> dict[str, Any]:
    """Model Monitor's constraint_violations.json shape: one baseline_drift_check per drifted feature."""
    found = []
    if report["status"] == "drift":
        for entry in report["features"]:
            if entry["drifted"]:
                found.append(
                    {
                        "feature_name": entry["name"],
                        "constraint_check_type": "baseline_drift_check",
                        "description": f"population stability index {entry['psi']:.4f} exceeds the threshold "
                        f"{report['threshold']:g} (KS statistic {entry['ks_statistic']:.4f})",
                    }
                )
    return {"violations": found}


def metric_records(report: dict[str, Any], settings: Settings, timestamp_ms: int) -> list[dict[str, Any]]:
    """EMF records: counts always; drift, missing and out-of-range rates only once the window has min_rows."""
    if settings.namespace is None:
        return []

    def record(dimensions: list[str], values: dict[str, float], units: dict[str, str], **keys: str) -> dict[str, Any]:
        directive = {
            "Namespace": settings.namespace,
            "Dimensions": [dimensions],
            "Metrics": [{"Name": name, "Unit": units[name]} for name in values],
        }
        return {"_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": [directive]}, **keys, **values}

    counts = report["records"]
    overall_values: dict[str, float] = {
        "RowsAnalyzed": report["rows"],
        "CorruptRecords": counts["corrupt"],
        "MismatchedRecords": counts["mismatched"],
        "UnmatchedPredictions": counts["unmatched_predictions"],
    }
    records = []
    endpoint = {"EndpointName": settings.endpoint_name}
    if report["status"] in {"ok", "drift"}:
        overall = report["overall"]
        overall_values |= {
            "OverallDrift": overall["drift"],
            "DriftedFeatures": overall["drifted_features"],
            "MissingRateMax": 100 * overall["missing_rate_max"],
            "OutOfRangeRateMax": 100 * overall["out_of_range_rate_max"],
        }
        if overall["prediction_drift"] is not None:
            overall_values["PredictionDrift"] = overall["prediction_drift"]
        for entry in report["features"]:
            values: dict[str, float] = {
                "MissingRate": 100 * entry["missing_rate"],
                "OutOfRangeRate": 100 * entry["out_of_range_rate"],
            }
            if entry["psi"] is not None:
                values |= {"FeatureDrift": entry["psi"], "FeatureKSStatistic": entry["ks_statistic"]}
            records.append(
                record(["EndpointName", "Feature"], values, FEATURE_METRICS, **endpoint, Feature=entry["name"])
            )
    return [record(["EndpointName"], overall_values, OVERALL_METRICS, **endpoint), *records]


def _check_usable(window: Window, num_features: int) -> None:
    """A window with lines but nothing usable fails the job: its cause is a bug or another model, not drift."""
    if window.lines == 0 or window.valid > 0:
        return
    if window.mismatched:
        widths = ", ".join(f"{w} ({n} records)" for w, n in sorted(window.widths.items()))
        raise UserError(
            f"every captured request has another feature count than the baseline's {num_features}: {widths}; "
            "the endpoint serves another model than the baseline's (monitor the pinned model's artifact)"
        )
    raise UserError(f"none of the {window.lines} captured records is readable; first: {window.problems[0]}")


def write_message(paths: OptMl, message: str) -> None:
    """The processing job's failure: one line in /opt/ml/output/message (DescribeProcessingJob's ExitMessage)."""
    write_failure(paths.output / "message", message, job="monitor")


def run(paths: OptMl, environ: dict[str, str] | None = None) -> int:
    """The whole processing job; returns the exit code."""
    processing = paths.root / PROCESSING_DIR
    try:
        settings = Settings.from_environment(dict(os.environ) if environ is None else environ)
        baseline = baselines.read(processing / BASELINE_INPUT)
        window = read_window(processing / CAPTURE_INPUT, baseline)
        _check_usable(window, baseline.num_features)
        report = analyse(baseline, window, settings)
        output = processing / OUTPUT
        output.mkdir(parents=True, exist_ok=True)
        (output / REPORT_FILE).write_text(json.dumps(report, indent=1, sort_keys=True, allow_nan=False) + "\n")
        (output / VIOLATIONS_FILE).write_text(json.dumps(violations(report), indent=1) + "\n")
        for record in metric_records(report, settings, int(time.time() * 1000)):
            sys.stdout.write(json.dumps(record, allow_nan=False) + "\n")
        summary = report["overall"] or {}
        print(
            f"drift: status={report['status']} rows={report['rows']} lines={window.lines} corrupt={window.corrupt} "
            f"mismatched={window.mismatched} unmatched_predictions={window.unmatched_predictions} "
            f"drift={summary.get('drift')} "
            f"most_drifted={summary.get('most_drifted_feature')}",
            flush=True,
        )
    except UserError as error:
        write_message(paths, str(error))
        return EXIT_FAILURE
    except Exception as error:
        traceback.print_exc()
        write_message(paths, f"internal error: {type(error).__name__}: {error}")
        return EXIT_FAILURE
    return 0
