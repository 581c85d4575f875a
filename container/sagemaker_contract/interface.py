"""What the container exports to the app: variable names, metric names, limits and file names, written once.

The container's code reads these names from here; `python container/entrypoint.py export` writes the same
values to container/interface.json with the other exports (sagemaker_contract/exports.py); the app's
`config/contract.py` reads that file, since the app must not import the container.
"""

from __future__ import annotations

import json
from typing import Any

# Environment variables SageMaker (or the app) sets for `serve`.
BIND_TO_PORT = "SAGEMAKER_BIND_TO_PORT"
MAX_PAYLOAD_MB = "SAGEMAKER_MAX_PAYLOAD_IN_MB"
SERVER_TIMEOUT = "SAGEMAKER_MODEL_SERVER_TIMEOUT"
SERVER_WORKERS = "SAGEMAKER_MODEL_SERVER_WORKERS"
METRICS_NAMESPACE = "METRICS_NAMESPACE"
METRICS_ENDPOINT_NAME = "METRICS_ENDPOINT_NAME"
METRICS_MODEL_VERSION = "METRICS_MODEL_VERSION"
# How long a serving worker holding more connections than another lets a new one wait for the other
# (sagemaker_contract/balance.py: default and limits).
SERVER_ACCEPT_DEFER_MILLISECONDS = "SERVER_ACCEPT_DEFER_MILLISECONDS"
# How much each serving worker logs per interval (sagemaker_contract/request_log.py: defaults and limits).
REQUEST_LOG_INTERVAL_SECONDS = "REQUEST_LOG_INTERVAL_SECONDS"
REQUEST_LOG_SUCCESSES = "REQUEST_LOG_SUCCESSES"
REQUEST_LOG_ERRORS = "REQUEST_LOG_ERRORS"
# The `module:attribute` of the algorithm the image runs (sagemaker_contract/seam.py).
ALGORITHM_MODULE = "ALGORITHM_MODULE"

# Files. The exports (INTERFACE_FILE, ALGORITHM_FILE, ...) sit in container/, beside the entry point.
INTERFACE_FILE = "interface.json"
ALGORITHM_FILE = "algorithm.json"
FAILURE_FILE = "failure"
HYPERPARAMETERS_FILE = "hyperparameters.json"
METADATA_FILE = "metadata.json"
METRIC_DEFINITIONS_FILE = "metric_definitions.json"

# Limits: the largest body SageMaker sends (an asynchronous request's 1 GB); batch transform's MaxPayloadInMB
# maximum; the longest request timeout the server accepts.
MAX_PAYLOAD_MB_LIMIT = 1024
BATCH_MAX_PAYLOAD_MB = 100
# What decoding a body costs in memory, per byte of body: the body itself, and decoding CSV (the costliest type,
# strings split per value, then float64) measured at 8.2 bytes per byte of body, JSON at 2.3 (tracemalloc, 20
# features). The server lowers SAGEMAKER_MAX_PAYLOAD_IN_MB so that one body per worker fits in half its memory.
DECODE_BYTES_PER_BODY_BYTE = 10
MEMORY_SHARE_FOR_BODIES = 0.5
MAX_SERVER_TIMEOUT_SECONDS = 3600

# The embedded-metric-format metrics of /invocations requests, summed per worker and interval (every one a Count).
METRIC_REQUESTS = "Requests"
METRIC_ROWS = "RequestRows"
METRIC_CLIENT_ERRORS = "ClientErrors"
METRIC_MODEL_ERRORS = "ModelErrors"
METRIC_SERVER_ERRORS = "ServerErrors"
DIMENSION_ENDPOINT = "EndpointName"
DIMENSION_MODEL_VERSION = "ModelVersion"
DIMENSIONS = ((DIMENSION_ENDPOINT,), (DIMENSION_ENDPOINT, DIMENSION_MODEL_VERSION))
UNKNOWN = "unknown"  # the dimension value when its variable is unset

# The drift check (`monitor`, a processing job; docs/drift.md): its argument, inputs and output under
# /opt/ml/processing, its variables and their defaults, and the metrics it publishes (name: unit).
MONITOR_ARGUMENT = "monitor"
PROCESSING_DIR = "processing"
BASELINE_INPUT = "input/baseline"
CAPTURE_INPUT = "input/capture"
PROCESSING_OUTPUT = "output"
DRIFT_THRESHOLD = "DRIFT_PSI_THRESHOLD"
DRIFT_MIN_ROWS = "DRIFT_MIN_ROWS"
DRIFT_WINDOW = "DRIFT_WINDOW"
DEFAULT_DRIFT_THRESHOLD = 0.2
# At 500 rows two samples of one distribution differ by a PSI of about 0.02 per feature (docs/drift.md).
DEFAULT_DRIFT_MIN_ROWS = 500
DIMENSION_FEATURE = "Feature"
METRIC_FEATURE_DRIFT = "FeatureDrift"
METRIC_FEATURE_KS = "FeatureKSStatistic"
METRIC_MISSING_RATE = "MissingRate"
METRIC_OUT_OF_RANGE_RATE = "OutOfRangeRate"
METRIC_OVERALL_DRIFT = "OverallDrift"
METRIC_PREDICTION_DRIFT = "PredictionDrift"
METRIC_DRIFTED_FEATURES = "DriftedFeatures"
METRIC_MISSING_RATE_MAX = "MissingRateMax"
METRIC_OUT_OF_RANGE_RATE_MAX = "OutOfRangeRateMax"
METRIC_ROWS_ANALYZED = "RowsAnalyzed"
METRIC_CORRUPT_RECORDS = "CorruptRecords"
METRIC_MISMATCHED_RECORDS = "MismatchedRecords"
METRIC_UNMATCHED_PREDICTIONS = "UnmatchedPredictions"
# Per feature by EndpointName+Feature, overall by EndpointName.
DRIFT_FEATURE_METRICS = {METRIC_FEATURE_DRIFT: "None", METRIC_FEATURE_KS: "None", METRIC_MISSING_RATE: "Percent",
                         METRIC_OUT_OF_RANGE_RATE: "Percent"}  # fmt: skip
