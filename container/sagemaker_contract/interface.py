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
# The `module:attribute` of the algorithm the image runs (sagemaker_contract/seam.py).
ALGORITHM_MODULE = "ALGORITHM_MODULE"

# Files. The exports (INTERFACE_FILE, ALGORITHM_FILE, ...) sit in container/, beside the entry point.
INTERFACE_FILE = "interface.json"
ALGORITHM_FILE = "algorithm.json"
FAILURE_FILE = "failure"
HYPERPARAMETERS_FILE = "hyperparameters.json"
METADATA_FILE = "metadata.json"
METRIC_DEFINITIONS_FILE = "metric_definitions.json"

# Limits: batch transform's MaxPayloadInMB maximum; the longest request timeout the server accepts.
MAX_PAYLOAD_MB_LIMIT = 100
MAX_SERVER_TIMEOUT_SECONDS = 3600

# The embedded-metric-format metrics of /invocations log lines (every one a Count).
METRIC_REQUESTS = "Requests"
METRIC_ROWS = "RequestRows"
METRIC_CLIENT_ERRORS = "ClientErrors"
METRIC_MODEL_ERRORS = "ModelErrors"
METRIC_SERVER_ERRORS = "ServerErrors"
DIMENSION_ENDPOINT = "EndpointName"
DIMENSION_MODEL_VERSION = "ModelVersion"
DIMENSIONS = ((DIMENSION_ENDPOINT,), (DIMENSION_ENDPOINT, DIMENSION_MODEL_VERSION))
UNKNOWN = "unknown"  # the dimension value when its variable is unset


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
            "server_timeout": SERVER_TIMEOUT,
            "server_workers": SERVER_WORKERS,
        },
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
