"""Time a full synth of every environment and the whole test command, as a newcomer runs them.

Writes the `platform` section of benchmarks/results.json and the table in benchmarks/README.md
(between the `platform-results` markers). Targets (issue: foundation): synth of all stages
< 20 s warm, the full test command < 5 min, on the 2-core project machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from results_file import commit, load_average, record, write_readme_section

ROOT = Path(__file__).resolve().parent.parent
SYNTH_TARGET_S = 20.0
TEST_TARGET_S = 300.0


def _timed(command: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, check=False, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-4000:]}{result.stderr[-2000:]}"
        )
    return elapsed


def _cdk_synth() -> float:
    shutil.rmtree(ROOT / "cdk.out", ignore_errors=True)
    return _timed(["make", "--no-print-directory", "synth"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--synth-reps", type=int, default=3)
    parser.add_argument("--test-reps", type=int, default=1)
    args = parser.parse_args()
    load_at_start = load_average()
    _cdk_synth()  # warm-up: the first synth after setup also byte-compiles and warms the disk cache
    synth = [_cdk_synth() for _ in range(args.synth_reps)]
    tests = [_timed(["make", "--no-print-directory", "test"]) for _ in range(args.test_reps)]
    synth_median = round(statistics.median(synth), 2)
    test_median = round(statistics.median(tests), 1)
    results = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()},
        "synth_all_stages_warm_s": {
            "median": round(statistics.median(synth), 2),
            "values": [round(s, 2) for s in synth],
        },
        "synth_target_s": SYNTH_TARGET_S,
        "make_test_s": {"median": test_median, "values": [round(t, 1) for t in tests]},
        "make_test_target_s": TEST_TARGET_S,
    }
    record("platform", results, load_at_start)
    load = f"load average {load_at_start[0]:.1f} before, {load_average()[0]:.1f} after (2 cores)"
    table = "\n".join(
        [
            f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} at commit {commit()}; {load}.",
            "",
            "| measure | median | runs | target | met |",
            "| --- | --- | --- | --- | --- |",
            f"| `make synth`, all stages, warm | {synth_median} s | {len(synth)} | < {SYNTH_TARGET_S:.0f} s "
            f"| {'yes' if synth_median < SYNTH_TARGET_S else 'no'} |",
            f"| `make test`, everything | {test_median} s | {len(tests)} | < {TEST_TARGET_S:.0f} s "
            f"| {'yes' if test_median < TEST_TARGET_S else 'no'} |",
        ]
    )
    write_readme_section("platform-results", "Platform", table)
    print(table)


if __name__ == "__main__":
    main()
