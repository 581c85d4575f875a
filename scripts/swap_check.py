"""After swapping the algorithm: regenerate every export, then list what still refers to the one before.

    python -m scripts.swap_check                       # the algorithm the Dockerfile names (ALGORITHM_MODULE)
    python -m scripts.swap_check --algorithm linear_model:ALGORITHM

1. `container/entrypoint.py export` rewrites the exports (interface.json, hyperparameters.json, algorithm.json,
   metric_definitions.json, the README's table) from what the chosen algorithm declares.
2. Every hyperparameter and metric name the exports held before and no longer hold is looked for in the files a
   user edits (the configuration, the docs, the READMEs); each reference left is listed as file:line.
3. Every library of container/requirements.txt imported only by another algorithm's folder is listed.
4. The Dockerfile must name the chosen algorithm and copy its folder.
Exit 1 when anything is listed (docs/swap.md).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from config.container_interface import CONTAINER_DIRECTORY
from config.contract import ALGORITHM_FILE, CONTAINER, HYPERPARAMETERS_FILE

ROOT = CONTAINER_DIRECTORY.parent
# What a user edits and reads: a name left here misleads (generated files are rewritten in step 1).
SEARCHED = ("config/environments.toml", "README.md", "container/README.md", "docs/*.md")
_ENV = re.compile(rf"^ENV {CONTAINER.environment.algorithm_module}=(\S+)$", re.MULTILINE)
_REQUIREMENT = re.compile(r"^([A-Za-z0-9_.-]+)==", re.MULTILINE)


def _declared_names() -> set[str]:
    """Hyperparameter names, metric names and their bare forms (`validation:auc` and `auc`) of the exports."""
    schema = json.loads(HYPERPARAMETERS_FILE.read_text(encoding="utf-8"))
    metrics = json.loads(ALGORITHM_FILE.read_text(encoding="utf-8"))["metrics"]
    return set(schema["hyperparameters"]) | set(metrics) | {m.partition(":")[2] for m in metrics}


def dockerfile_reference() -> str:
    found = _ENV.search((CONTAINER_DIRECTORY / "Dockerfile").read_text(encoding="utf-8"))
    if found is None:
        raise SystemExit(f"container/Dockerfile sets no {CONTAINER.environment.algorithm_module}")
    return found.group(1)


def regenerate(reference: str) -> None:
    env = {**os.environ, CONTAINER.environment.algorithm_module: reference}
    command = [sys.executable, str(CONTAINER_DIRECTORY / "entrypoint.py"), "export"]
    subprocess.run(command, check=True, env=env)  # noqa: S603 - our own entry point


def leftover_names(gone: set[str]) -> list[str]:
    """file:line: name, for each name of `gone` still written in the searched files."""
    if not gone:
        return []
    pattern = re.compile(
        r"(?<![\w:.-])(" + "|".join(map(re.escape, sorted(gone, key=len, reverse=True))) + r")(?![\w-])"
    )
    found = []
    for glob in SEARCHED:
        for path in sorted(ROOT.glob(glob)):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                found += [f"{path.relative_to(ROOT)}:{number}: {m.group(1)}" for m in pattern.finditer(line)]
    return found


def _imports(folder: Path) -> set[str]:
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.partition(".")[0])
    return names


def leftover_libraries(reference: str) -> list[str]:
    """Requirements imported by another algorithm's folder and by neither the chosen one nor the contract layer."""
    chosen = reference.partition(":")[0].partition(".")[0]
    folders = [p for p in CONTAINER_DIRECTORY.iterdir() if (p / "__init__.py").is_file()]
    needed = set().union(*(_imports(p) for p in folders if p.name in {chosen, "sagemaker_contract", "hyperschema"}))
    others = set().union(
        set(), *(_imports(p) for p in folders if p.name not in {chosen, "sagemaker_contract", "hyperschema"})
    )
    requirements = _REQUIREMENT.findall((CONTAINER_DIRECTORY / "requirements.txt").read_text(encoding="utf-8"))
    return [
        f"container/requirements.txt: {name} (imported only by another algorithm)"
        for name in requirements
        if (module := name.lower().replace("-", "_")) in others and module not in needed
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algorithm", help="module:attribute (default: the Dockerfile's ALGORITHM_MODULE)")
    args = parser.parse_args(argv)
    reference = args.algorithm or dockerfile_reference()
    problems = []
    if dockerfile_reference() != reference:
        problems.append(f"container/Dockerfile: ENV {CONTAINER.environment.algorithm_module}={dockerfile_reference()}")
    before = _declared_names()
    regenerate(reference)
    problems += leftover_names(before - _declared_names())
    problems += leftover_libraries(reference)
    folder = reference.partition(":")[0].partition(".")[0]
    if not re.search(rf"^COPY {re.escape(folder)} ", (CONTAINER_DIRECTORY / "Dockerfile").read_text(), re.MULTILINE):
        problems.append(f"container/Dockerfile: no COPY of {folder}/")
    for problem in problems:
        print(problem)  # noqa: T201
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
