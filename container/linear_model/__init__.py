"""A linear model by full-batch gradient descent, numpy only: regression (squared loss) or binary (logistic).

The second algorithm the repository ships, to prove the seam: it declares less than LightGBM (one host, no
checkpoints) and everything it needs is here. Run it with ALGORITHM_MODULE=linear_model:ALGORITHM.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from hyperschema import param
from sagemaker_contract.errors import UserError
from sagemaker_contract.protocol import (
    Capabilities,
    Dataset,
    Declaration,
    FitContext,
    Matrix,
    Metric,
    StopRequested,
    TuningRange,
)

MODEL_FILE = "linear-model.json"


@dataclass(frozen=True)
class LinearHyperparameters:
    objective: str = param(
        choices=("regression", "binary"), doc="regression or binary", not_tuned="it defines the problem"
    )
    epochs: int = param(default=100, minimum=1, maximum=100_000, doc="passes over the training rows")
    learning_rate: float = param(default=0.5, exclusive_minimum=0.0, maximum=10.0, doc="gradient step size")
    l2: float = param(default=0.0, minimum=0.0, doc="L2 penalty on the weights")
    patience: int = param(
        default=10, minimum=0, doc="stop when the validation loss has not improved for k epochs; 0 = never"
    )


DECLARATION = Declaration(
    # rmse for regression, log loss for binary: one loss, reported every epoch, lower is better.
    metrics=(Metric("train:loss", "minimize"), Metric("validation:loss", "minimize")),
    capabilities=Capabilities(early_stopping=True, tuning_resource="epochs"),
    tuning_ranges={
        "learning_rate": TuningRange("continuous", 0.01, 2.0, "Logarithmic"),
        "l2": TuningRange("continuous", 0.0001, 1.0, "Logarithmic"),
    },
    example={"objective": "binary", "epochs": "50"},
)


class LinearModel:
    """Standardize (missing values = the training mean), then w·x + b; the logistic of it for binary."""

    def __init__(self, state: dict[str, Any]) -> None:
        self._state = state
        self._mean = np.asarray(state["mean"], dtype=np.float64)
        self._scale = np.asarray(state["scale"], dtype=np.float64)
        self._weights = np.asarray(state["weights"], dtype=np.float64)
        self.num_features = len(self._weights)

    def _standardized(self, features: Matrix) -> Matrix:
        values = np.asarray(features, dtype=np.float64)
        values = np.where(np.isnan(values), self._mean, values)
        return (values - self._mean) / self._scale

    def predict(self, features: Matrix) -> Matrix:
        score: Matrix = self._standardized(features) @ self._weights + self._state["bias"]
        return 1.0 / (1.0 + np.exp(-score)) if self._state["objective"] == "binary" else score

    def save(self, directory: Path) -> None:
        (directory / MODEL_FILE).write_text(json.dumps(self._state))

    def summary(self) -> dict[str, Any]:
        facts = {k: v for k, v in self._state.items() if k in {"objective", "epochs_trained", "hyperparameters"}}
        return facts | {"library_versions": {"numpy": np.__version__}}

    def accelerate(self, cache_dir: Path) -> None:
        """Nothing to speed up: one matrix product per request."""


def _loss(model: LinearModel, objective: str, data: Dataset) -> float:
    predicted = model.predict(data.features)
    if objective == "binary":
        p = np.clip(predicted, 1e-12, 1 - 1e-12)
        return float(-np.mean(data.labels * np.log(p) + (1 - data.labels) * np.log(1 - p)))
    return float(np.sqrt(np.mean((predicted - data.labels) ** 2)))


class LinearAlgorithm:
    name = "linear-model"
    hyperparameters = LinearHyperparameters
    declaration = DECLARATION

    def check(self, hyperparameters: LinearHyperparameters, dataset: Dataset) -> None:
        if hyperparameters.objective == "binary":
            bad = np.flatnonzero((dataset.labels != 0) & (dataset.labels != 1))
            if bad.size:
                row = int(bad[0])
                raise UserError(
                    f"channel {dataset.channel}: row {row + 1} has label {dataset.labels[row]:g}; "
                    "objective binary needs labels 0 or 1"
                )

    def fit(
        self, hyperparameters: LinearHyperparameters, train: Dataset, validation: Dataset | None, context: FitContext
    ) -> LinearModel:
        features = np.asarray(train.features, dtype=np.float64)
        mean = np.nan_to_num(np.nanmean(features, axis=0)) if train.num_rows else np.zeros(train.num_features)
        scale = np.nan_to_num(np.nanstd(features, axis=0), nan=1.0)
        scale[scale == 0] = 1.0
        state: dict[str, Any] = {
            "objective": hyperparameters.objective,
            "mean": mean.tolist(),
            "scale": scale.tolist(),
            "weights": [0.0] * train.num_features,
            "bias": float(np.mean(train.labels)) if hyperparameters.objective == "regression" else 0.0,
            "hyperparameters": asdict(hyperparameters),
        }
        model = LinearModel(state)
        x = model._standardized(features)
        best, best_state, waited, epoch = float("inf"), dict(state), 0, 0
        for epoch in range(1, hyperparameters.epochs + 1):
            # Both losses' gradients are (prediction - label) · x: the logistic's is why it is the natural pair.
            error = model.predict(features) - train.labels
            weights = np.asarray(state["weights"])
            gradient = x.T @ error / max(train.num_rows, 1) + hyperparameters.l2 * weights
            state["weights"] = (weights - hyperparameters.learning_rate * gradient).tolist()
            state["bias"] = float(state["bias"] - hyperparameters.learning_rate * float(np.mean(error)))
            model = LinearModel(state)
            values = {"train:loss": _loss(model, hyperparameters.objective, train)}
            if validation is not None:
                values["validation:loss"] = _loss(model, hyperparameters.objective, validation)
            context.metrics.report(epoch, values)
            if context.stop_requested():
                raise StopRequested(f"after epoch {epoch}; no checkpoint (this algorithm keeps none)")
            watched = values.get("validation:loss", values["train:loss"])
            if watched < best:
                best, best_state, waited = watched, dict(state), 0
            elif hyperparameters.patience and validation is not None:
                waited += 1
                if waited >= hyperparameters.patience:
                    break
        if not np.isfinite(best):
            raise UserError(f"training diverged (loss {best}): lower learning_rate ({hyperparameters.learning_rate})")
        return LinearModel(best_state | {"epochs_trained": epoch})

    def load(self, directory: Path) -> LinearModel:
        return LinearModel(json.loads((directory / MODEL_FILE).read_text()))


ALGORITHM = LinearAlgorithm()