DRIFT_OVERALL_METRICS = {METRIC_OVERALL_DRIFT: "None", METRIC_PREDICTION_DRIFT: "None",
                         METRIC_DRIFTED_FEATURES: "Count", METRIC_MISSING_RATE_MAX: "Percent",
                         METRIC_OUT_OF_RANGE_RATE_MAX: "Percent", METRIC_ROWS_ANALYZED: "Count",
                         METRIC_CORRUPT_RECORDS: "Count", METRIC_MISMATCHED_RECORDS: "Count",
                         METRIC_UNMATCHED_PREDICTIONS: "Count"}  # fmt: skip


def _drift() -> dict[str, Any]:
    # Both import this module (through paths), and the baseline loads numpy, which serving needs no sooner.
    from sagemaker_contract.baseline import DECILES  # noqa: PLC0415
    from sagemaker_contract.paths import DEFAULT_OPT_ML  # noqa: PLC0415

    processing = f"{DEFAULT_OPT_ML}/{PROCESSING_DIR}"
    return {
        "argument": MONITOR_ARGUMENT,
        "bins": len(DECILES) + 1,
        "defaults": {"min_rows": DEFAULT_DRIFT_MIN_ROWS, "psi_threshold": DEFAULT_DRIFT_THRESHOLD},
        "environment": {"min_rows": DRIFT_MIN_ROWS, "psi_threshold": DRIFT_THRESHOLD, "window": DRIFT_WINDOW},
        "dimensions": {"endpoint": DIMENSION_ENDPOINT, "feature": DIMENSION_FEATURE},
        "metrics": {
            "corrupt_records": METRIC_CORRUPT_RECORDS,
            "feature_drift": METRIC_FEATURE_DRIFT,
            "feature_ks_statistic": METRIC_FEATURE_KS,
            "drifted_features": METRIC_DRIFTED_FEATURES,
            "mismatched_records": METRIC_MISMATCHED_RECORDS,
            "missing_rate": METRIC_MISSING_RATE,
            "missing_rate_max": METRIC_MISSING_RATE_MAX,
            "out_of_range_rate": METRIC_OUT_OF_RANGE_RATE,
            "out_of_range_rate_max": METRIC_OUT_OF_RANGE_RATE_MAX,
            "overall_drift": METRIC_OVERALL_DRIFT,
            "prediction_drift": METRIC_PREDICTION_DRIFT,
            "rows_analyzed": METRIC_ROWS_ANALYZED,
            "unmatched_predictions": METRIC_UNMATCHED_PREDICTIONS,
        },
        "paths": {
            "baseline": f"{processing}/{BASELINE_INPUT}",
            "capture": f"{processing}/{CAPTURE_INPUT}",
            "output": f"{processing}/{PROCESSING_OUTPUT}",
        },
    }


def document() -> dict[str, Any]:
    """The content of container/interface.json."""
    return {
        "environment": {
            "algorithm_module": ALGORITHM_MODULE,
            "bind_to_port": BIND_TO_PORT,
            "max_payload_mb": MAX_PAYLOAD_MB,
            "metrics_endpoint_name": METRICS_ENDPOINT_NAME,
            "metrics_model_version": METRICS_MODEL_VERSION,
            "metrics_namespace": METRICS_NAMESPACE,
            "request_log_errors": REQUEST_LOG_ERRORS,
            "request_log_interval_seconds": REQUEST_LOG_INTERVAL_SECONDS,
            "request_log_successes": REQUEST_LOG_SUCCESSES,
            "server_accept_defer_milliseconds": SERVER_ACCEPT_DEFER_MILLISECONDS,
            "server_timeout": SERVER_TIMEOUT,
            "server_workers": SERVER_WORKERS,
        },
        "drift": _drift(),
        "files": {
            "algorithm": ALGORITHM_FILE,
            "failure": FAILURE_FILE,
            "hyperparameters": HYPERPARAMETERS_FILE,
            "metadata": METADATA_FILE,
            "metric_definitions": METRIC_DEFINITIONS_FILE,
        },
        "limits": {"max_payload_mb": MAX_PAYLOAD_MB_LIMIT, "max_server_timeout_seconds": MAX_SERVER_TIMEOUT_SECONDS},
        "metrics": {
            "client_errors": METRIC_CLIENT_ERRORS,
            "dimensions": [list(dimensions) for dimensions in DIMENSIONS],
            "model_errors": METRIC_MODEL_ERRORS,
            "requests": METRIC_REQUESTS,
            "rows": METRIC_ROWS,
            "server_errors": METRIC_SERVER_ERRORS,
        },
    }


def render() -> str:
    """container/interface.json's text: keys sorted, 2-space indent, trailing newline."""
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"
