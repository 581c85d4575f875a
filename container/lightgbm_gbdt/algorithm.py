"""Gradient-boosted decision trees with LightGBM (regression, binary, multiclass), behind the contract layer.

The image runs it as ALGORITHM_MODULE=lightgbm_gbdt:ALGORITHM (sagemaker_contract/seam.py); docs/swap.md
says how another algorithm takes its place.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import logging
import math
import os
import re
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
from sagemaker_contract.baseline import SAMPLE_ROWS
from sagemaker_contract.errors import UserError
from sagemaker_contract.protocol import Cluster, Dataset, FitContext, Matrix, MetricsLog, StopRequested

from lightgbm_gbdt.declaration import (
    DECLARATION,
    METRICS,
    GBDTHyperparameters,
    labels_problem,
    useless_data_problem,
)

__all__ = ["ALGORITHM", "METRICS", "GBDTHyperparameters", "LightGBMAlgorithm"]

MODEL_FILE = "model.txt"
# Measured on the project machine: -O1 compiles in about half the time of -O2 and predicts about as fast.
COMPILER_OPTIONS = ["-O1"]
COMPILE_VARIABLE = "GBDT_COMPILE_TREES"  # "off" keeps serving on LightGBM's own predictor
_log = logging.getLogger("algorithm")
CHECKPOINT_FILE = "lightgbm-checkpoint.json"
# Not part of what makes a checkpoint reusable: more rounds may continue an earlier run.
_RESUMABLE_ACROSS = frozenset({"num_boost_round", "early_stopping_rounds", "train_metric_period"})
_CONNECTED = re.compile(r"Connected to rank (\d+)")
_NETWORK_READY = re.compile(r"Local rank: \d+, total number of machines: \d+")


class _NetworkLog:
    """LightGBM's log while it trains on several hosts: tracks which hosts it reached, drops the chatter."""

    def __init__(self, cluster: Cluster, log: Any) -> None:
        self._cluster = cluster
        self._log = log

    def info(self, message: str) -> None:
        if connected := _CONNECTED.search(message):
            self._cluster.peer_connected(int(connected.group(1)))
        elif _NETWORK_READY.search(message):
            self._cluster.network_ready()
            self._log(f"distributed: connected to all {self._cluster.num_machines} hosts")
        elif "Connecting to rank" in message:
            self._log(message.strip().removeprefix("[LightGBM] "))

    def warning(self, message: str) -> None:
        self.info(message)


def _distributed_params(cluster: Cluster, tree_learner: str) -> dict[str, Any]:
    """LightGBM's socket-based distributed learner; every host passes its own rows (pre-partitioned)."""
    return {
        "tree_learner": tree_learner,
        "num_machines": cluster.num_machines,
        "machines": ",".join(cluster.addresses),
        "local_listen_port": cluster.listen_port,
        # minutes; LightGBM's socket timeout once connected (the contract layer bounds the connection phase)
        "time_out": max(1, math.ceil(cluster.timeout_seconds / 60)),
        "pre_partition": True,
        "verbosity": 1,  # its connection messages feed _NetworkLog
    }


