"""container/interface.json: what the app reads of the container, generated from the container's code."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import sagemaker_contract.interface as interface  # noqa: PLR0402 - see test_container_units.py

from tests.container.harness import CONTAINER, ENTRYPOINT

INTERFACE_FILE = CONTAINER / "interface.json"
# INTERFACE.md, as agreed between the container and the app: a change here is a change of that agreement.
AGREED: dict[str, dict[str, Any]] = {
    "drift": {
        "argument": "monitor",
        "bins": 10,
        "defaults": {"min_rows": 500, "psi_threshold": 0.2},
        "dimensions": {"endpoint": "EndpointName", "feature": "Feature"},
        "environment": {"min_rows": "DRIFT_MIN_ROWS", "psi_threshold": "DRIFT_PSI_THRESHOLD", "window": "DRIFT_WINDOW"},
        "metrics": {
            "corrupt_records": "CorruptRecords",
            "drifted_features": "DriftedFeatures",
            "feature_drift": "FeatureDrift",
            "feature_ks_statistic": "FeatureKSStatistic",
            "mismatched_records": "MismatchedRecords",
            "missing_rate": "MissingRate",
            "missing_rate_max": "MissingRateMax",
            "out_of_range_rate": "OutOfRangeRate",
            "out_of_range_rate_max": "OutOfRangeRateMax",
            "overall_drift": "OverallDrift",
            "prediction_drift": "PredictionDrift",
            "rows_analyzed": "RowsAnalyzed",
            "unmatched_predictions": "UnmatchedPredictions",
        },
        "paths": {
            "baseline": "/opt/ml/processing/input/baseline",
            "capture": "/opt/ml/processing/input/capture",
            "output": "/opt/ml/processing/output",
        },
    },
    "environment": {
        "algorithm_module": "ALGORITHM_MODULE",
        "bind_to_port": "SAGEMAKER_BIND_TO_PORT",
        "max_payload_mb": "SAGEMAKER_MAX_PAYLOAD_IN_MB",
        "metrics_endpoint_name": "METRICS_ENDPOINT_NAME",
        "metrics_model_version": "METRICS_MODEL_VERSION",
        "metrics_namespace": "METRICS_NAMESPACE",
        "request_log_errors": "REQUEST_LOG_ERRORS",
        "request_log_interval_seconds": "REQUEST_LOG_INTERVAL_SECONDS",
        "request_log_successes": "REQUEST_LOG_SUCCESSES",
        "server_accept_defer_milliseconds": "SERVER_ACCEPT_DEFER_MILLISECONDS",
        "server_timeout": "SAGEMAKER_MODEL_SERVER_TIMEOUT",
        "server_workers": "SAGEMAKER_MODEL_SERVER_WORKERS",
    },
    "files": {
        "algorithm": "algorithm.json",
        "failure": "failure",
        "hyperparameters": "hyperparameters.json",
        "metadata": "metadata.json",
        "metric_definitions": "metric_definitions.json",
    },
    "limits": {"max_payload_mb": 100, "max_server_timeout_seconds": 3600},
    "metrics": {
        "client_errors": "ClientErrors",
        "dimensions": [["EndpointName"], ["EndpointName", "ModelVersion"]],
        "model_errors": "ModelErrors",
        "requests": "Requests",
        "rows": "RequestRows",
        "server_errors": "ServerErrors",
    },
}


def test_every_committed_export_is_what_the_entry_point_generates() -> None:
    """GIVEN the container's code WHEN `entrypoint.py export --check` runs THEN no export is stale.

    On failure: `python container/entrypoint.py export` (it names the files it rewrote).
    """
    checked = subprocess.run(
        [sys.executable, str(ENTRYPOINT), "export", "--check"], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr
    assert INTERFACE_FILE.read_text() == interface.render()


def test_the_file_holds_exactly_the_agreed_interface() -> None:
    """GIVEN container/interface.json THEN exactly INTERFACE.md's keys and values, sorted, 2-space indent."""
    text = INTERFACE_FILE.read_text()
    assert json.loads(text) == AGREED
    assert text == json.dumps(AGREED, indent=2, sort_keys=True) + "\n"


def test_the_server_reads_its_variables_and_limits_from_the_interface() -> None:
    """GIVEN the interface module THEN the serving settings use its names and limits (no second spelling)."""
    import sagemaker_contract.server as server  # noqa: PLC0415, PLR0402

    source = (CONTAINER / "sagemaker_contract" / "server.py").read_text()
    for name in AGREED["environment"].values():
        if name.startswith("SAGEMAKER_"):
            assert f'"{name}"' not in source, f"{name} spelled in server.py instead of read from interface"
    assert server.ServeSettings.from_environment().max_payload_mb <= interface.MAX_PAYLOAD_MB_LIMIT
