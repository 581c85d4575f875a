"""The seam between the contract layer and the algorithm layer.

An algorithm module exposes an object satisfying `Algorithm`, which the contract layer finds by a
`module:attribute` reference (sagemaker_contract/seam.py). The contract layer reads and validates everything
SageMaker hands over, then calls `fit` (training) or `load` + `predict` (serving); the algorithm never touches
/opt/ml paths, HTTP or the failure file. What the algorithm declares as data (`Declaration`: metrics with their
direction, capabilities, tuning ranges, an example) is exported for the app (sagemaker_contract/exports.py).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

# float64, except training features: the algorithm's `feature_dtype`.
Matrix = NDArray[np.float64] | NDArray[np.float32]
H = TypeVar("H")
# The documented per-round metrics line, matched by the regexes of metric_definitions.json:
#   #metrics round=<n> <channel>:<metric>=<float> [<channel>:<metric>=<float> ...]
METRICS_PREFIX = "#metrics"
_METRIC_NAME = re.compile(r"^(train|validation):[a-z0-9_]+$")


@dataclass(frozen=True)
class Metric:
    """A metric `fit` may report: "<channel>:<name>", and whether higher values are better."""

    name: str
    direction: Literal["maximize", "minimize"]

    def __post_init__(self) -> None:
        if not _METRIC_NAME.match(self.name):
            raise ValueError(f"metric name {self.name!r} must look like train:<metric> or validation:<metric>")
        if self.direction not in {"maximize", "minimize"}:
            raise ValueError(f"metric {self.name}: direction must be maximize or minimize, got {self.direction!r}")


@dataclass(frozen=True)
class Capabilities:
    """What the algorithm can do beyond training on one host; the app refuses a configuration that needs more.

    `several_hosts`: `fit` trains with `FitContext.cluster` (one model from every host's rows).
    `checkpoints`: `fit` writes `FitContext.checkpoints` when due and resumes from them.
    `early_stopping`: `fit` reports the validation metric every round, so a tuning job may stop a weak job early.
    `tuning_resource`: an integer hyperparameter counting what Hyperband allots (rounds, epochs), if any.
    """

    several_hosts: bool = False
    checkpoints: bool = False
    early_stopping: bool = False
    tuning_resource: str | None = None


@dataclass(frozen=True)
class TuningRange:
    """A default range of a tuning job: integer or continuous from `min_value` to `max_value`, or categorical.

    The app cannot import the image's package: it reads these ranges from algorithm.json, which the entry point
    writes from this one, into its configuration's `config.tuning.ParameterRangeSettings`.
    """

    type: Literal["integer", "continuous", "categorical"]
    min_value: float | None = None
    max_value: float | None = None
    scaling: str = "Auto"
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Declaration:
    """What an algorithm declares as data, exported for the app (container/algorithm.json).

    `metric_hyperparameter` names the hyperparameter choosing the one metric `fit` evaluates (and so the only
    one a tuning job can read), or None when `fit` reports all of `metrics`. `example` trains in seconds on a
    few thousand rows (the demo and the conformance kit use it); `feature_dtype` is what `fit` receives.
    """

    metrics: tuple[Metric, ...]
    capabilities: Capabilities = Capabilities()
    tuning_ranges: Mapping[str, TuningRange] = field(default_factory=dict)
    metric_hyperparameter: str | None = None
    example: Mapping[str, str] = field(default_factory=dict)
    feature_dtype: str = "float64"


class StopRequested(Exception):  # noqa: N818 - a request, not an error
    """Raised by an algorithm when `FitContext.stop_requested()` turned true (SIGTERM) after a checkpoint."""


@dataclass(frozen=True)
class Dataset:
    """One channel's rows: features of the algorithm's `feature_dtype` (rows x features, C order), float64 labels."""

    channel: str
    labels: Matrix
    features: Matrix

    @property
    def num_rows(self) -> int:
        return int(self.features.shape[0])

    @property
    def num_features(self) -> int:
        return int(self.features.shape[1])


class MetricsLog:
    """Prints per-round metrics in the one format metric_definitions.json matches."""

    def __init__(self, write: Callable[[str], None] = print) -> None:
        self._write = write
        # The last value reported of each metric, as SageMaker's FinalMetricDataList keeps them.
        self.last: dict[str, float] = {}

    def report(self, round_: int, values: Mapping[str, float]) -> None:
        """`values` maps "<channel>:<metric>" (e.g. "validation:auc") to its value after round `round_` (1-based).

        A round may report some metrics only (the train channel's every train_metric_period rounds).
        """
        for name in values:
            if not _METRIC_NAME.match(name):
                raise ValueError(f"metric name {name!r} must look like train:<metric> or validation:<metric>")
        self.last |= values
        fields = " ".join(f"{name}={value:.6g}" for name, value in values.items())
        self._write(f"{METRICS_PREFIX} round={round_} {fields}")


@dataclass
class Checkpoints:
    """/opt/ml/checkpoints when the job configures checkpointing (the directory exists), else disabled.

    Writes are atomic (temporary file + rename), so a spot interruption never leaves a torn checkpoint.
    """

    directory: Path | None
    interval_seconds: float = 60.0
    _last_save: float = field(default_factory=time.monotonic)

    @property
    def enabled(self) -> bool:
        return self.directory is not None

    def due(self) -> bool:
        return self.enabled and time.monotonic() - self._last_save >= self.interval_seconds

    def read(self, name: str) -> bytes | None:
        if self.directory is None or not (self.directory / name).is_file():
            return None
        return (self.directory / name).read_bytes()

    def write(self, name: str, data: bytes) -> None:
        if self.directory is None:
            return
        target = self.directory / name
        partial = target.with_name(f".{name}.partial")
        partial.write_bytes(data)
        partial.replace(target)
        self._last_save = time.monotonic()


@dataclass
class Cluster:
    """The hosts of a distributed training job, for the algorithm's own distributed learner.

    `addresses[i]` is "ip:port" of `hosts[i]`; this host is `hosts[rank]` and listens on `listen_port`.
    The algorithm reports progress of its network set-up (`peer_connected`, `network_ready`): the contract
    layer fails the job naming the hosts that never connected when `timeout_seconds` pass first.
    """

    hosts: tuple[str, ...]
    addresses: tuple[str, ...]
    rank: int
    timeout_seconds: float
    _connected: set[int] = field(default_factory=set)
    _ready: threading.Event = field(default_factory=threading.Event)

    @property
    def num_machines(self) -> int:
        return len(self.hosts)

    @property
    def listen_port(self) -> int:
        return int(self.addresses[self.rank].rsplit(":", 1)[1])

    def peer_connected(self, rank: int) -> None:
        self._connected.add(rank)

    def network_ready(self) -> None:
        self._connected.update(set(range(self.num_machines)) - {self.rank})
        self._ready.set()

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def unreachable(self) -> str:
        """The other hosts not connected yet, as "algo-2 (10.0.0.2:12400), ..." (every other host if none known)."""
        missing = [i for i in range(self.num_machines) if i != self.rank and i not in self._connected]
        return ", ".join(f"{self.hosts[i]} ({self.addresses[i]})" for i in missing)


@dataclass
class FitContext:
    """What the contract layer gives `fit` besides data and hyperparameters."""

    metrics: MetricsLog
    checkpoints: Checkpoints
    stop_requested: Callable[[], bool]
    num_threads: int
    log: Callable[[str], None] = print
    # Set when the job has several hosts: `fit` must then train with the other hosts (one model, identical on
    # every host); the contract layer gives each host its own rows of the train channel.
    cluster: Cluster | None = None


class TrainedModel(Protocol):
    def save(self, directory: Path) -> None:
        """Write every file serving needs into `directory` (the contract layer makes it atomic)."""

    def summary(self) -> dict[str, Any]:
        """Facts for the training summary and the model metadata (rounds, best iteration, ...)."""

    def predict(self, features: Matrix) -> Matrix:
        """What the saved model predicts for `features` (the drift baseline's sample of a channel)."""


class Model(Protocol):
    """A loaded model, as serving uses it."""

    @property
    def num_features(self) -> int: ...

    def predict(self, features: Matrix) -> Matrix:
        """One prediction per row: shape (rows,) for one output, (rows, k) for k outputs."""

    def accelerate(self, cache_dir: Path) -> None:
        """Called once per worker after the model serves: may build a faster predictor in the background
        (scratch space in `cache_dir`, shared by the workers) and switch to it. A no-op is fine."""


class Algorithm(Protocol[H]):
    """What the object ALGORITHM_MODULE names (`module:attribute`) must offer to run behind this contract."""

    @property
    def name(self) -> str: ...

    @property
    def hyperparameters(self) -> type[H]:
        """A dataclass built with `sagemaker_contract.hyperparameters.param` fields."""

    @property
    def declaration(self) -> Declaration:
        """Metrics, capabilities, default tuning ranges and an example (exported; see `Declaration`)."""

    def check(self, hyperparameters: H, dataset: Dataset) -> None:
        """Raise `UserError` when the data do not suit the hyperparameters (labels out of range, ...)."""

    def fit(self, hyperparameters: H, train: Dataset, validation: Dataset | None, context: FitContext) -> TrainedModel:
        """Train; report metrics each round; checkpoint when due; raise `StopRequested` when asked to stop."""

    def load(self, directory: Path) -> Model:
        """Load what `TrainedModel.save` wrote, ready to predict on one thread."""
