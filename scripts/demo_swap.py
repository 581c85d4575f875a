"""`make demo ALGORITHM=<folder>`: the demo with another of the container's algorithms, in a scratch copy.

The copy holds the repository's tracked files with docs/swap.md's one algorithm setting changed (the
Dockerfile's `ARG ALGORITHM=`) and the exports regenerated from that algorithm, so the checkout is left as it
is; the demo then runs there. `config/environments.toml` is written in one algorithm's hyperparameter names, so
the demo rewrites the copy's to fit the algorithm the exports declare (`fit_to_algorithm`), and says what changed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from config.algorithm import AlgorithmExport
from config.contract import CONTAINER_DIRECTORY
from config.hyperparameters import Schema

ROOT = CONTAINER_DIRECTORY.parent
_ARG = re.compile(r"^ARG ALGORITHM=(\S+)$", re.MULTILINE)


def tracked_files(root: Path = ROOT) -> list[str]:
    """The files git tracks or would track (not ignored) that the working tree holds, as they are now."""
    command = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    listed = subprocess.run(command, cwd=root, capture_output=True, text=True, check=True)  # noqa: S603 - git, fixed arguments
    return [name for name in listed.stdout.split("\0") if name and (root / name).is_file()]


def copy_repository(destination: Path, root: Path = ROOT) -> None:
    for name in tracked_files(root):
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / name, target)


def choose(dockerfile: Path, folder: str) -> None:
    """Set the Dockerfile's `ARG ALGORITHM=` (the image's and a checkout's algorithm) to `folder`."""
    if not (dockerfile.parent / folder / "__init__.py").is_file():
        known = sorted(p.parent.name for p in dockerfile.parent.glob("*/requirements.txt"))
        raise SystemExit(f"ALGORITHM={folder}: no algorithm folder container/{folder}/ (known: {', '.join(known)})")
    text, count = _ARG.subn(f"ARG ALGORITHM={folder}", dockerfile.read_text(encoding="utf-8"))
    if count != 1:
        raise SystemExit(f"{dockerfile}: expected one `ARG ALGORITHM=<folder>` line, found {count}")
    dockerfile.write_text(text, encoding="utf-8")


def chosen(dockerfile: Path = CONTAINER_DIRECTORY / "Dockerfile") -> str:
    """The folder the Dockerfile's `ARG ALGORITHM=` names, or "" when it names none."""
    found = _ARG.search(dockerfile.read_text(encoding="utf-8"))
    return found.group(1) if found else ""


def run_in_copy(folder: str, work: Path, argv: list[str]) -> int:
    """Copy the repository under `work`, choose `folder` there, regenerate its exports and run the demo there."""
    copy = work / f"repository-{folder}"
    shutil.rmtree(copy, ignore_errors=True)
    copy_repository(copy)
    choose(copy / "container" / "Dockerfile", folder)
    subprocess.run([sys.executable, "container/entrypoint.py", "export"], cwd=copy, check=True)
    print(f"==> the demo with {folder}, in {copy} (the Dockerfile's ARG ALGORITHM={folder})", flush=True)  # noqa: T201
    command = [sys.executable, "-m", "scripts.demo", "--fit-configuration", *argv]
    return subprocess.run(command, cwd=copy, check=False).returncode  # noqa: S603


def fit_to_algorithm(raw: dict[str, Any], algorithm: AlgorithmExport, schema: Schema) -> list[str]:
    """Fit each environment's training settings to what `algorithm` declares, in place; one note per change.

    Hyperparameters the schema does not know become the declared example; a quality gate or tuning objective
    on an undeclared metric is dropped; spot training without checkpoints and several hosts without
    `several_hosts` are turned off. With the algorithm the configuration was written for, nothing changes.
    """
    notes = []
    for name, environment in raw.get("environments", {}).items():
        training: dict[str, Any] = environment.get("training", {})
        where = f"{name}.training"
        if set(training.get("hyperparameters", {})) - set(schema.hyperparameters):
            training["hyperparameters"] = dict(algorithm.example_hyperparameters)
            notes.append(f"{where}.hyperparameters: the declared example set")
        for table in ("evaluation", "tuning"):
            metric = _metric_of(training.get(table, {}), table)
            if metric is not None and metric not in algorithm.metrics:
                del training[table]
                notes.append(f"{where}.{table}: dropped ({metric} is not declared)")
        if training.get("use_spot") and not algorithm.capabilities.checkpoints:
            training["use_spot"] = False
            training.pop("max_wait_seconds", None)
            notes.append(f"{where}.use_spot: false (no checkpoints)")
        if training.get("instance_count", 1) > 1 and not algorithm.capabilities.several_hosts:
            training["instance_count"] = 1
            notes.append(f"{where}.instance_count: 1 (one host)")
    return notes


def _metric_of(table: Mapping[str, Any], kind: str) -> str | None:
    value = table.get("metric" if kind == "evaluation" else "objective")
    return value if isinstance(value, str) else None


def to_toml(table: Mapping[str, Any], prefix: str = "") -> str:
    """`table` (as tomllib parsed it: no dates here) as TOML: scalars and inline values first, then sub-tables."""
    scalars = [f"{_key(k)} = {_value(v)}" for k, v in table.items() if not isinstance(v, dict)]
    lines = ([f"[{prefix}]"] if prefix and (scalars or not table) else []) + scalars
    text = "\n".join(lines) + ("\n\n" if lines else "")
    for key, value in table.items():
        if isinstance(value, dict):
            text += to_toml(value, f"{prefix}.{_key(key)}" if prefix else _key(key))
    return text


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {type(value).__name__}: {value!r}")
