"""The drift baseline training writes next to the model: what the features and predictions looked like.

`drift-baseline.json` (format documented in docs/drift.md) holds, for the validation channel (the train
channel when there is none):
- `statistics`: SageMaker Model Monitor's statistics.json shape. One entry per feature, named `_c0`, `_c1`
  ... in request column order, with count, missing count, mean, standard deviation, min, max, quantiles and
  histogram buckets (`distribution.kll.buckets`: equal-frequency bins between the baseline's deciles),
  then one entry per prediction output (`prediction`, or `prediction_<class>` for multiclass).
- `constraints`: Model Monitor's constraints.json shape (completeness per feature, the comparison method).
The monitor (`entrypoint.py monitor`) reads this file back with `read`, from the model directory or from
model.tar.gz itself.
"""

from __future__ import annotations

import io
import json
import math
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from sagemaker_contract.errors import UserError
from sagemaker_contract.protocol import Dataset, Matrix, TrainedModel

BASELINE_FILE = "drift-baseline.json"
FORMAT = "drift-baseline"
FORMAT_VERSION = 1
# Levels of the stored quantiles; the inner deciles are the histogram's bin edges.
QUANTILES = (0.0, 0.01, 0.05, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 0.95, 0.99, 1.0)
DECILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
_DECILE_LEVELS = [QUANTILES.index(q) for q in DECILES]
# Quantiles, bins and predictions come from at most this many rows (evenly spaced, so deterministic);
# counts and missing rates from every row.
SAMPLE_ROWS = 200_000


def feature_name(index: int) -> str:
    """Model Monitor's name of the `index`-th (0-based) column of a request: `_c0`, `_c1`, ..."""
    return f"_c{index}"


def _sample(matrix: Matrix) -> Matrix:
    if matrix.shape[0] <= SAMPLE_ROWS:
        return matrix
    rows = np.linspace(0, matrix.shape[0] - 1, SAMPLE_ROWS).round().astype(np.int64)
    return matrix[rows]


def _float(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _edges(ordered: Matrix, deciles: Matrix) -> Matrix:
    """The distinct `deciles` of the sorted values `ordered`, each moved up to halfway to the next value above it.

    Bin membership of the baseline is unchanged (no value lies in between), but a value at a point mass
    (tree models predict few distinct values) stays in its bin when it comes back rounded, e.g. in CSV.
    """
    edges = cast(Matrix, np.unique(deciles))
    above = np.searchsorted(ordered, edges, side="right")  # the first value above each edge
    has_next = above < ordered.size
    moved: Matrix = np.where(has_next, (edges + ordered[np.minimum(above, ordered.size - 1)]) / 2, edges)
    return moved


def describe_column(name: str, all_values: Matrix, sample: Matrix) -> dict[str, Any]:
    """One statistics.json feature entry; NaN counts as missing. Bins are right-closed, the outer ones open."""
    present_all = all_values[~np.isnan(all_values)]
    num_present = int(present_all.size)
    stats: dict[str, Any] = {
        "common": {"num_present": num_present, "num_missing": int(all_values.size - num_present)},
    }
    if num_present:
        present = sample[~np.isnan(sample)]
        # One sort answers the quantiles, the edges and the bin counts (a sample may miss a sparse column).
        ordered = cast(Matrix, np.sort(present if present.size else present_all))
        levels = cast(Matrix, np.quantile(ordered, QUANTILES))
        edges = _edges(ordered, levels[_DECILE_LEVELS])
        # Right-closed bins: the values at or below each edge, differenced.
        counts = np.diff(np.searchsorted(ordered, edges, side="right"), prepend=0, append=ordered.size)
        lowest, highest = float(present_all.min()), float(present_all.max())
        bounds = [lowest, *(float(e) for e in edges), highest]
        stats |= {
            "mean": float(present_all.mean()),
            "sum": float(present_all.sum()),
            "std_dev": float(present_all.std()),
            "min": lowest,
            "max": highest,
            "quantiles": {f"{q:g}": float(v) for q, v in zip(QUANTILES, levels, strict=True)},
            "distribution": {
                "kll": {
                    "buckets": [
                        {"lower_bound": bounds[i], "upper_bound": bounds[i + 1], "count": int(counts[i])}
                        for i in range(edges.size + 1)
                    ],
                },
            },
        }
    return {"name": name, "inferred_type": "Fractional", "numerical_statistics": stats}


def _prediction_columns(predictions: Matrix) -> list[tuple[str, Matrix]]:
    if predictions.ndim == 1:
        return [("prediction", predictions)]
    return [(f"prediction_{j}", predictions[:, j]) for j in range(predictions.shape[1])]


def build(dataset: Dataset, predictions: Matrix) -> dict[str, Any]:
    """The baseline document of `dataset` and the model's `predictions` on (a sample of) its rows."""
    sample = _sample(dataset.features)
    features = [
        describe_column(feature_name(j), dataset.features[:, j], sample[:, j]) for j in range(dataset.num_features)
    ]
    outputs = [describe_column(name, column, column) for name, column in _prediction_columns(predictions)]
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "channel": dataset.channel,
        "num_features": dataset.num_features,
        "prediction_columns": [entry["name"] for entry in outputs],
        "statistics": {
            "version": 0.0,
            "dataset": {"item_count": dataset.num_rows, "evaluated_rows": int(sample.shape[0])},
            "features": features + outputs,
        },
        "constraints": {
            "version": 0.0,
            "features": [
                {
                    "name": entry["name"],
                    "inferred_type": "Fractional",
                    "completeness": _completeness(entry),
                }
                for entry in features
            ],
            "monitoring_config": {
                "evaluate_constraints": "Enabled",
                "emit_metrics": "Enabled",
                "distribution_constraints": {"perform_comparison": "Enabled", "comparison_method": "PSI+KS"},
            },
        },
    }


