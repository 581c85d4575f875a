"""Benchmark the algorithm container against AWS's scikit_bring_your_own reference, back to back.

Serving: ../shared/bench/serve_bench.py (wrk) on the reference (nginx + gunicorn + Flask, a decision tree on
iris) and on ours (LightGBM multiclass on the same iris data, default hyperparameters, same worker count);
in the same run, the same model's bare predict throughput (one process per worker, no HTTP) for the
stack-overhead target. Training: ../shared/bench/train_bench.py on the 200 000 x 20 synthetic data.
Writes the `serve` and `train` sections of benchmarks/results.json and the table in benchmarks/README.md.

usage: python benchmarks/container_bench.py [--reps 3] [--skip-serve] [--skip-train]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from results_file import record, write_readme_section

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "bench"
REF = SHARED / "ref"
REF_TMP = Path("/tmp/ref-bench")  # noqa: S108 - where ../shared/bench/ref/*.sh keep their venv, data and models
WORK = Path(tempfile.gettempdir()) / "container-bench"
PYTHON = sys.executable
ENTRYPOINT = ROOT / "container" / "entrypoint.py"
CELL_KEYS = ("rps", "p50_ms", "p99_ms", "rows_per_s", "other_cpu_pct_one_core")
IRIS_CLASSES = ("setosa", "versicolor", "virginica")
REF_PORT, OUR_PORT = 18080, 18090
CELL_KEYS = ("rps", "p50_ms", "p99_ms", "rows_per_s", "other_cpu_pct_one_core")
BIG_ROWS, FEATURES, SEED = 10_000, 4, 42  # serve_bench.py's 10 000-row payload for iris


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


def serve_bench(label: str, start_cmd: str, port: int, reps: int, rows: str = "1,100,10000") -> dict[str, Any]:
    out = WORK / f"serve-{label}.json"
    say(f"serve_bench: {label} ({reps} reps)")
    subprocess.run(
        [
            PYTHON, str(SHARED / "serve_bench.py"), "--url", f"http://127.0.0.1:{port}", "--features", str(FEATURES),
            "--reps", str(reps), "--seed", str(SEED), "--start-cmd", start_cmd, "--label", label, "--out", str(out),
            "--log", str(WORK / f"serve-{label}.log"), "--rows", rows,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def bare_predict(model_dir: Path, payload: Path, workers: int, mode: str, seconds: float = 6.0) -> dict[str, Any]:
    """One predict loop per worker at once, as the server's worker processes run: summed rows/s."""
    command = [
        PYTHON,
        str(Path(__file__).with_name("container_predict.py")),
        str(model_dir),
        str(payload),
        str(seconds),
        mode,
    ]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(workers)]
    # The last line: tl2cgen logs its compilation on stdout too.
    results = [json.loads(process.communicate()[0].splitlines()[-1]) for process in processes]
    return {"processes": workers, "mode": mode, "rows_per_s": round(sum(r["rows_per_s"] for r in results), 1)}


