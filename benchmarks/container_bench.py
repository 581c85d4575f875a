"""Benchmark the algorithm container against AWS's scikit_bring_your_own reference, back to back.

Serving: ../shared/bench/serve_bench.py (wrk) on the reference (nginx + gunicorn + Flask, a decision tree on
iris) and on ours (LightGBM multiclass on the same iris data, default hyperparameters, same worker count);
in the same run, the serving floor (one process per core looping over the raw request body through the
server's own parser, predictor and formatter: container_predict.py `floor`) and the 10 000-row cells of the
container at BASELINE (side by side, for "no regression"). Training: ../shared/bench/train_bench.py on the
200 000 x 20 synthetic data. Writes the sections of benchmarks/results.json and the table in benchmarks/README.md.

Also: the training peak memory on a generated 2 GB CSV; the container alone through a 200 MB batch transform
(container_transform.py) against the same floor; log bytes per request at the 1-row load and beside a
malformed flood (container_log_cost.py); and a peer, Seldon MLServer 1.7.1 (container_peer.py).

usage: python benchmarks/container_bench.py [--reps 3] [--skip-serve] [--skip-train] [--skip-memory]
                                            [--skip-transform] [--skip-logs] [--skip-peer] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import container_log_cost
import container_peer
import numpy as np
from results_file import commit, load_average, record, write_readme_section

ROOT = Path(__file__).resolve().parent.parent
# ../shared/bench from the integration checkout (/work/main), ../../shared/bench from a worktree (/work/wt/NAME).
SHARED = next((d / "shared" / "bench" for d in ROOT.parents if (d / "shared" / "bench").is_dir()), ROOT.parent)
REF = SHARED / "ref"
REF_TMP = Path("/tmp/ref-bench")  # noqa: S108 - where ../shared/bench/ref/*.sh keep their venv, data and models
WORK = Path(tempfile.gettempdir()) / "container-bench"
PYTHON = sys.executable
ENTRYPOINT = ROOT / "container" / "entrypoint.py"
IRIS_CLASSES = ("setosa", "versicolor", "virginica")
REF_PORT, OUR_PORT = 18080, 18090
CELL_KEYS = ("rps", "p50_ms", "p99_ms", "rows_per_s", "loadgen_cpu_pct_one_core", "other_cpu_pct_one_core")
# `--no-wait`: measure now on a machine that stays busy (other engineers' work), instead of waiting for quiet
# before each rep and re-running noisy cells; the load average is recorded with every section.
WAIT_OPTIONS: list[str] = []
BIG_ROWS, FEATURES, SEED = 10_000, 4, 42  # serve_bench.py's 10 000-row payload for iris
MEMORY_CSV_BYTES = 2 * 1024**3
MEMORY_FEATURES, MEMORY_ROUNDS = 20, 10
BASELINE = "ab3ccce"  # the commit the 10 000-row cells are compared with, side by side in each run
FLOOR_TARGET = 0.9
# `--scale`: below 1, every timed phase is shorter (a run that proves the code works, not a measurement).
SCALE = [1.0]


def say(message: str) -> None:
    print(f"[container_bench] {message}", file=sys.stderr, flush=True)


def ensure_reference() -> None:
    """../shared/bench/ref/setup.sh: nginx + wrk, the reference venv, iris data and the reference's iris model."""
    ready = (
        (REF_TMP / "model-iris" / "decision-tree-model.pkl").exists() and shutil.which("wrk") and shutil.which("nginx")
    )
    if not ready:
        say("setting up the reference (../shared/bench/ref/setup.sh)")
        subprocess.run(["bash", str(REF / "setup.sh")], check=True, cwd=ROOT.parent)
    synth = REF_TMP / "data" / "synth" / "synth.csv"
    if not synth.exists():
        make_data = [str(REF_TMP / "venv" / "bin" / "python"), str(REF / "make_data.py"), "synth", str(synth.parent)]
        subprocess.run([*make_data, "200000", "20"], check=True)


