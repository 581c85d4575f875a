"""What LightGBM declares to the contract layer: its hyperparameters and rules, its metrics and their direction,
its capabilities, tuning ranges and example set; and what it requires of the data ("Data that cannot give a model").
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from hyperschema import Condition, Rule, enforce, param
from sagemaker_contract.protocol import Capabilities, Dataset, Declaration, Matrix, Metric, TuningRange

# The first metric of each objective is its default.
METRICS: dict[str, tuple[str, ...]] = {
    "regression": ("l2", "l1", "rmse", "huber", "mape"),
    "binary": ("binary_logloss", "binary_error", "auc", "average_precision"),
    "multiclass": ("multi_logloss", "multi_error", "auc_mu"),
}
ALL_METRICS = tuple(metric for metrics in METRICS.values() for metric in metrics)
# Scores: higher is better; every other metric is a loss or an error rate.
_MAXIMIZED = frozenset({"auc", "average_precision", "auc_mu"})
# Fields of GBDTHyperparameters that are not passed to LightGBM as they are.
NOT_LIGHTGBM_PARAMS = frozenset(
    {"num_boost_round", "early_stopping_rounds", "num_class", "metric", "tree_learner", "train_metric_period"}
)


@dataclass(frozen=True)
class GBDTHyperparameters:
    """LightGBM's parameters of the same names; defaults are LightGBM's unless noted."""

    objective: str = param(
        choices=tuple(METRICS), doc="regression, binary or multiclass", not_tuned="it defines the problem"
    )
    num_class: int | None = param(
        default=None,
        minimum=2,
        maximum=10_000,
        doc="classes; multiclass only",
        not_tuned="it is a property of the data",
    )
    num_boost_round: int = param(default=100, minimum=1, maximum=100_000, doc="boosting rounds (trees per class)")
    learning_rate: float = param(default=0.1, exclusive_minimum=0.0, maximum=1.0, doc="shrinkage")
    num_leaves: int = param(default=31, minimum=2, maximum=131_072, doc="leaves per tree")
    max_depth: int = param(default=-1, minimum=-1, maximum=1_000, doc="tree depth limit; -1 = none")
    min_data_in_leaf: int = param(default=20, minimum=0, doc="rows per leaf at least")
    feature_fraction: float = param(default=1.0, exclusive_minimum=0.0, maximum=1.0, doc="features per tree")
    bagging_fraction: float = param(default=1.0, exclusive_minimum=0.0, maximum=1.0, doc="rows per bagging round")
    bagging_freq: int = param(default=0, minimum=0, doc="bag every k rounds; 0 = no bagging")
    lambda_l1: float = param(default=0.0, minimum=0.0, doc="L1 regularization")
    lambda_l2: float = param(default=0.0, minimum=0.0, doc="L2 regularization")
    early_stopping_rounds: int = param(
        default=10, minimum=0, doc="stop when the validation metric has not improved for k rounds; 0 = never"
    )
    metric: str | None = param(
        default=None,
        choices=ALL_METRICS,
        doc="evaluation metric; default per objective",
        not_tuned="it defines what the objective metric measures",
    )
    seed: int = param(
        default=0,
        minimum=0,
        maximum=2**31 - 1,
        doc="random seed (this container's default: 0)",
        not_tuned="a better seed is noise, not a better model",
    )
    tree_learner: str = param(
        default="data", choices=("data", "voting"), doc="distributed learner on several hosts; voting for wide data"
    )
    train_metric_period: int = param(
        default=10,
        minimum=1,
        maximum=100_000,
        doc="report the train channel's metric every k rounds and after the last; 1 = every round (this "
        "container's setting: each report scores every training row, about a quarter of a round's time)",
        not_tuned="it changes what the log reports, not the model",
    )

    # Combinations LightGBM refuses or ignores; exported with the fields (container/hyperparameters.json).
    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(when={"objective": Condition(one_of=("multiclass",))}, require=("num_class",)),
        Rule(
            when={"objective": Condition(one_of=tuple(o for o in METRICS if o != "multiclass"))},
            forbid=("num_class",),
            reason="num_class applies to objective multiclass only",
        ),
        *(
            Rule(when={"objective": Condition(one_of=(objective,))}, then={"metric": Condition(one_of=metrics)})
            for objective, metrics in METRICS.items()
        ),
        Rule(
            when={"bagging_fraction": Condition(below=1.0)},
            then={"bagging_freq": Condition(above=0)},
            reason="bagging_fraction < 1 has no effect unless bagging_freq > 0",
        ),
    )

    def __post_init__(self) -> None:
        enforce(self, self.RULES)

    @property
    def eval_metric(self) -> str:
        return self.metric or METRICS[self.objective][0]

    def lightgbm_params(self, num_threads: int) -> dict[str, Any]:
        params: dict[str, Any] = {
            name: value for name, value in dataclasses.asdict(self).items() if name not in NOT_LIGHTGBM_PARAMS
        }
        if self.num_class is not None:
            params["num_class"] = self.num_class
        return params | {"metric": self.eval_metric, "num_threads": num_threads, "verbosity": -1}


def labels_problem(params: GBDTHyperparameters, labels: Matrix) -> tuple[int, str] | None:
    if params.objective == "binary":
        bad = np.flatnonzero((labels != 0) & (labels != 1))
        return (int(bad[0]), "objective binary needs labels 0 or 1") if bad.size else None
    if params.objective == "multiclass":
        classes = params.num_class or 0
        bad = np.flatnonzero((labels != np.floor(labels)) | (labels < 0) | (labels >= classes))
        needs = f"objective multiclass with num_class={classes} needs integer labels 0 to {classes - 1}"
        return (int(bad[0]), needs) if bad.size else None
    return None


def useless_data_problem(params: GBDTHyperparameters, train: Dataset) -> str | None:
    """Why these rows cannot give a useful model (README: "Data that cannot give a model"), or None."""
    labels, rows = train.labels, train.num_rows
    classes = np.unique(labels)
    if params.objective == "binary" and classes.size < 2:
        return f"channel train has label {classes[0]:g} only; objective binary needs rows of both 0 and 1"
    if params.objective == "multiclass":
        expected = params.num_class or 0
        missing = sorted(set(range(expected)) - {int(c) for c in classes})
        if missing:
            shown = ", ".join(str(c) for c in missing[:10]) + (", ..." if len(missing) > 10 else "")
            return (
                f"channel train has no row of class {shown}; objective multiclass with num_class={expected} "
                f"needs every class 0 to {expected - 1} at least once (lower num_class, or add rows)"
            )
    if params.objective == "regression" and classes.size < 2:
        return f"every label in channel train is {classes[0]:g}; objective regression has nothing to learn"
    features = train.features
    missing_values = np.isnan(features)
    spread = np.fmax.reduce(features, axis=0) > np.fmin.reduce(features, axis=0)
    # A feature that is missing in some rows and has one value in the others still splits (missing vs not).
    varies = spread | (missing_values.any(axis=0) & ~missing_values.all(axis=0))
    if not varies.any():
        return (
            f"no feature varies in channel train: each of its {train.num_features} feature(s) has one value "
            f"in all {rows} rows, so no tree can split"
        )
    per_leaf = max(params.min_data_in_leaf, 1)
    bagged = params.bagging_fraction if params.bagging_freq > 0 else 1.0
    needed = math.ceil(2 * per_leaf / bagged)
    if rows < needed:
        bagging = f" and bagging_fraction={params.bagging_fraction:g}" if bagged < 1.0 else ""
        return (
            f"channel train has {rows} rows; min_data_in_leaf={params.min_data_in_leaf}{bagging} needs at least "
            f"{needed} for a tree to split into two leaves (add rows, or lower min_data_in_leaf)"
        )
    return None


DECLARATION = Declaration(
    metrics=tuple(
        Metric(f"{channel}:{metric}", "maximize" if metric in _MAXIMIZED else "minimize")
        for metric in ALL_METRICS
        for channel in ("train", "validation")
    ),
    capabilities=Capabilities(
        several_hosts=True, checkpoints=True, early_stopping=True, tuning_resource="num_boost_round"
    ),
    # Where LightGBM's tuning usually pays, with ranges wide enough for most tabular data (docs/tuning.md).
    tuning_ranges={
        # Step size: the strongest single lever; log scale, as good values span an order of magnitude.
        "learning_rate": TuningRange("continuous", 0.01, 0.3, "Logarithmic"),
        # Model capacity per tree; LightGBM grows leaf-wise, so leaves rather than depth.
        "num_leaves": TuningRange("integer", 8, 256, "Logarithmic"),
        # The main guard against overfitting small leaves.
        "min_data_in_leaf": TuningRange("integer", 5, 200, "Logarithmic"),
        # Column subsampling per tree: regularizes and speeds up wide data.
        "feature_fraction": TuningRange("continuous", 0.5, 1.0, "Linear"),
        # L2 on leaf values; 0 is the default, so the range starts just above it (log scale needs > 0).
        "lambda_l2": TuningRange("continuous", 0.001, 10.0, "Logarithmic"),
    },
    # LightGBM evaluates the one metric `metric` names (default: the objective's first).
    metric_hyperparameter="metric",
    example={"objective": "binary", "metric": "auc", "num_boost_round": "60"},
    # LightGBM bins float32-rounded values anyway: half the memory of float64.
    feature_dtype="float32",
)
