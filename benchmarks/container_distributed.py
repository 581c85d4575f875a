"""Distributed training: wall time of the container's `train` on 1 host vs 2 hosts (local processes).

Generates a binary-classification dataset (default 1 000 000 x 20, two Parquet files of half the rows each),
then runs the real entry point three ways on this machine:
  - 1 host, all CPUs (what one instance of this machine would do);
  - 1 host pinned to one CPU (the per-instance baseline for scaling out);
  - 2 hosts, each pinned to its own CPU, one Parquet file each (ShardedByS3Key), talking through LightGBM's
    socket learner on 127.0.0.1 (SM_HOST_ADDRESSES) - "2 instances of one CPU each".
Wall time is from starting the process(es) to the last one exiting; held-out AUC checks the models agree.
Writes the `distributed` section of benchmarks/results.json and the table in benchmarks/README.md.

usage: python benchmarks/container_distributed.py [--rows 1000000] [--features 20] [--rounds 100]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import wrk_load
from results_file import commit, record, write_readme_section
from scipy.stats import mannwhitneyu  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent

ENTRYPOINT = ROOT / "container" / "entrypoint.py"
WORK = Path(tempfile.gettempdir()) / "container-bench" / "distributed"
TEST_ROWS = 100_000
MARK = "distributed-results"


def make_data(rows: int, features: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features)).astype(np.float32)
    weights = rng.normal(size=features)
    logit = x @ weights + 0.5 * x[:, 0] * x[:, 1] - 0.5 * x[:, 2] ** 2
    labels = (logit + rng.logistic(size=rows) > 0).astype(np.float32)
    return labels, x


def write_parquet(path: Path, labels: np.ndarray, x: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table({"label": labels, **{f"f{i}": x[:, i] for i in range(x.shape[1])}})
    pq.write_table(table, path)


def tree(root: Path, host: str, hosts: list[str], files: list[Path], rounds: int) -> Path:
    config = root / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    hyperparameters = {"objective": "binary", "metric": "auc", "num_boost_round": str(rounds)}
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    channel = {
        "ContentType": "application/x-parquet",
        "TrainingInputMode": "File",
        "S3DistributionType": "ShardedByS3Key",
    }
    (config / "inputdataconfig.json").write_text(json.dumps({"train": channel}))
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": host, "hosts": hosts}))
    data = root / "input" / "data" / "train"
    data.mkdir(parents=True, exist_ok=True)
    for file in files:
        (data / file.name).symlink_to(file)
    return root


def _pin(cpus: set[int]) -> Callable[[], None]:
    def pin() -> None:
        os.sched_setaffinity(0, cpus)

    return pin


def run(name: str, files: list[Path], cpus: list[set[int]], rounds: int) -> dict[str, Any]:
    """One job: len(cpus) hosts, host i pinned to cpus[i] and reading its share of `files`."""
    hosts = [f"algo-{i + 1}" for i in range(len(cpus))]
    addresses = {host: f"127.0.0.1:{wrk_load.free_port()}" for host in hosts}
    roots = [
        tree(Path(tempfile.mkdtemp(dir=WORK, prefix=f"{name}-")), host, hosts, files[i :: len(hosts)], rounds)
        for i, host in enumerate(hosts)
    ]
    started = time.monotonic()
    processes = [
        subprocess.Popen(
            [sys.executable, str(ENTRYPOINT), "train"],
            env={**os.environ, "OPT_ML_DIR": str(root), "SM_HOST_ADDRESSES": json.dumps(addresses)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=_pin(cpu),  # noqa: PLW1509 - only sets the CPU affinity
        )
        for root, cpu in zip(roots, cpus, strict=True)
    ]
    outputs = [process.communicate(timeout=1800)[0] for process in processes]
    wall = time.monotonic() - started
    if any(process.returncode for process in processes):
        raise RuntimeError(f"{name} failed:\n" + "\n".join(out[-2000:] for out in outputs))
    summary = json.loads(next(line for line in outputs[0].splitlines() if line.startswith("#summary "))[9:])
    return {
        "hosts": len(hosts),
        "cpus_per_host": len(cpus[0]),
        "wall_seconds": round(wall, 2),
        "read_seconds": summary["seconds"]["read_data"],
        "fit_seconds": summary["seconds"]["fit"],
        "model": roots[0] / "model",
    }


def write_readme(body: str) -> None:
    write_readme_section(MARK, "Distributed training", body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "container"))
    from lightgbm_gbdt.algorithm import ALGORITHM  # noqa: PLC0415 - the container's own module, as serving loads it

    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise SystemExit("needs at least 2 CPUs")
    WORK.mkdir(parents=True, exist_ok=True)
    labels, x = make_data(args.rows + TEST_ROWS, args.features)
    half = args.rows // 2
    files = [WORK / "data" / "part-0.parquet", WORK / "data" / "part-1.parquet"]
    write_parquet(files[0], labels[:half], x[:half])
    write_parquet(files[1], labels[half : args.rows], x[half : args.rows])
    test_labels, test_x = labels[args.rows :], x[args.rows :].astype(np.float64)

    runs = {
        "1 host, all CPUs": run("one-all", files, [set(cpus)], args.rounds),
        "1 host, 1 CPU": run("one-1cpu", files, [{cpus[0]}], args.rounds),
        "2 hosts, 1 CPU each": run("two-1cpu", files, [{cpus[0]}, {cpus[1]}], args.rounds),
    }
    positives = test_labels == 1
    for result in runs.values():
        scores = ALGORITHM.load(result.pop("model")).predict(test_x)
        # AUC is the Mann-Whitney U of the positives' scores over the negatives', divided by the pairs.
        u = mannwhitneyu(scores[positives], scores[~positives]).statistic
        result["test_auc"] = round(float(u / (positives.sum() * (~positives).sum())), 5)
    base = runs["1 host, 1 CPU"]["wall_seconds"]
    data = {
        "rows": args.rows,
        "features": args.features,
        "rounds": args.rounds,
        "cpus": len(cpus),
        "date": time.strftime("%Y-%m-%d"),
        "runs": runs,
    }
    record("distributed", data)
    lines = [
        f"Measured {data['date']} at commit {commit()} on the project machine ({len(cpus)} cores): "
        f"{args.rows:,} x {args.features} "
        f"binary, {args.rounds} rounds, Parquet, held-out AUC on {TEST_ROWS:,} rows.",
        "",
        "| run | wall s | read s | fit s | speed-up vs 1 host, 1 CPU | held-out AUC |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, result in runs.items():
        lines.append(
            f"| {name} | {result['wall_seconds']:.1f} | {result['read_seconds']:.1f} | {result['fit_seconds']:.1f} "
            f"| {base / result['wall_seconds']:.2f}x | {result['test_auc']:.4f} |"
        )
    write_readme("\n".join(lines))
    print(json.dumps(data, indent=2))


if __name__ == "__main__":
    main()