def prepare_ours() -> dict[str, Path]:
    """Our inputs from the reference's files: iris with numeric labels (trained once), binary synth labels."""
    shutil.rmtree(WORK, ignore_errors=True)
    iris = WORK / "iris"
    (iris / "input" / "data" / "train").mkdir(parents=True)
    (iris / "input" / "config").mkdir(parents=True)
    rows = []
    for line in (REF_TMP / "data" / "iris" / "iris.csv").read_text().splitlines():
        name, *features = line.split(",")
        rows.append(",".join([str(IRIS_CLASSES.index(name)), *features]))
    (iris / "input" / "data" / "train" / "iris.csv").write_text("\n".join(rows) + "\n")
    (iris / "input" / "config" / "hyperparameters.json").write_text('{"objective": "multiclass", "num_class": "3"}')
    subprocess.run(
        [PYTHON, str(ENTRYPOINT), "train"],
        env={**os.environ, "OPT_ML_DIR": str(iris)},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    # The synthetic data has classes 0, 1, 2; the binary task is "class 0 or not", same rows and features.
    binary = WORK / "synth-binary"
    binary.mkdir()
    with (REF_TMP / "data" / "synth" / "synth.csv").open() as source, (binary / "synth.csv").open("w") as target:
        for line in source:
            label, rest = line.split(",", 1)
            target.write(("0," if label == "0" else "1,") + rest)
    payload = WORK / "payload-10000.csv"
    sys.path.insert(0, str(SHARED))
    sys.dont_write_bytecode = True  # ../shared is read-only
    from serve_bench import make_csv  # type: ignore[import-not-found]  # noqa: PLC0415 - lives outside the project

    payload.write_bytes(make_csv(BIG_ROWS, FEATURES, SEED, "%.6f"))
    return {"iris": iris, "binary": binary, "payload": payload}


def serve_bench(
    label: str, start_cmd: str, port: int, reps: int, *, rows: str = "1,100,10000", concurrency: str = "1,8"
) -> dict[str, Any]:
    out = WORK / f"serve-{label}.json"
    say(f"serve_bench: {label} ({reps} reps)")
    shorter = [] if SCALE[0] >= 1 else ["--duration", str(max(1, round(4 * SCALE[0]))), "--ping-duration", "1",
                                        "--warmup", "1"]  # fmt: skip
    subprocess.run(
        [
            PYTHON, str(SHARED / "serve_bench.py"), "--url", f"http://127.0.0.1:{port}", "--features", str(FEATURES),
            "--reps", str(reps), "--seed", str(SEED), "--start-cmd", start_cmd, "--label", label, "--out", str(out),
            "--log", str(WORK / f"serve-{label}.log"), "--rows", rows, "--concurrency", concurrency, *shorter,
            *WAIT_OPTIONS,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def bare_predict(model_dir: Path, payload: Path, workers: int, mode: str) -> dict[str, Any]:
    """One container_predict.py loop per core at once, as the server's worker processes run: summed rows/s."""
    seconds = max(1.0, 6.0 * SCALE[0])
    command = [PYTHON, str(Path(__file__).with_name("container_predict.py")), str(model_dir), str(payload)]
    processes = [
        subprocess.Popen([*command, str(seconds), mode], stdout=subprocess.PIPE, text=True) for _ in range(workers)
    ]
    # The last line: tl2cgen logs its compilation on stdout too.
    results = [json.loads(process.communicate()[0].splitlines()[-1]) for process in processes]
    return {"processes": workers, "mode": mode, "rows_per_s": round(sum(r["rows_per_s"] for r in results), 1)}


def baseline_entrypoint() -> Path:
    """The container at BASELINE (`git archive`), to serve side by side with this checkout's."""
    target = WORK / f"baseline-{BASELINE}"
    if not (target / "container" / "entrypoint.py").exists():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", BASELINE, "container"], cwd=ROOT, check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target / "container" / "entrypoint.py"


def train_bench(label: str, command: str, data: Path, reps: int) -> dict[str, Any]:
    out = WORK / f"train-{label}.json"
    say(f"train_bench: {label} ({reps} reps)")
    subprocess.run(
        [
            PYTHON, str(SHARED / "train_bench.py"), "--reps", str(reps), "--data", str(data), "--train-cmd", command,
            "--label", label, "--out", str(out), *WAIT_OPTIONS[:2],
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def _cell(result: dict[str, Any], name: str, key: str) -> float:
    value: float = result["summary"]["cells"][name][key]["median"]
    return value


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    summary = result["summary"]
    return {
        "cells": {
            name: {key: cell[key]["median"] for key in CELL_KEYS if key in cell}
            for name, cell in summary["cells"].items()
        },
        "cold_start_s": summary["cold_start_s"]["median"],
        "rss_mb": summary["mem_after_load_rss_mb"]["median"],
        "pss_mb": summary["mem_after_load_pss_mb"]["median"],
        "machine_calib_ms": [result["machine"]["calib_ms_before"], result["machine"]["calib_ms_after"]],
        "started": result["started"],
        "reps": result["config"]["reps"],
    }


def run_serving(paths: dict[str, Path], reps: int) -> dict[str, Any]:
    workers = len(os.sched_getaffinity(0))
    concurrency = ",".join(str(c) for c in sorted({1, workers, 8}))
    reference = serve_bench(
        "reference", f"{REF / 'start.sh'} {{port}} {REF_TMP / 'model-iris'}", REF_PORT, reps, concurrency=concurrency
    )
    ours_cmd = f"env OPT_ML_DIR={paths['iris']} SAGEMAKER_BIND_TO_PORT={{port}} {PYTHON} {ENTRYPOINT} serve"
    ours = serve_bench("ours", ours_cmd, OUR_PORT, reps, concurrency=concurrency)
    # The same cells in the same order as ours: the compiled trees are ready by the 10 000-row cells in both.
    baseline_cmd = ours_cmd.replace(str(ENTRYPOINT), str(baseline_entrypoint()))
    baseline = serve_bench(f"baseline-{BASELINE}", baseline_cmd, OUR_PORT, reps, concurrency=concurrency)
    # The same stack predicting with LightGBM itself: do the compiled trees still pay?
    plain_cmd = ours_cmd.replace("env ", "env GBDT_COMPILE_TREES=off ", 1)
    plain = serve_bench("ours-lightgbm-predictor", plain_cmd, OUR_PORT, reps, rows=str(BIG_ROWS))
    say("the serving floor and the bare predict of the same model, one process per core")
    floor = bare_predict(paths["iris"] / "model", paths["payload"], workers, "floor")
    bare = {
        mode: bare_predict(paths["iris"] / "model", paths["payload"], workers, mode)
        for mode in ("compiled", "lightgbm")
    }
    ref, our = _summary(reference), _summary(ours)
    big = {c: f"rows={BIG_ROWS} c={c}" for c in (workers, 8)}
    ratios = {
        "rps_1row_c8": round(_cell(ours, "rows=1 c=8", "rps") / _cell(reference, "rows=1 c=8", "rps"), 2),
        "rps_1row_c1": round(_cell(ours, "rows=1 c=1", "rps") / _cell(reference, "rows=1 c=1", "rps"), 2),
        "p99_1row_c1": round(_cell(ours, "rows=1 c=1", "p99_ms") / _cell(reference, "rows=1 c=1", "p99_ms"), 3),
        "rows_per_s_10000_c8": round(_cell(ours, big[8], "rows_per_s") / _cell(reference, big[8], "rows_per_s"), 3),
        "rows_per_s_10000_c8_compiled_over_lightgbm_stack": round(
            _cell(ours, big[8], "rows_per_s") / _cell(plain, big[8], "rows_per_s"), 3
        ),
        "cold_start": round(our["cold_start_s"] / ref["cold_start_s"], 3),
        "rss": round(our["rss_mb"] / ref["rss_mb"], 3),
    }
    # The re-anchored target: the server's 10 000-row rows/s against the floor, with wrk's own share of the cores.
    against_floor = {
        f"c={c}": {
            "rows_per_s": _cell(ours, name, "rows_per_s"),
            "of_floor": round(_cell(ours, name, "rows_per_s") / floor["rows_per_s"], 3),
            "loadgen_cpu_pct_one_core": _cell(ours, name, "loadgen_cpu_pct_one_core"),
            f"baseline_{BASELINE}_rows_per_s": _cell(baseline, name, "rows_per_s"),
            f"over_baseline_{BASELINE}": round(
                _cell(ours, name, "rows_per_s") / _cell(baseline, name, "rows_per_s"), 3
            ),
        }
        for c, name in big.items()
    }
    targets = {
        "rps_1row_c8 >= 2x reference": ratios["rps_1row_c8"] >= 2.0,
        "p99 1 row c=1 below reference": ratios["p99_1row_c1"] < 1.0,
        "cold start <= 1 s": our["cold_start_s"] <= 1.0,
        "RSS <= reference": ratios["rss"] <= 1.0,
        "compiled trees win (kept)": ratios["rows_per_s_10000_c8_compiled_over_lightgbm_stack"] > 1.0,
        **{
            f"10 000-row rows/s {c} >= {FLOOR_TARGET} of the floor": cell["of_floor"] >= FLOOR_TARGET
            for c, cell in against_floor.items()
        },
        **{
            f"10 000-row rows/s {c}: no regression against {BASELINE} (>= 0.95)": cell[f"over_baseline_{BASELINE}"]
            >= 0.95
            for c, cell in against_floor.items()
        },
    }
    return {
        "workers": workers,
        "reference": ref,
        "ours": our,
        "floor_10000_rows": floor,
        "rows_10000_against_floor": against_floor,
        "bare_predict_10000_rows": bare,
        "ours_lightgbm_predictor": _summary(plain),
        f"baseline_{BASELINE}": _summary(baseline),
        "ratios_ours_over_reference": ratios,
        "targets_met": targets,
        "notes": "medians over reps; ours = LightGBM multiclass (300 trees) on iris with default hyperparameters, "
        "reference = DecisionTreeClassifier on iris; floor = one process per core looping over the 10 000-row CSV "
        "body through the server's parser, compiled predictor and formatter (no HTTP); bare predict = the "
        "predictor alone on parsed rows; baseline = the container at that commit, served in the same run",
    }


def run_training(paths: dict[str, Path], reps: int) -> dict[str, Any]:
    synth = REF_TMP / "data" / "synth"
    ours_cmd = f"{PYTHON} {Path(__file__).with_name('container_train.py')} {{data}} {{model}}"
    bare_cmd = f"{PYTHON} {Path(__file__).with_name('container_bare_train.py')} {{data}} {{model}}"
    reference = train_bench("reference", f"{REF / 'train.sh'} {{data}} {{model}}", synth, reps)
    runs = {
        "ours_multiclass": train_bench("ours-multiclass", f"{ours_cmd} objective=multiclass num_class=3", synth, reps),
        "bare_multiclass": train_bench("bare-multiclass", f"{bare_cmd} objective=multiclass num_class=3", synth, reps),
        "ours_binary": train_bench("ours-binary", f"{ours_cmd} objective=binary", paths["binary"], reps),
        "bare_binary": train_bench("bare-binary", f"{bare_cmd} objective=binary", paths["binary"], reps),
    }

    def brief(result: dict[str, Any]) -> dict[str, Any]:
        return {
            "wall_s": result["wall_s"],
            "peak_rss_mb": result["peak_rss_mb_max_process"],
            "model_bytes": result["model_bytes"],
        }

    def ratio(mine: str, other: dict[str, Any]) -> float:
        return round(float(runs[mine]["wall_s"]["median"]) / float(other["wall_s"]["median"]), 3)

    ratios = {
        "ours_multiclass_over_reference": ratio("ours_multiclass", reference),
        "ours_multiclass_over_bare": ratio("ours_multiclass", runs["bare_multiclass"]),
        "ours_binary_over_bare": ratio("ours_binary", runs["bare_binary"]),
    }
    return {
        "data": "make_classification 200 000 x 20 (../shared/bench/ref/make_data.py synth), CSV 38 MB",
        "reference": brief(reference),
        **{name: brief(result) for name, result in runs.items()},
        "ratios": ratios,
        "targets_met": {
            "3-class training <= 1.15x bare lightgbm.train": ratios["ours_multiclass_over_bare"] <= 1.15,
            "3-class training <= 1x reference": ratios["ours_multiclass_over_reference"] <= 1.0,
        },
        "notes": "end-to-end process time (start, imports, CSV read, 100 rounds, model write), default "
        "hyperparameters; the reference fits a decision tree on the 3 classes, ours a 3-class LightGBM model on "
        "the same rows; bare = container_bare_train.py (pyarrow read, lightgbm.train with the container's "
        "parameters and threads, save_model: no checks, metrics, drift baseline or metadata); binary labels = "
        "(class != 0) of the same rows",
    }


def _memory_csv(path: Path) -> tuple[int, int]:
    """About 2 GB of binary-labelled rows (20 features, %.6f): a block of distinct random rows, repeated."""
    rng = np.random.default_rng(SEED)
    features = rng.normal(size=(50_000, MEMORY_FEATURES))
    labels = (features[:, 0] + features[:, 1] * features[:, 2] + rng.normal(size=len(features)) > 0).astype(int)
    block = "".join(
        f"{label}," + ",".join(f"{v:.6f}" for v in row) + "\n" for label, row in zip(labels, features, strict=True)
    ).encode()
    copies = MEMORY_CSV_BYTES // len(block)
    with path.open("wb") as handle:
        for _ in range(copies):
            handle.write(block)
    return copies * len(features), MEMORY_FEATURES


def run_memory() -> dict[str, Any]:
    """Peak RSS of the container's training on a 2 GB CSV against the float32 size of its matrix."""
    free = shutil.disk_usage(tempfile.gettempdir()).free
    if free < 3 * MEMORY_CSV_BYTES:
        raise SystemExit(f"the memory benchmark needs {3 * MEMORY_CSV_BYTES >> 30} GiB free in {tempfile.gettempdir()}")
    with tempfile.TemporaryDirectory(prefix="memory-bench-") as scratch:
        data, model = Path(scratch) / "data", Path(scratch) / "model"
        data.mkdir()
        model.mkdir()
        say("training peak memory: writing a 2 GB CSV")
        rows, features = _memory_csv(data / "big.csv")
        size = (data / "big.csv").stat().st_size
        say(f"training peak memory: {rows} rows x {features} features, {MEMORY_ROUNDS} rounds")
        started = time.monotonic()
        command = [PYTHON, str(Path(__file__).with_name("container_train.py")), str(data), str(model)]
        settings = ["objective=binary", f"num_boost_round={MEMORY_ROUNDS}"]
        subprocess.run([*command, *settings], check=True, stdout=subprocess.DEVNULL)
        seconds = time.monotonic() - started
    # Linux: the largest resident set of any waited-for descendant (the training process), in KiB.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    matrix = rows * features * 4
    return {
        "csv_bytes": size,
        "rows": rows,
        "features": features,
        "rounds": MEMORY_ROUNDS,
        "float32_matrix_bytes": matrix,
        "peak_rss_bytes": peak,
        "peak_over_float32_matrix": round(peak / matrix, 3),
        "seconds": round(seconds, 1),
        "targets_met": {"peak <= 2.5x float32 matrix": peak <= 2.5 * matrix},
        "notes": "binary, default hyperparameters but 10 rounds (memory is the data's, not the rounds'); "
        "rows = a block of 50 000 random rows repeated; peak = ru_maxrss of the training process",
    }


def run_transform(paths: dict[str, Path], serve: dict[str, Any] | None) -> dict[str, Any]:
    """container_transform.py (the container alone) on the iris model, against the serving floor."""
    out = WORK / "transform.json"
    megabytes = max(10, round(200 * SCALE[0]))
    say(f"batch transform: {megabytes} MB CSV, MultiRecord 6 MB, 2 concurrent (container_transform.py)")
    script = Path(__file__).with_name("container_transform.py")
    command = [PYTHON, str(script), str(paths["iris"] / "model"), str(out), "--megabytes", str(megabytes)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    result: dict[str, Any] = json.loads(out.read_text())
    workers = len(os.sched_getaffinity(0))
    floor = (
        serve["floor_10000_rows"]
        if serve and "floor_10000_rows" in serve
        else bare_predict(paths["iris"] / "model", paths["payload"], workers, "floor")
    )
    return result | {
        "floor_rows_per_s": floor["rows_per_s"],
        "container_alone_of_floor": round(result["container_alone"]["rows_per_s"] / floor["rows_per_s"], 3),
        "notes": "the same <= 6 MB payloads posted by 2 client threads to the container alone, which is the "
        "container's share of the job; floor = serve's (one process per core: parse, predict, format, no HTTP). "
        "The job through the local runner (moto-bound) is no longer a target: container_transform.py "
        "--through-runner measures it",
    }


def run_logs(paths: dict[str, Path]) -> dict[str, Any]:
    """container_log_cost.py on the iris model: log bytes per request, beside the requests/s of the same cells."""
    say("log bytes per request: 1 row c=8, and 1 row c=4 beside a malformed flood c=4")
    workers = len(os.sched_getaffinity(0))
    return container_log_cost.run(paths["iris"], b"5.1,3.5,1.4,0.2\n", workers, seconds=max(2.0, 10.0 * SCALE[0]))


def _fmt(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ")


def _mark(met: bool) -> str:
    return "met" if met else "**missed**"


def _serve_rows(serve: dict[str, Any]) -> list[str]:
    ref, our, met = serve["reference"], serve["ours"], serve["targets_met"]
    ratios = serve["ratios_ours_over_reference"]
    targets = {
        "rows=1 c=1": f"p99 below ref ({_mark(met['p99 1 row c=1 below reference'])})",
        "rows=1 c=8": f">= 2 ({_mark(met['rps_1row_c8 >= 2x reference'])})",
    }
    rows = []
    for name, cell in ref["cells"].items():
        key = "rows_per_s" if name.startswith(f"rows={BIG_ROWS}") else "rps"
        mine = our["cells"][name]
        rows.append(
            f"| {name}, {key.replace('rows_per_s', 'rows/s').replace('rps', 'req/s')} (p99 ms) "
            f"| {_fmt(cell[key])} ({cell['p99_ms']:.2f}) | {_fmt(mine[key])} ({mine['p99_ms']:.2f}) "
            f"| {mine[key] / cell[key]:.2f} | {targets.get(name, '')} |"
        )
    rows += [
        f"| cold start to first 200 /ping, s | {ref['cold_start_s']:.2f} | {our['cold_start_s']:.2f} "
        f"| {ratios['cold_start']:.2f} | <= 1 s ({_mark(met['cold start <= 1 s'])}) |",
        f"| server RSS after load, MB | {ref['rss_mb']:.0f} | {our['rss_mb']:.0f} | {ratios['rss']:.2f} "
        f"| <= ref ({_mark(met['RSS <= reference'])}) |",
    ]
    floor = _fmt(serve.get("floor_10000_rows", {}).get("rows_per_s", 0))
    for c, cell in serve.get("rows_10000_against_floor", {}).items():  # absent from runs before the floor
        base = cell[f"baseline_{BASELINE}_rows_per_s"]
        rows += [
            f"| 10 000 rows {c}: rows/s against the floor ({serve['workers']} processes: parse, predict, format) "
            f"[wrk's CPU, % of one core] | floor {floor} | {_fmt(cell['rows_per_s'])} "
            f"[{cell['loadgen_cpu_pct_one_core']:.0f}] | {cell['of_floor']:.2f} of the floor "
            f"| >= {FLOOR_TARGET} ({_mark(met[f'10 000-row rows/s {c} >= {FLOOR_TARGET} of the floor'])}) |",
            f"| 10 000 rows {c}: rows/s against `{BASELINE}`, same run | {BASELINE} {_fmt(base)} "
            f"| {_fmt(cell['rows_per_s'])} | {cell[f'over_baseline_{BASELINE}']:.2f} of {BASELINE} "
            f"| no regression ({_mark(met[f'10 000-row rows/s {c}: no regression against {BASELINE} (>= 0.95)'])}) |",
        ]
    rows.append(
        f"| 10 000 rows c=8: compiled trees over LightGBM's predictor, same stack | - | - "
        f"| {ratios['rows_per_s_10000_c8_compiled_over_lightgbm_stack']:.2f} "
        f"| kept if > 1 ({_mark(met['compiled trees win (kept)'])}) |"
    )
    return rows


def _train_rows(train: dict[str, Any]) -> list[str]:
    ref, met, ratios = train["reference"], train["targets_met"], train["ratios"]

    def cell(result: dict[str, Any]) -> str:
        return f"{result['wall_s']['median']:.2f} ({result['peak_rss_mb']:.0f})"

    return [
        f"| training 200 000 x 20, 3 classes, s (peak RSS MB) | {cell(ref)} | {cell(train['ours_multiclass'])} "
        f"| {ratios['ours_multiclass_over_reference']:.2f} "
        f"| <= 1 ({_mark(met['3-class training <= 1x reference'])}) |",
        f"| training 3 classes against bare `lightgbm.train`, s | bare {cell(train['bare_multiclass'])} "
        f"| {cell(train['ours_multiclass'])} | {ratios['ours_multiclass_over_bare']:.2f} of bare "
        f"| <= 1.15 ({_mark(met['3-class training <= 1.15x bare lightgbm.train'])}) |",
        f"| training binary against bare `lightgbm.train`, s | bare {cell(train['bare_binary'])} "
        f"| {cell(train['ours_binary'])} | {ratios['ours_binary_over_bare']:.2f} of bare | |",
    ]


def _memory_rows(memory: dict[str, Any]) -> list[str]:
    met = memory["targets_met"]["peak <= 2.5x float32 matrix"]
    return [
        f"| training peak RSS on a {memory['csv_bytes'] / 1024**3:.1f} GiB CSV ({memory['rows']:,} x "
        f"{memory['features']}), MB | float32 matrix {memory['float32_matrix_bytes'] / 2**20:,.0f} "
        f"| {memory['peak_rss_bytes'] / 2**20:,.0f} | {memory['peak_over_float32_matrix']:.2f} of the matrix "
        f"| <= 2.5 ({_mark(met)}) |".replace(",", " ")
    ]


def _transform_rows(transform: dict[str, Any]) -> list[str]:
    if "floor_rows_per_s" not in transform:  # a run before the floor
        return []
    size = f"{transform['csv_bytes'] / 2**20:.0f} MB"
    return [
        f"| batch transform {size} CSV, 6 MB MultiRecord, 2 concurrent: container alone, rows/s "
        f"| floor {_fmt(transform['floor_rows_per_s'])} | {_fmt(transform['container_alone']['rows_per_s'])} "
        f"| {transform['container_alone_of_floor']:.2f} of the floor | |"
    ]


def _logs_rows(logs: dict[str, Any]) -> list[str]:
    met = _mark(logs["targets_met"]["<= 1 byte of log per request"])
    return [
        f"| log bytes per request, {name} (req/s) | - | {cell['log_bytes_per_request']:.3f} "
        f"({_fmt(cell['requests'] / cell['seconds'])}) | - | <= 1 ({met}) |"
        for name, cell in logs["cells"].items()
    ]


def _peer_rows(peer: dict[str, Any]) -> list[str]:
    met = _mark(peer["targets_met"]["every cell >= 2x MLServer"])
    return [
        f"| against MLServer 1.7.1 (V2 JSON, {peer['workers']} workers, same booster): {name}, req/s "
        f"| MLServer {_fmt(peer['mlserver'][name]['rps'])} | {_fmt(peer['ours'][name]['rps'])} "
        f"| {ratio:.2f} | >= 2 ({met}) |"
        for name, ratio in peer["ratios_ours_over_mlserver"].items()
    ]


def table(sections: dict[str, dict[str, Any] | None]) -> str:
    lines = ["| measure | reference | ours | ours / reference | target |", "| --- | --- | --- | --- | --- |"]
    render = {
        "serve": _serve_rows,
        "train": _train_rows,
        "memory": _memory_rows,
        "transform": _transform_rows,
        "logs": _logs_rows,
        "peer": _peer_rows,
    }
    for name, rows in render.items():
        section = sections.get(name)
        if section:
            lines += rows(section)
    return "\n".join(lines)


def write_readme(text_table: str, sections: dict[str, dict[str, Any] | None]) -> None:
    cores = len(os.sched_getaffinity(0))
    stamps = []
    for name, section in sections.items():
        measured = (section or {}).get("measured_at")
        if measured:
            loads = [measured.get("load_average_start", [None])[0], measured["load_average_end"][0]]
            load = " -> ".join(f"{value:.1f}" for value in loads if value is not None)
            stamps.append(f"`{name}` {measured['date']} at commit `{measured['commit']}` (load average {load})")
    body = (
        f"Measured on the project machine ({cores} cores, shared with other work: load average 2.0 = both cores "
        f"busy), reference and ours back to back: {'; '.join(stamps)}.\n\n{text_table}"
    )
    write_readme_section("container-results", "Container", body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--skip-serve", action="store_true")
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-transform", action="store_true")
    parser.add_argument("--skip-logs", action="store_true")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--scale", type=float, default=1.0, help="below 1: shorter phases, to check the code runs")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for a quiet machine (see WAIT_OPTIONS)")
    args = parser.parse_args()
    if args.no_wait:
        WAIT_OPTIONS[:] = ["--quiet-pct", "0", "--retries", "0"]
    SCALE[0] = args.scale
    if not (args.skip_serve and args.skip_train and args.skip_transform and args.skip_logs and args.skip_peer):
        ensure_reference()
        paths = prepare_ours()
    results_path = Path(__file__).with_name("results.json")
    results: dict[str, Any] = json.loads(results_path.read_text()) if results_path.exists() else {}
    runs: dict[str, tuple[bool, Callable[[], dict[str, Any]]]] = {
        "serve": (args.skip_serve, lambda: run_serving(paths, args.reps)),
        "train": (args.skip_train, lambda: run_training(paths, args.reps)),
        "memory": (args.skip_memory, run_memory),
        "transform": (args.skip_transform, lambda: run_transform(paths, sections.get("serve"))),
        "logs": (args.skip_logs, lambda: run_logs(paths)),
        "peer": (args.skip_peer, lambda: container_peer.run(WORK, seconds=max(1.0, 5.0 * args.scale))),
    }
    sections: dict[str, dict[str, Any] | None] = {}
    for name, (skip, run) in runs.items():
        if skip:
            sections[name] = results.get(name)
            continue
        load_at_start = load_average()
        record(name, run(), load_at_start)
        sections[name] = json.loads(results_path.read_text())[name]
    rendered = table(sections)
    write_readme(rendered, sections)
    print(rendered)
    print(f"commit {commit()}", file=sys.stderr)


if __name__ == "__main__":
    main()
