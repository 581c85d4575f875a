"""Bare `lightgbm.train` on a CSV folder, for train_bench.py: the floor the container's `train` is compared with.

usage: python benchmarks/container_bare_train.py DATA_DIR MODEL_DIR objective=multiclass [name=value ...]
The same parameters as the container (its hyperparameter schema and defaults, `lightgbm_params`), the same
threads (every CPU this process may use), the same data (pyarrow's CSV reader, label first column), no
validation, checks, metrics, baseline or metadata: read, `lightgbm.train`, `save_model`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pyarrow.csv as pa_csv

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "container"))

from lightgbm_gbdt.algorithm import GBDTHyperparameters
from sagemaker_contract import hyperparameters


def main(data: Path, model: Path, settings: list[str]) -> None:
    params = hyperparameters.parse(GBDTHyperparameters, dict(setting.split("=", 1) for setting in settings))
    (path,) = sorted(data.glob("*.csv"))
    table = pa_csv.read_csv(path, read_options=pa_csv.ReadOptions(autogenerate_column_names=True))
    labels = table.column(0).to_numpy()
    features = np.column_stack([table.column(i).to_numpy() for i in range(1, table.num_columns)])
    booster = lgb.train(
        params.lightgbm_params(len(os.sched_getaffinity(0))),
        lgb.Dataset(features, labels),
        num_boost_round=params.num_boost_round,
    )
    booster.save_model(str(model / "model.txt"))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:])