def train_bench(label: str, command: str, data: Path, reps: int) -> dict[str, Any]:
    out = WORK / f"train-{label}.json"
    say(f"train_bench: {label} ({reps} reps)")
    subprocess.run(
        [
            PYTHON, str(SHARED / "train_bench.py"), "--reps", str(reps), "--data", str(data), "--train-cmd", command,
            "--label", label, "--out", str(out),
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
            name: {
                key: cell[key]["median"]
                for key in ("rps", "p50_ms", "p99_ms", "rows_per_s", "other_cpu_pct_one_core")
                if key in cell
            }
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
    reference = serve_bench("reference", f"{REF / 'start.sh'} {{port}} {REF_TMP / 'model-iris'}", REF_PORT, reps)
    ours_cmd = f"env OPT_ML_DIR={paths['iris']} SAGEMAKER_BIND_TO_PORT={{port}} {PYTHON} {ENTRYPOINT} serve"
    ours = serve_bench("ours", ours_cmd, OUR_PORT, reps)
    # The same stack predicting with LightGBM itself, for the stack-overhead target on the uncompiled model.
    plain_cmd = ours_cmd.replace("env ", "env GBDT_COMPILE_TREES=off ", 1)
    plain = serve_bench("ours-lightgbm-predictor", plain_cmd, OUR_PORT, reps, rows=str(BIG_ROWS))
    say("bare predict throughput of the same model, one process per worker")
    bare = {
        mode: bare_predict(paths["iris"] / "model", paths["payload"], workers, mode)
        for mode in ("compiled", "lightgbm")
    }
    ref, our = _summary(reference), _summary(ours)
    big = f"rows={BIG_ROWS} c=8"
    stack = {
        "compiled": _cell(ours, big, "rows_per_s"),
        "lightgbm": _cell(plain, big, "rows_per_s"),
    }
    ratios = {
        "rps_1row_c8": round(_cell(ours, "rows=1 c=8", "rps") / _cell(reference, "rows=1 c=8", "rps"), 2),
        "rps_1row_c1": round(_cell(ours, "rows=1 c=1", "rps") / _cell(reference, "rows=1 c=1", "rps"), 2),
        "p99_1row_c1": round(_cell(ours, "rows=1 c=1", "p99_ms") / _cell(reference, "rows=1 c=1", "p99_ms"), 3),
        "rows_per_s_10000_c8": round(_cell(ours, big, "rows_per_s") / _cell(reference, big, "rows_per_s"), 3),
        "rows_per_s_10000_c8_vs_bare_predict_lightgbm": round(stack["lightgbm"] / bare["lightgbm"]["rows_per_s"], 3),
        "rows_per_s_10000_c8_vs_bare_predict_compiled": round(stack["compiled"] / bare["compiled"]["rows_per_s"], 3),
        "rows_per_s_10000_c8_compiled_over_lightgbm_stack": round(stack["compiled"] / stack["lightgbm"], 3),
        "cold_start": round(our["cold_start_s"] / ref["cold_start_s"], 3),
        "rss": round(our["rss_mb"] / ref["rss_mb"], 3),
    }
    targets = {
        "rps_1row_c8 >= 2x reference": ratios["rps_1row_c8"] >= 2.0,
        "p99 1 row c=1 below reference": ratios["p99_1row_c1"] < 1.0,
        "cold start <= 1 s": our["cold_start_s"] <= 1.0,
        "RSS <= reference": ratios["rss"] <= 1.0,
        "10 000-row rows/s >= 80% of bare predict (LightGBM)": ratios["rows_per_s_10000_c8_vs_bare_predict_lightgbm"]
        >= 0.8,
        "compiled trees win (kept)": ratios["rows_per_s_10000_c8_compiled_over_lightgbm_stack"] > 1.0,
    }
    return {
        "workers": workers,
        "reference": ref,
        "ours": our,
        "bare_predict_10000_rows": bare,
        "stack_10000_rows_c8_rows_per_s": stack,
        "ours_lightgbm_predictor": _summary(plain),
        "ratios_ours_over_reference": ratios,
        "targets_met": targets,
        "notes": "medians over reps; ours = LightGBM multiclass (300 trees) on iris with default hyperparameters, "
        "reference = DecisionTreeClassifier on iris; bare predict = the same model in one process per worker, "
        "compiled trees (what the server switches to) and LightGBM's own predictor",
    }


def run_training(paths: dict[str, Path], reps: int) -> dict[str, Any]:
    synth = REF_TMP / "data" / "synth"
    ours_cmd = f"{PYTHON} {Path(__file__).with_name('container_train.py')} {{data}} {{model}}"
    reference = train_bench("reference", f"{REF / 'train.sh'} {{data}} {{model}}", synth, reps)
    binary = train_bench("ours-binary", f"{ours_cmd} objective=binary", paths["binary"], reps)
    multiclass = train_bench("ours-multiclass", f"{ours_cmd} objective=multiclass num_class=3", synth, reps)

    def brief(result: dict[str, Any]) -> dict[str, Any]:
        return {
            "wall_s": result["wall_s"],
            "peak_rss_mb": result["peak_rss_mb_max_process"],
            "model_bytes": result["model_bytes"],
        }

    ratio = round(binary["wall_s"]["median"] / reference["wall_s"]["median"], 3)
    return {
        "data": "make_classification 200 000 x 20 (../shared/bench/ref/make_data.py synth), CSV 38 MB",
        "reference": brief(reference),
        "ours_binary": brief(binary),
        "ours_multiclass": brief(multiclass),
        "ratio_ours_binary_over_reference": ratio,
        "ratio_ours_multiclass_over_reference": round(
            multiclass["wall_s"]["median"] / reference["wall_s"]["median"], 3
        ),
        "targets_met": {"binary training <= 0.5x reference": ratio <= 0.5},
        "notes": "end-to-end process time (start, imports, CSV read, 100 rounds, model write), default "
        "hyperparameters; binary labels = (class != 0) of the same rows; the reference fits a decision tree "
        "on the 3-class labels",
    }


def _fmt(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ")


def _mark(met: bool) -> str:
    return "met" if met else "**missed**"


def _serve_rows(serve: dict[str, Any]) -> list[str]:
    ref, our, met = serve["reference"], serve["ours"], serve["targets_met"]
    ratios, bare = serve["ratios_ours_over_reference"], serve["bare_predict_10000_rows"]
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
    stack, compiled_met = serve["stack_10000_rows_c8_rows_per_s"], met["compiled trees win (kept)"]
    rows += [
        f"| cold start to first 200 /ping, s | {ref['cold_start_s']:.2f} | {our['cold_start_s']:.2f} "
        f"| {ratios['cold_start']:.2f} | <= 1 s ({_mark(met['cold start <= 1 s'])}) |",
        f"| server RSS after load, MB | {ref['rss_mb']:.0f} | {our['rss_mb']:.0f} | {ratios['rss']:.2f} "
        f"| <= ref ({_mark(met['RSS <= reference'])}) |",
    ]
    for mode, label in (("lightgbm", "LightGBM's predictor"), ("compiled", "compiled trees")):
        key = f"rows_per_s_10000_c8_vs_bare_predict_{mode}"
        target = (
            f">= 0.80 ({_mark(met['10 000-row rows/s >= 80% of bare predict (LightGBM)'])})"
            if mode == "lightgbm"
            else f"kept if faster: {ratios['rows_per_s_10000_c8_compiled_over_lightgbm_stack']:.2f}x "
            f"({_mark(compiled_met)})"
        )
        rows.append(
            f"| 10 000 rows c=8 with {label}: rows/s vs bare predict ({serve['workers']} processes) | - "
            f"| {_fmt(stack[mode])} of {_fmt(bare[mode]['rows_per_s'])} | {ratios[key]:.2f} of bare | {target} |"
        )
    return rows


def _train_rows(train: dict[str, Any]) -> list[str]:
    ref = train["reference"]
    rows = []
    for label, key in (("binary", "ours_binary"), ("3-class", "ours_multiclass")):
        ours = train[key]
        met = train["targets_met"]["binary training <= 0.5x reference"]
        target = f"<= 0.5 ({_mark(met)})" if key == "ours_binary" else ""
        rows.append(
            f"| training 200 000 x 20, {label}, s (peak RSS MB) "
            f"| {ref['wall_s']['median']:.2f} ({ref['peak_rss_mb']:.0f}) "
            f"| {ours['wall_s']['median']:.2f} ({ours['peak_rss_mb']:.0f}) "
            f"| {ours['wall_s']['median'] / ref['wall_s']['median']:.2f} | {target} |"
        )
    return rows


def table(serve: dict[str, Any] | None, train: dict[str, Any] | None) -> str:
    lines = ["| measure | reference | ours | ours / reference | target |", "| --- | --- | --- | --- | --- |"]
    lines += _serve_rows(serve) if serve else []
    lines += _train_rows(train) if train else []
    return "\n".join(lines)


def write_readme(text_table: str) -> None:
    stamp = time.strftime("%Y-%m-%d")
    cores = len(os.sched_getaffinity(0))
    body = f"Measured {stamp} on the project machine ({cores} cores), reference and ours back to back.\n\n{text_table}"
    write_readme_section("container-results", "Container", body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--skip-serve", action="store_true")
    parser.add_argument("--skip-train", action="store_true")
    args = parser.parse_args()
    if not (args.skip_serve and args.skip_train):
        ensure_reference()
        paths = prepare_ours()
    results: dict[str, Any] = (
        json.loads((Path(__file__).with_name("results.json")).read_text())
        if Path(__file__).with_name("results.json").exists()
        else {}
    )
    serve = train = None
    if not args.skip_serve:
        serve = run_serving(paths, args.reps)
        record("serve", serve)
    else:
        serve = results.get("serve")
    if not args.skip_train:
        train = run_training(paths, args.reps)
        record("train", train)
    else:
        train = results.get("train")
    rendered = table(serve, train)
    write_readme(rendered)
    print(rendered)


if __name__ == "__main__":
    main()
