"""Time a full synth of every environment and the test commands, as a newcomer and a developer run them.

Writes the `platform` section of benchmarks/results.json and the table in benchmarks/README.md
(between the `platform-results` markers). Targets, on the 2-core project machine: synth of all stages
< 20 s warm; `make test` < 5 min from a warm checkout and < 10 min from a fresh clone (a new clone of
this one: its .venv, node_modules and checkov's installed from the package caches the machine has, as a
newcomer's second clone would); `make check`, the edit-test loop's tier, < 1 min warm.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from results_file import commit, load_average, record, write_readme_section

ROOT = Path(__file__).resolve().parent.parent
SYNTH_TARGET_S = 20.0
TEST_TARGET_S = 300.0
FRESH_TEST_TARGET_S = 600.0
CHECK_TARGET_S = 60.0


def _timed(command: list[str], cwd: Path = ROOT) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, check=False, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-4000:]}{result.stderr[-2000:]}"
        )
    return elapsed


def _cdk_synth() -> float:
    shutil.rmtree(ROOT / "cdk.out", ignore_errors=True)
    return _timed(["make", "--no-print-directory", "synth"])


def _fresh_clone_test() -> float:
    """`make test` in a new clone of this checkout's HEAD (under a 0700 directory, as `mktemp -d` makes)."""
    with tempfile.TemporaryDirectory(prefix="fresh-clone-") as directory:
        clone = Path(directory) / "repo"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        return _timed(["make", "--no-print-directory", "test"], cwd=clone)


def _summary(values: list[float], digits: int = 1) -> dict[str, Any]:
    return {"median": round(statistics.median(values), digits), "values": [round(v, digits) for v in values]}


def _row(measure: str, values: list[float], target: float, digits: int = 1) -> str:
    median = round(statistics.median(values), digits)
    met = "yes" if median < target else "no"
    return f"| {measure} | {median} s | {len(values)} | < {target:.0f} s | {met} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--synth-reps", type=int, default=3)
    parser.add_argument("--test-reps", type=int, default=1)
    parser.add_argument("--fresh-reps", type=int, default=1)
    args = parser.parse_args()
    load_at_start = load_average()
    _cdk_synth()  # warm-up: the first synth after setup also byte-compiles and warms the disk cache
    synth = [_cdk_synth() for _ in range(args.synth_reps)]
    tests = [_timed(["make", "--no-print-directory", "test"]) for _ in range(args.test_reps)]
    checks = [_timed(["make", "--no-print-directory", "check"]) for _ in range(args.test_reps)]
    fresh = [_fresh_clone_test() for _ in range(args.fresh_reps)]
    results = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()},
        "synth_all_stages_warm_s": _summary(synth, digits=2),
        "synth_target_s": SYNTH_TARGET_S,
        "make_test_s": _summary(tests),
        "make_test_target_s": TEST_TARGET_S,
        "make_test_fresh_clone_s": _summary(fresh),
        "make_test_fresh_clone_target_s": FRESH_TEST_TARGET_S,
        "make_check_s": _summary(checks),
        "make_check_target_s": CHECK_TARGET_S,
    }
    record("platform", results, load_at_start)
    load = f"load average {load_at_start[0]:.1f} before, {load_average()[0]:.1f} after (2 cores)"
    table = "\n".join(
        [
            f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} at commit {commit()}; {load}.",
            "",
            "| measure | median | runs | target | met |",
            "| --- | --- | --- | --- | --- |",
            _row("`make synth`, all stages, warm", synth, SYNTH_TARGET_S, digits=2),
            _row("`make test`, everything, warm", tests, TEST_TARGET_S),
            _row("`make test`, everything, fresh clone", fresh, FRESH_TEST_TARGET_S),
            _row("`make check`, the fast tier, warm", checks, CHECK_TARGET_S),
        ]
    )
    write_readme_section("platform-results", "Platform", table)
    print(table)


if __name__ == "__main__":
    main()
