"""`train` on several hosts: training processes on 127.0.0.1 play the hosts of one job (SM_HOST_ADDRESSES)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from lightgbm_gbdt.algorithm import ALGORITHM

from tests.container.harness import (
    Hosts,
    auc,
    csv_bytes,
    failure_of,
    host_addresses,
    make_data,
    resource_config,
    run_train,
    write_tree,
)

HYPERPARAMETERS = {
    "objective": "binary",
    "metric": "auc",
    "num_boost_round": "40",
    "distributed_timeout_seconds": "20",
}
ROWS, TEST_ROWS = 4000, 1000


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return make_data("binary", ROWS + TEST_ROWS, seed=7)


@pytest.fixture(scope="module")
def single_host_auc(data: tuple[np.ndarray, np.ndarray], tmp_path_factory: pytest.TempPathFactory) -> float:
    labels, features = data
    root = write_tree(
        tmp_path_factory.mktemp("single"),
        HYPERPARAMETERS,
        {"train": {"a.csv": csv_bytes(labels[:ROWS], features[:ROWS])}},
    )
    result = run_train(root)
    assert result.returncode == 0, result.stderr
    return auc(labels[ROWS:], ALGORITHM.load(root / "model").predict(features[ROWS:]))


@pytest.mark.parametrize("distribution", ["FullyReplicated", "ShardedByS3Key"])
def test_hosts_train_one_model_as_good_as_one_host(
    distribution: str,
    hosts: Hosts,
    data: tuple[np.ndarray, np.ndarray],
    single_host_auc: float,
    tmp_path: Path,
) -> None:
    """GIVEN 2 hosts on 127.0.0.1 (the same files, or one shard each) WHEN both train THEN the first host's
    model predicts held-out rows as well as a one-host model; the second host exits 0 and writes no model."""
    labels, features = data
    names = ["algo-1", "algo-2"]
    addresses = host_addresses(names)
    halves = [slice(0, ROWS // 2), slice(ROWS // 2, ROWS)]
    roots = []
    for rank, name in enumerate(names):
        if distribution == "FullyReplicated":
            files = {f"part-{i}.csv": csv_bytes(labels[half], features[half]) for i, half in enumerate(halves)}
        else:
            files = {f"part-{rank}.csv": csv_bytes(labels[halves[rank]], features[halves[rank]])}
        channel = {"ContentType": "text/csv", "TrainingInputMode": "File", "S3DistributionType": distribution}
        roots.append(
            write_tree(
                tmp_path / name,
                HYPERPARAMETERS,
                {"train": files, "validation": {"v.csv": csv_bytes(labels[ROWS:], features[ROWS:])}},
                input_data_config={"train": channel, "validation": channel | {"S3DistributionType": "FullyReplicated"}},
                resource_config=resource_config(name, names),
            )
        )
    processes = [hosts.start(root, addresses) for root in reversed(roots)][::-1]  # the second host first
    outputs = [process.communicate(timeout=60)[0] for process in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs

    two_host_auc = auc(labels[ROWS:], ALGORITHM.load(roots[0] / "model").predict(features[ROWS:]))
    assert two_host_auc == pytest.approx(single_host_auc, abs=0.01)
    assert two_host_auc > 0.97
    metadata = json.loads((roots[0] / "model" / "metadata.json").read_text())
    assert metadata["num_machines"] == 2
    assert metadata["tree_learner"] == "data"
    summary = json.loads((roots[0] / "output" / "data" / "training_summary.json").read_text())
    assert (summary["rank"], summary["num_machines"], summary["rows"]["train"]) == (0, 2, ROWS // 2)

    assert not (roots[1] / "model").exists() or not any((roots[1] / "model").iterdir())
    assert not (roots[1] / "output" / "data").exists()
    assert not (roots[1] / "output" / "failure").exists()
    # Both hosts saw the same validation metrics, round by round: one model, the same early-stopping decisions.
    first, second = ([line.split()[-1] for line in out.splitlines() if line.startswith("#metrics")] for out in outputs)
    assert first == second
    assert len(first) >= 10


def test_three_hosts_train_together(hosts: Hosts, data: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    """GIVEN 3 hosts sharing FullyReplicated files WHEN they train THEN only algo-1 writes a (good) model."""
    labels, features = data
    names = ["algo-1", "algo-2", "algo-3"]
    addresses = host_addresses(names)
    roots = [
        write_tree(
            tmp_path / name,
            HYPERPARAMETERS | {"num_boost_round": "20"},
            {"train": {"a.csv": csv_bytes(labels[:ROWS], features[:ROWS])}},
            resource_config=resource_config(name, names),
        )
        for name in names
    ]
    processes = [hosts.start(root, addresses) for root in roots]
    outputs = [process.communicate(timeout=60)[0] for process in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], outputs
    assert auc(labels[ROWS:], ALGORITHM.load(roots[0] / "model").predict(features[ROWS:])) > 0.95
    assert [(root / "model" / "metadata.json").exists() for root in roots] == [True, False, False]


@pytest.mark.parametrize("current", ["algo-1", "algo-2"])
def test_a_host_that_cannot_reach_the_others_fails_in_time_naming_them(
    current: str, hosts: Hosts, data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    """GIVEN a 2-host job where only one host starts WHEN the timeout passes THEN it fails, naming the other."""
    labels, features = data
    names = ["algo-1", "algo-2"]
    addresses = host_addresses(names)
    root = write_tree(
        tmp_path,
        HYPERPARAMETERS | {"distributed_timeout_seconds": "3"},
        {"train": {"a.csv": csv_bytes(labels[:500], features[:500])}},
        resource_config=resource_config(current, names),
    )
    started = time.monotonic()
    process = hosts.start(root, addresses)
    output = process.communicate(timeout=30)[0]
    assert process.returncode == 1, output
    assert time.monotonic() - started < 20
    other = next(name for name in names if name != current)
    reason = failure_of(root)
    assert reason.startswith(f"cannot reach host {other} ({addresses[other]}) within 3 s"), reason
    assert not (root / "model" / "metadata.json").exists()


def test_host_names_resolve_with_retries_until_the_deadline() -> None:
    """GIVEN DNS that knows algo-2 only on the third try THEN the cluster waits for it; an unknown host fails."""
    from sagemaker_contract import distributed  # noqa: PLC0415 - the container's path is set up by conftest
    from sagemaker_contract.channels import Resources  # noqa: PLC0415
    from sagemaker_contract.errors import UserError  # noqa: PLC0415

    tries = {"algo-2": 0}

    def lookup(host: str) -> str:
        if host == "algo-2" and tries["algo-2"] < 2:
            tries["algo-2"] += 1
            raise OSError("Name or service not known")
        return {"algo-1": "10.0.0.1", "algo-2": "10.0.0.2"}[host]

    resources = Resources("algo-2", ("algo-1", "algo-2"))
    settings = distributed.DistributedSettings(timeout_seconds=5, port=12500)
    cluster = distributed.resolve_cluster(resources, settings, environ={}, lookup=lookup, sleep=lambda _: None)
    assert (cluster.addresses, cluster.rank, cluster.listen_port) == (("10.0.0.1:12500", "10.0.0.2:12500"), 1, 12500)

    def unknown(host: str) -> str:
        raise OSError("Name or service not known")

    with pytest.raises(UserError, match=r"cannot resolve host algo-1 within 1 s"):
        distributed.resolve_cluster(
            resources, distributed.DistributedSettings(timeout_seconds=1), environ={}, lookup=unknown, sleep=time.sleep
        )
