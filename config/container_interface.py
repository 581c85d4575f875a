"""The container's interface (`container/interface.json`): its typed shape, read and checked once.

The container has its own build context and cannot import the app, so it writes that file from its own code;
this module reads it and checks its shape; config/contract.py exposes the values the app uses as constants.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

CONTAINER_DIRECTORY = Path(__file__).resolve().parent.parent / "container"
CONTAINER_INTERFACE_FILE = CONTAINER_DIRECTORY / "interface.json"


@dataclass(frozen=True)
class ContainerEnvironment:
    """Names of the environment variables the container reads."""

    algorithm_module: str
    bind_to_port: str
    max_payload_mb: str
    metrics_endpoint_name: str
    metrics_model_version: str
    metrics_namespace: str
    request_log_errors: str
    request_log_interval_seconds: str
    request_log_successes: str
    server_accept_defer_milliseconds: str
    server_timeout: str
    server_workers: str


# Typed fields of the exported file, alike in shape to DriftPaths and DriftSetting below (duplicates pairs them):
# each a different key of interface.json.
@dataclass(frozen=True)
class ContainerFiles:
    """Names of the files the container reads or writes (under /opt/ml/... or next to it)."""

    algorithm: str
    failure: str
    hyperparameters: str
    metadata: str
    metric_definitions: str


@dataclass(frozen=True)
class ContainerLimits:
    """The largest values the container accepts for its settings."""

    max_payload_mb: int
    max_server_timeout_seconds: int


@dataclass(frozen=True)
class ContainerMetrics:
    """The container's embedded-metric-format (EMF) metrics: names and dimension sets.

    `client_errors` are the caller's mistakes (never a reason to roll back); `model_errors` are
    well-formed requests the model rejects and `server_errors` 5xx answers: both are the container's.
    """

    client_errors: str
    dimensions: tuple[tuple[str, ...], ...]
    model_errors: str
    requests: str
    rows: str
    server_errors: str


@dataclass(frozen=True)
class DriftMetrics:
    """The drift check's metrics: per feature (by EndpointName and `feature_dimension`) and overall."""

    # One typed field per key of the file, as in the classes above: alike in shape, each a different name.
    corrupt_records: str
    drifted_features: str
    feature_drift: str
    feature_ks_statistic: str
    mismatched_records: str
    missing_rate: str
    missing_rate_max: str
    out_of_range_rate: str
    out_of_range_rate_max: str
    overall_drift: str
    prediction_drift: str
    rows_analyzed: str
    unmatched_predictions: str


# Alike in shape to ContainerFiles and ContainerLimits above (duplicates pairs them): other keys of the file.
@dataclass(frozen=True)
class DriftPaths:
    """Where the drift check's processing job finds the baseline and the captured requests, and writes its report."""

    baseline: str
    capture: str
    output: str


@dataclass(frozen=True)
class DriftSetting:
    """One of the drift check's settings: its environment variable and the container's default."""

    variable: str
    default: float


@dataclass(frozen=True)
class ContainerDrift:
    """The drift check's processing job (`<image> monitor`): paths, settings, histogram bins and metrics."""

    argument: str
    bins: int
    psi_threshold: DriftSetting
    min_rows: DriftSetting
    window_variable: str
    endpoint_dimension: str
    feature_dimension: str
    paths: DriftPaths
    metrics: DriftMetrics


@dataclass(frozen=True)
class ContainerInterface:
    """Everything `container/interface.json` says."""

    drift: ContainerDrift
    environment: ContainerEnvironment
    files: ContainerFiles
    limits: ContainerLimits
    metrics: ContainerMetrics