def _completeness(entry: dict[str, Any]) -> float:
    common = entry["numerical_statistics"]["common"]
    total = common["num_present"] + common["num_missing"]
    return common["num_present"] / total if total else 0.0


def write(model: TrainedModel, model_dir: Path, dataset: Dataset) -> Path:
    """Predict a sample of `dataset` with the model just saved in `model_dir`, write the baseline there atomically."""
    predictions = np.asarray(model.predict(_sample(dataset.features)), dtype=np.float64)
    document = build(dataset, predictions)
    target = model_dir / BASELINE_FILE
    partial = target.with_name(f".{BASELINE_FILE}.partial")
    partial.write_text(json.dumps(document, indent=1, sort_keys=True, allow_nan=False) + "\n")
    partial.replace(target)
    print(
        f"drift baseline: {BASELINE_FILE} from channel {dataset.channel} "
        f"({dataset.num_rows} rows, {dataset.num_features} features)",
        flush=True,
    )
    return target


@dataclass(frozen=True)
class Column:
    """One baseline column, as the monitor compares a window with it."""

    name: str
    num_present: int
    num_missing: int
    minimum: float | None
    maximum: float | None
    # Inner bin edges (ascending) and the baseline's count per bin (len(edges) + 1 bins).
    edges: tuple[float, ...]
    counts: tuple[int, ...]

    @property
    def missing_rate(self) -> float:
        total = self.num_present + self.num_missing
        return self.num_missing / total if total else 0.0


@dataclass(frozen=True)
class Baseline:
    channel: str
    num_features: int
    features: tuple[Column, ...]
    predictions: tuple[Column, ...]


def _column(entry: Any, where: str) -> Column:
    try:
        stats = entry["numerical_statistics"]
        common = stats["common"]
        buckets = stats.get("distribution", {}).get("kll", {}).get("buckets", [])
        return Column(
            name=str(entry["name"]),
            num_present=int(common["num_present"]),
            num_missing=int(common["num_missing"]),
            minimum=_optional(stats.get("min")),
            maximum=_optional(stats.get("max")),
            edges=tuple(float(bucket["upper_bound"]) for bucket in buckets[:-1]),
            counts=tuple(int(bucket["count"]) for bucket in buckets),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise UserError(f"{where}: malformed feature entry ({type(error).__name__}: {error})") from None


def _optional(value: Any) -> float | None:
    return None if value is None else float(value)


def parse(document: Any, where: str) -> Baseline:
    """A `Baseline` from the JSON document `build` wrote; `UserError` naming `where` if it is not one."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise UserError(f'{where} is not a drift baseline (no "format": "{FORMAT}")')
    if document.get("format_version") != FORMAT_VERSION:
        raise UserError(
            f"{where} has format_version {document.get('format_version')!r}; this monitor reads {FORMAT_VERSION}"
        )
    try:
        num_features = int(document["num_features"])
        entries = document["statistics"]["features"]
        prediction_names = set(document["prediction_columns"])
    except (KeyError, TypeError, ValueError) as error:
        raise UserError(f"{where}: missing {error}") from None
    columns = [_column(entry, where) for entry in entries]
    features = tuple(c for c in columns if c.name not in prediction_names)
    if [c.name for c in features] != [feature_name(j) for j in range(num_features)]:
        raise UserError(f"{where}: expected features _c0 to _c{num_features - 1} in order")
    predictions = tuple(c for c in columns if c.name in prediction_names)
    return Baseline(str(document.get("channel", "")), num_features, features, predictions)


def read(directory: Path) -> Baseline:
    """The baseline in `directory`: drift-baseline.json, or inside the model.tar.gz found there."""
    direct = sorted(directory.rglob(BASELINE_FILE)) if directory.is_dir() else []
    if direct:
        return parse(_load_json(direct[0].read_bytes(), direct[0].name), direct[0].name)
    archives = sorted(directory.rglob("*.tar.gz")) if directory.is_dir() else []
    if not archives:
        raise UserError(f"no {BASELINE_FILE} and no model.tar.gz in {directory}: give the model artifact as baseline")
    archive = archives[0]
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = next((m for m in tar.getmembers() if Path(m.name).name == BASELINE_FILE and m.isfile()), None)
            if member is None:
                raise UserError(
                    f"{archive.name} has no {BASELINE_FILE}: the model was trained before drift baselines "
                    "existed; retrain it to monitor drift"
                )
            handle = tar.extractfile(member)
            data = handle.read() if handle is not None else b""
    except (tarfile.TarError, OSError, EOFError) as error:
        raise UserError(f"{archive.name} is not a readable model.tar.gz: {error}") from None
    return parse(_load_json(data, f"{archive.name}:{BASELINE_FILE}"), f"{archive.name}:{BASELINE_FILE}")


def _load_json(data: bytes, where: str) -> Any:
    try:
        return json.load(io.BytesIO(data))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{where} is not valid JSON: {error}") from None
