"""Fixtures: one trained model per objective (trained by the real entry point) and servers on them."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.container.harness import (
    CONTAINER,
    ENTRYPOINT,
    Hosts,
    Server,
    csv_bytes,
    make_data,
    run_train,
    start_server,
    write_tree,
)
from tests.container.work_user import Runtime, others_can_read, work_user_runtime

# Unit tests of the contract layer import it the way entrypoint.py does.
if str(CONTAINER) not in sys.path:
    sys.path.insert(0, str(CONTAINER))

OBJECTIVES = ("regression", "binary", "multiclass")
HYPERPARAMETERS = {
    "regression": {"objective": "regression", "num_boost_round": "60"},
    "binary": {"objective": "binary", "num_boost_round": "60", "metric": "auc"},
    "multiclass": {"objective": "multiclass", "num_class": "3", "num_boost_round": "60"},
}


class Trained:
    """A finished training job: its tree, log and held-out rows."""

    def __init__(self, root: Path, stdout: str, test_labels: np.ndarray, test_features: np.ndarray) -> None:
        self.root = root
        self.stdout = stdout
        self.test_labels = test_labels
        self.test_features = test_features


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Trained]:
    """GIVEN generated data (train split over two files, a validation channel), one job per objective."""
    jobs = {}
    for objective in OBJECTIVES:
        labels, features = make_data(objective, 3000, seed=1)
        train, valid, test = slice(0, 2000), slice(2000, 2500), slice(2500, 3000)
        root = write_tree(
            tmp_path_factory.mktemp(f"train-{objective}"),
            HYPERPARAMETERS[objective],
            {
                "train": {
                    "part-0.csv": csv_bytes(labels[train][:1000], features[train][:1000]),
                    "sub/part-1.csv": csv_bytes(labels[train][1000:], features[train][1000:]),
                },
                "validation": {"part-0.csv": csv_bytes(labels[valid], features[valid])},
            },
        )
        result = run_train(root)
        assert result.returncode == 0, result.stderr
        jobs[objective] = Trained(root, result.stdout, labels[test], features[test])
    return jobs


def wait_for_compiled_trees(server: Server, workers: int) -> None:
    """Serving switches to compiled trees in the background; tests should exercise that path."""
    if shutil.which("gcc") is None:
        return
    for _ in range(600):
        messages = [line.get("message", "") for line in server.log_lines() if line.get("logger") == "algorithm"]
        if sum(message.startswith("compiled inference ready") for message in messages) == workers:
            return
        if any("unavailable" in message or "disagree" in message for message in messages):
            raise AssertionError(f"compiled inference failed: {messages}")
        time.sleep(0.1)
    raise AssertionError("compiled inference was not ready within 60 s")


# Started once for the session: four modules send them requests, and each start compiles the trees.
@pytest.fixture(scope="session")
def servers(trained: dict[str, Trained], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    running: dict[str, Server] = {}
    try:
        for objective, job in trained.items():
            log = tmp_path_factory.mktemp(f"serve-{objective}") / "serve.log"
            running[objective] = start_server(job.root, log, SAGEMAKER_MODEL_SERVER_WORKERS="2")
        for server in running.values():
            wait_for_compiled_trees(server, workers=2)
        yield running
    finally:
        for server in running.values():
            server.stop()


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    """The hosts of a distributed job a test starts; any still running are killed after it."""
    with Hosts() as started:
        yield started


@pytest.fixture(scope="session")
def work_user() -> Iterator[Runtime]:
    """The entry point as the work user can run it after the drop, wherever the clone and the Python live."""
    base = Path(tempfile.mkdtemp(prefix="work-user-"))
    try:
        if os.geteuid() == 0:
            base.chmod(0o755)
            assert others_can_read(base), f"{base}: set TMPDIR to a directory every user can enter"
            yield work_user_runtime(base)
        else:  # only root drops: the interpreter at hand reads all it needs
            yield Runtime(sys.executable, ENTRYPOINT, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