def load_container_interface(path: Path = CONTAINER_INTERFACE_FILE) -> ContainerInterface:
    """Read and check the container's interface file; ValueError names the file and the key."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"cannot read the container's interface {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    sections = _section(document, "", path, {"drift", "environment", "files", "limits", "metrics"})
    environment = _section(sections["environment"], "environment", path, _names(ContainerEnvironment))
    files = _section(sections["files"], "files", path, _names(ContainerFiles))
    limits = _section(sections["limits"], "limits", path, _names(ContainerLimits))
    metrics = _section(sections["metrics"], "metrics", path, _names(ContainerMetrics))
    for where, values in (("environment", environment), ("files", files)):
        _all_names(values, where, path)
    for key, value in limits.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{path}: limits.{key} must be a positive integer, got {value!r}")
    dimensions = metrics.pop("dimensions")
    _all_names(metrics, "metrics", path)
    if (
        not isinstance(dimensions, list)
        or not dimensions
        or not all(isinstance(d, list) and d and all(_is_name(n) for n in d) for d in dimensions)
    ):
        raise ValueError(f"{path}: metrics.dimensions must be a non-empty list of lists of names, got {dimensions!r}")
    return ContainerInterface(
        drift=_drift(sections["drift"], path),
        environment=ContainerEnvironment(**environment),
        files=ContainerFiles(**files),
        limits=ContainerLimits(**limits),
        metrics=ContainerMetrics(**metrics, dimensions=tuple(tuple(d) for d in dimensions)),
    )


def _drift(value: Any, path: Path) -> ContainerDrift:
    keys = {"argument", "bins", "defaults", "dimensions", "environment", "metrics", "paths"}
    drift = _section(value, "drift", path, keys)
    settings = {"min_rows", "psi_threshold"}
    defaults = _section(drift["defaults"], "drift.defaults", path, settings)
    environment = _section(drift["environment"], "drift.environment", path, settings | {"window"})
    paths = _section(drift["paths"], "drift.paths", path, _names(DriftPaths))
    dimensions = _section(drift["dimensions"], "drift.dimensions", path, {"endpoint", "feature"})
    metrics = _section(drift["metrics"], "drift.metrics", path, _names(DriftMetrics))
    for where, values in (("environment", environment), ("paths", paths), ("dimensions", dimensions)):
        _all_names(values, f"drift.{where}", path)
    _all_names(metrics, "drift.metrics", path)
    _all_names({"argument": drift["argument"]}, "drift", path)
    for key, number in (("bins", drift["bins"]), *(("defaults." + k, v) for k, v in defaults.items())):
        if not isinstance(number, int | float) or isinstance(number, bool) or not number > 0:
            raise ValueError(f"{path}: drift.{key} must be a number above 0, got {number!r}")
    return ContainerDrift(
        argument=drift["argument"],
        bins=int(drift["bins"]),
        psi_threshold=DriftSetting(environment["psi_threshold"], defaults["psi_threshold"]),
        min_rows=DriftSetting(environment["min_rows"], defaults["min_rows"]),
        window_variable=environment["window"],
        endpoint_dimension=dimensions["endpoint"],
        feature_dimension=dimensions["feature"],
        paths=DriftPaths(**paths),
        metrics=DriftMetrics(**metrics),
    )


def _names(kind: type) -> set[str]:
    return {f.name for f in fields(kind)}


def _section(value: Any, where: str, path: Path, keys: set[str]) -> dict[str, Any]:
    label = where or "the document"
    if not isinstance(value, dict):
        raise ValueError(f"{path}: {label} must be a JSON object, got {type(value).__name__}")
    if set(value) != keys:
        missing, unknown = sorted(keys - set(value)), sorted(set(value) - keys)
        raise ValueError(
            f"{path}: {label} must have exactly the keys {sorted(keys)} (missing {missing}, unknown {unknown})"
        )
    return dict(value)


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and not value.isspace()


def _all_names(values: dict[str, Any], where: str, path: Path) -> None:
    for key, value in values.items():
        if not _is_name(value):
            raise ValueError(f"{path}: {where}.{key} must be a non-empty string, got {value!r}")