class GBDTModel:
    """A trained or loaded LightGBM booster; serving may switch it to compiled trees (see `accelerate`)."""

    def __init__(
        self,
        booster: Any,
        facts: dict[str, Any],
        model_file: Path | None = None,
        scored: list[tuple[Matrix, Matrix]] | None = None,
    ) -> None:
        self._booster = booster
        self._facts = facts
        self._model_file = model_file
        self._scored = scored or []
        self._compiled: Any = None
        # 0 = every CPU (OpenMP's default): training's own predictions (the drift baseline) have the machine.
        # A server runs one worker process per CPU, so `accelerate` (serving only) turns this to 1.
        self._threads = 0
        self.num_features: int = booster.num_feature()

    def save(self, directory: Path) -> None:
        best = self._facts.get("best_iteration") or None
        self._booster.save_model(str(directory / MODEL_FILE), num_iteration=best)

    def summary(self) -> dict[str, Any]:
        return dict(self._facts)

    def predict(self, features: Matrix) -> Matrix:
        for known, predictions in self._scored:
            if features is known:  # the rows training scored with this very model (the drift baseline's)
                return predictions.copy()
        compiled = self._compiled
        if compiled is not None:
            return _compiled_predict(compiled, features)
        # Serving: one thread, as the server runs one worker process per CPU and OpenMP start-up dominates
        # small requests.
        prediction: Matrix = self._booster.predict(features, num_threads=self._threads)
        return prediction

    def accelerate(self, cache_dir: Path) -> None:
        """Compile the trees to native code (tl2cgen + gcc) in the background, then predict with them.

        Measured 2.6-3.7x LightGBM's rows/s on 10 000-row batches. Until the library is ready, and whenever
        there is no C compiler or the compiled trees disagree with LightGBM on probe rows, LightGBM predicts.
        Worker processes share one compilation through a lock file in `cache_dir`.
        """
        self._threads = 1
        if os.environ.get(COMPILE_VARIABLE, "auto").lower() in {"off", "0", "false", "no"}:
            _log.info("compiled inference off (%s); predicting with LightGBM", COMPILE_VARIABLE)
            return
        if self._model_file is None or shutil.which("gcc") is None:
            _log.info("compiled inference unavailable (no C compiler); predicting with LightGBM")
            return
        thread = threading.Thread(target=self._compile, args=(self._model_file, cache_dir), name="compile-trees")
        thread.daemon = True
        thread.start()

    def _compile(self, model_file: Path, cache_dir: Path) -> None:
        started = time.monotonic()
        try:
            import tl2cgen  # noqa: PLC0415 - only serving with a compiler needs it
            import treelite  # noqa: PLC0415

            digest = hashlib.sha256(model_file.read_bytes()).hexdigest()[:20]
            cache_dir.mkdir(parents=True, exist_ok=True)
            library = cache_dir / f"trees-{digest}.so"
            with (cache_dir / f"trees-{digest}.lock").open("w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not library.exists():
                    partial = library.with_name(f".{library.name}.partial.so")
                    model = treelite.frontend.load_lightgbm_model(str(model_file))
                    tl2cgen.export_lib(model, toolchain="gcc", libpath=str(partial), options=COMPILER_OPTIONS)
                    partial.replace(library)
            compiled = tl2cgen.Predictor(str(library), nthread=1)
            probe = np.random.default_rng(0).normal(scale=10.0, size=(256, self.num_features))
            probe[::7, 0] = np.nan
            expected = self._booster.predict(probe, num_threads=1)
            if not np.allclose(_compiled_predict(compiled, probe), expected, rtol=1e-9, atol=1e-12):
                _log.warning("compiled trees disagree with LightGBM on probe rows; predicting with LightGBM")
                return
        except Exception as error:
            _log.warning(
                "compiled inference unavailable (%s: %s); predicting with LightGBM", type(error).__name__, error
            )
            return
        self._compiled = compiled
        _log.info("compiled inference ready after %.2f s", time.monotonic() - started)


def _scored(booster: Any, train: Dataset, validation: Dataset | None) -> list[tuple[Matrix, Matrix]]:
    """LightGBM's own predictions of the training rows (and validation rows), free after the last round.

    They are the saved model's predictions when the model keeps every round (no early stopping cut it), up
    to the order of floating-point sums. A custom metric is handed them: LightGBM's public way to read them.
    """
    if booster.best_iteration not in (0, booster.current_iteration()):
        return []
    found: list[tuple[Matrix, Matrix]] = []

    def keep(dataset: Dataset) -> Any:
        def metric(predictions: Matrix, _data: Any) -> tuple[str, float, bool]:
            found.append((dataset.features, np.array(predictions, dtype=np.float64)))
            return "kept", 0.0, False

        return metric

    if train.num_rows <= SAMPLE_ROWS:
        booster.eval_train(feval=keep(train))
    if validation is not None and validation.num_rows <= SAMPLE_ROWS:
        booster.eval_valid(feval=keep(validation))
    return found


def _compiled_predict(compiled: Any, features: Matrix) -> Matrix:
    import tl2cgen  # noqa: PLC0415 - imported already when `compiled` exists

    # tl2cgen answers (rows, targets, classes); LightGBM's shapes are (rows,) or (rows, classes).
    output = np.asarray(compiled.predict(tl2cgen.DMatrix(features)), dtype=np.float64).reshape(len(features), -1)
    return output[:, 0] if output.shape[1] == 1 else output


def _fingerprint(params: GBDTHyperparameters, train: Dataset, validation: Dataset | None) -> str:
    digest = hashlib.blake2b(digest_size=16)
    settings = {k: v for k, v in dataclasses.asdict(params).items() if k not in _RESUMABLE_ACROSS}
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for dataset in (train, validation):
        if dataset is not None:
            digest.update(dataset.labels.tobytes())
            digest.update(dataset.features.tobytes())
    return digest.hexdigest()


def _training_error(error: Exception, cluster: Cluster | None) -> Exception:
    """What a LightGBMError raised while training means: out of memory, an unreachable host, or the caller's input."""
    if "bad_alloc" in str(error):
        return MemoryError(str(error))
    if cluster is not None and not cluster.ready:
        return UserError(
            f"cannot reach host(s) {cluster.unreachable()} (this host: {cluster.hosts[cluster.rank]}): {error}"
        )
    if cluster is not None:
        return UserError(f"distributed training failed (did another host stop?): {error}")
    return UserError(f"LightGBM rejected the training data or parameters: {error}")


class _RoundReports:
    """The #metrics lines: validation's metric every round, the train channel's every `period` rounds and last.

    LightGBM scores every set of `valid_sets` each round; the train channel's metric (a pass over every
    training row) is read from the booster on the rounds the period picks instead.
    """

    def __init__(self, metrics: MetricsLog, period: int, last_planned: int) -> None:
        self._metrics = metrics
        self._period = period
        self._last_planned = last_planned
        self._train_reported = 0

    def _train(self, booster: Any, rounds: int) -> dict[str, float]:
        self._train_reported = rounds
        return {f"train:{metric}": value for _, metric, value, _ in booster.eval_train()}

    def after_round(self, booster: Any, rounds: int, evaluated: list[tuple[str, str, float, bool]]) -> None:
        values = {f"{data}:{metric}": value for data, metric, value, _ in evaluated}
        if rounds % self._period == 0 or rounds == self._last_planned:
            values = self._train(booster, rounds) | values
        if values:
            self._metrics.report(rounds, values)

    def after_training(self, booster: Any, last_round: int) -> None:
        """Early stopping may end training between two train reports: then the last round trained reports it."""
        if last_round > self._train_reported:
            self._metrics.report(last_round, self._train(booster, last_round))


class LightGBMAlgorithm:
    name = "lightgbm-gbdt"
    hyperparameters = GBDTHyperparameters
    declaration = DECLARATION

    def check(self, hyperparameters: GBDTHyperparameters, dataset: Dataset) -> None:
        problem = labels_problem(hyperparameters, dataset.labels)
        if problem is not None:
            row, needs = problem
            raise UserError(f"channel {dataset.channel}: row {row + 1} has label {dataset.labels[row]:g}; {needs}")

    def fit(
        self,
        hyperparameters: GBDTHyperparameters,
        train: Dataset,
        validation: Dataset | None,
        context: FitContext,
    ) -> GBDTModel:
        params = hyperparameters.lightgbm_params(context.num_threads)
        cluster = context.cluster
        # Each host of a distributed job holds only its own rows (a block may hold one class alone), so the
        # rules apply to a job on one host; the check after training below applies to every job.
        problem = useless_data_problem(hyperparameters, train) if cluster is None else None
        if problem is not None:
            raise UserError(problem)
        if cluster is not None:
            params |= _distributed_params(cluster, hyperparameters.tree_learner)
            lgb.register_logger(_NetworkLog(cluster, context.log))
        train_set = lgb.Dataset(train.features, train.labels, params={"verbosity": -1}, free_raw_data=False)
        valid_sets, valid_names = [], []  # the train channel's metric: _RoundReports
        if validation is not None:
            valid_sets.append(lgb.Dataset(validation.features, validation.labels, reference=train_set))
            valid_names.append("validation")
        fingerprint = _fingerprint(hyperparameters, train, validation) if context.checkpoints.enabled else ""
        init_model, done = self._resume(context, fingerprint, hyperparameters.num_boost_round)

        def save_checkpoint(booster: Any, rounds: int) -> None:
            state = {"fingerprint": fingerprint, "rounds": rounds, "model": booster.model_to_string()}
            context.checkpoints.write(CHECKPOINT_FILE, json.dumps(state).encode())

        last_round = [done]
        reports = _RoundReports(context.metrics, hyperparameters.train_metric_period, hyperparameters.num_boost_round)

        def each_round(env: Any) -> None:
            rounds = last_round[0] = env.iteration + 1
            reports.after_round(env.model, rounds, env.evaluation_result_list)
            stopping = context.stop_requested()
            if context.checkpoints.due() or (stopping and context.checkpoints.enabled):
                save_checkpoint(env.model, rounds)
            if stopping:
                saved = "checkpoint saved" if context.checkpoints.enabled else "no checkpoint configured"
                raise StopRequested(f"after round {rounds}; {saved}")

        callbacks = [each_round]
        if validation is not None and hyperparameters.early_stopping_rounds > 0:
            callbacks.append(lgb.early_stopping(hyperparameters.early_stopping_rounds, verbose=False))
        try:
            booster = lgb.train(
                params,
                train_set,
                num_boost_round=hyperparameters.num_boost_round - done,
                valid_sets=valid_sets,
                valid_names=valid_names,
                init_model=init_model,
                callbacks=callbacks,
                # The booster keeps its data, so that its predictions of them stay readable (`_scored`).
                keep_training_booster=True,
            )
        except lgb.basic.LightGBMError as error:
            raise _training_error(error, cluster) from None
        reports.after_training(booster, last_round[0])
        if context.checkpoints.enabled:
            # After early stopping the booster holds the best iteration's trees only.
            save_checkpoint(booster, booster.current_iteration())
        if not booster.feature_importance("split").any():
            raise UserError(
                f"LightGBM found no split in {last_round[0]} round(s), so the model would predict one constant: "
                "the features carry no usable signal under these settings (check min_data_in_leaf, num_leaves, "
                "and the features themselves)"
            )
        facts = {
            "objective": hyperparameters.objective,
            "num_class": {"regression": None, "binary": 2}.get(hyperparameters.objective, hyperparameters.num_class),
            "rounds_trained": last_round[0],
            "resumed_from_round": done,
            "best_iteration": booster.best_iteration,
            "eval_metric": hyperparameters.eval_metric,
            "hyperparameters": dataclasses.asdict(hyperparameters),
            "library_versions": {"lightgbm": lgb.__version__},
        }
        if cluster is not None:
            facts["tree_learner"] = hyperparameters.tree_learner
        scored = _scored(booster, train, validation)
        # What lgb.train does without keep_training_booster: the model alone, LightGBM's copy of the data freed.
        booster.model_from_string(booster.model_to_string()).free_dataset()
        return GBDTModel(booster, facts, scored=scored)

    def _resume(self, context: FitContext, fingerprint: str, num_boost_round: int) -> tuple[Any, int]:
        """(init_model, rounds done) from a matching checkpoint, else (None, 0)."""
        data = context.checkpoints.read(CHECKPOINT_FILE)
        if data is None:
            return None, 0
        state = json.loads(data)
        if state.get("fingerprint") != fingerprint:
            context.log("checkpoint ignored: it was written for other hyperparameters or data")
            return None, 0
        done = min(int(state["rounds"]), num_boost_round)
        context.log(f"resuming from checkpoint after round {done}")
        return lgb.Booster(model_str=state["model"]), done

    def load(self, directory: Path) -> GBDTModel:
        booster = lgb.Booster(model_file=str(directory / MODEL_FILE))
        return GBDTModel(booster, {}, directory / MODEL_FILE)


ALGORITHM = LightGBMAlgorithm()
