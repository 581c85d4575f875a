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

import json
import math
import os
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np
from hyperschema import finite_number
from scipy import stats  # type: ignore[import-untyped]

from sagemaker_contract import baseline as baselines
from sagemaker_contract.capture import Tally, Window, read_window
from sagemaker_contract.errors import UserError
from sagemaker_contract.failure import write_failure
from sagemaker_contract.interface import (
    BASELINE_INPUT,
    CAPTURE_INPUT,
    DEFAULT_DRIFT_MIN_ROWS,
    DEFAULT_DRIFT_THRESHOLD,
    DIMENSION_ENDPOINT,
    DIMENSION_FEATURE,
    DRIFT_FEATURE_METRICS,
    DRIFT_MIN_ROWS,
    DRIFT_OVERALL_METRICS,
    DRIFT_THRESHOLD,
    DRIFT_WINDOW,
    PROCESSING_DIR,
    PROCESSING_OUTPUT,
)
from sagemaker_contract.interface import METRIC_CORRUPT_RECORDS as CORRUPT
from sagemaker_contract.interface import METRIC_DRIFTED_FEATURES as DRIFTED
from sagemaker_contract.interface import METRIC_FEATURE_DRIFT as FEATURE_DRIFT
from sagemaker_contract.interface import METRIC_FEATURE_KS as FEATURE_KS
from sagemaker_contract.interface import METRIC_MISMATCHED_RECORDS as MISMATCHED
from sagemaker_contract.interface import METRIC_MISSING_RATE as MISSING_RATE
from sagemaker_contract.interface import METRIC_MISSING_RATE_MAX as MISSING_RATE_MAX
from sagemaker_contract.interface import METRIC_OUT_OF_RANGE_RATE as OUT_OF_RANGE_RATE
from sagemaker_contract.interface import METRIC_OUT_OF_RANGE_RATE_MAX as OUT_OF_RANGE_RATE_MAX
from sagemaker_contract.interface import METRIC_OVERALL_DRIFT as OVERALL_DRIFT
from sagemaker_contract.interface import METRIC_PREDICTION_DRIFT as PREDICTION_DRIFT
from sagemaker_contract.interface import METRIC_ROWS_ANALYZED as ROWS_ANALYZED
from sagemaker_contract.interface import METRIC_UNMATCHED_PREDICTIONS as UNMATCHED
from sagemaker_contract.logs import MetricsTarget
from sagemaker_contract.paths import OptMl

REPORT_FILE = "drift-report.json"
VIOLATIONS_FILE = "constraint_violations.json"
REPORT_FORMAT_VERSION = 1
# Bin fractions are floored at this before the logarithm of the PSI, so an empty bin counts as rare, not infinite.
PSI_FLOOR = 1e-4
OVERALL_METRICS = {"OverallDrift": "None", "PredictionDrift": "None", "DriftedFeatures": "Count",
                   "MissingRateMax": "Percent", "OutOfRangeRateMax": "Percent", "RowsAnalyzed": "Count",
                   "CorruptRecords": "Count", "MismatchedRecords": "Count",
                   "UnmatchedPredictions": "Count"}  # fmt: skip
EXIT_FAILURE = 1


@dataclass(frozen=True)
class Settings:
    metrics: MetricsTarget
    threshold: float
    min_rows: int
    window: str | None

    @classmethod
    def from_environment(cls, environ: dict[str, str]) -> Settings:
        threshold = _number(environ, DRIFT_THRESHOLD, DEFAULT_DRIFT_THRESHOLD)
        min_rows = _number(environ, DRIFT_MIN_ROWS, DEFAULT_DRIFT_MIN_ROWS)
        if not threshold > 0:
            raise UserError(f"{DRIFT_THRESHOLD} must be a number above 0, got {environ[DRIFT_THRESHOLD]!r}")
        if min_rows < 1 or min_rows != int(min_rows):
            raise UserError(f"{DRIFT_MIN_ROWS} must be a whole number of at least 1, got {environ[DRIFT_MIN_ROWS]!r}")
        return cls(
            metrics=MetricsTarget.from_environment(environ),
            threshold=threshold,
            min_rows=int(min_rows),
            window=environ.get(DRIFT_WINDOW) or None,
        )


def _number(environ: dict[str, str], name: str, default: float) -> float:
    text = environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        return finite_number(name, text, text)
    except ValueError as error:
        raise UserError(str(error)) from None


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
        "endpoint_name": settings.metrics.endpoint_name,
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
    if settings.metrics.namespace is None:
        return []

    def record(dimensions: list[str], values: dict[str, float], units: dict[str, str], **keys: str) -> dict[str, Any]:
        directive = {
            "Namespace": settings.metrics.namespace,
            "Dimensions": [dimensions],
            "Metrics": [{"Name": name, "Unit": units[name]} for name in values],
        }
        return {"_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": [directive]}, **keys, **values}

    counts = report["records"]
    overall_values: dict[str, float] = {
        ROWS_ANALYZED: report["rows"],
        CORRUPT: counts["corrupt"],
        MISMATCHED: counts["mismatched"],
        UNMATCHED: counts["unmatched_predictions"],
    }
    records = []
    endpoint = {DIMENSION_ENDPOINT: settings.metrics.endpoint_name}
    if report["status"] in {"ok", "drift"}:
        overall = report["overall"]
        overall_values |= {
            OVERALL_DRIFT: overall["drift"],
            DRIFTED: overall["drifted_features"],
            MISSING_RATE_MAX: 100 * overall["missing_rate_max"],
            OUT_OF_RANGE_RATE_MAX: 100 * overall["out_of_range_rate_max"],
        }
        if overall["prediction_drift"] is not None:
            overall_values[PREDICTION_DRIFT] = overall["prediction_drift"]
        for entry in report["features"]:
            values: dict[str, float] = {
                MISSING_RATE: 100 * entry["missing_rate"],
                OUT_OF_RANGE_RATE: 100 * entry["out_of_range_rate"],
            }
            if entry["psi"] is not None:
                values |= {FEATURE_DRIFT: entry["psi"], FEATURE_KS: entry["ks_statistic"]}
            records.append(
                record(
                    [DIMENSION_ENDPOINT, DIMENSION_FEATURE],
                    values,
                    DRIFT_FEATURE_METRICS,
                    **endpoint,
                    **{DIMENSION_FEATURE: entry["name"]},
                )
            )
    return [record([DIMENSION_ENDPOINT], overall_values, DRIFT_OVERALL_METRICS, **endpoint), *records]


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
        output = processing / PROCESSING_OUTPUT
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
