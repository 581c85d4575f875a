"""After swapping the algorithm: regenerate every export, then list what still refers to the one before.

    python -m scripts.swap_check                       # the algorithm the Dockerfile names (ARG ALGORITHM)
    python -m scripts.swap_check --algorithm linear_model:ALGORITHM

1. `container/entrypoint.py export` rewrites the exports (interface.json, hyperparameters.json, algorithm.json,
   metric_definitions.json, the README's table) from what the chosen algorithm declares.
2. Every hyperparameter and metric name the exports held before and no longer hold is looked for in the files a
   user edits (the configuration, the docs, the READMEs); each reference left is listed as file:line.
3. Every library of container/requirements.txt imported only by another algorithm's folder is listed.
4. The Dockerfile's ARG ALGORITHM must name the chosen algorithm, whose folder holds requirements.txt and
   system-packages.txt (what the Dockerfile installs for it).
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

from config.contract import ALGORITHM_FILE, CONTAINER, CONTAINER_DIRECTORY, HYPERPARAMETERS_FILE
from scripts.demo_swap import chosen

ROOT = CONTAINER_DIRECTORY.parent
# What a user edits and reads: a name left here misleads (generated files are rewritten in step 1).
SEARCHED = ("config/environments.toml", "README.md", "container/README.md", "docs/*.md")
# What the Dockerfile takes from the algorithm's folder besides its package.
IMAGE_FILES = ("requirements.txt", "system-packages.txt")
_REQUIREMENT = re.compile(r"^([A-Za-z0-9_.-]+)==", re.MULTILINE)


def _declared_names() -> set[str]:
    """Hyperparameter names, metric names and their bare forms (`validation:<metric>` and `<metric>`) of the exports."""
    schema = json.loads(HYPERPARAMETERS_FILE.read_text(encoding="utf-8"))
    metrics = json.loads(ALGORITHM_FILE.read_text(encoding="utf-8"))["metrics"]
    return set(schema["hyperparameters"]) | set(metrics) | {m.partition(":")[2] for m in metrics}


def dockerfile_reference() -> str:
    """`<folder>:ALGORITHM` for the Dockerfile's `ARG ALGORITHM=<folder>` (the image's ALGORITHM_MODULE)."""
    folder = chosen()
    if not folder:
        raise SystemExit("container/Dockerfile has no `ARG ALGORITHM=<folder>`")
    return f"{folder}:ALGORITHM"


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
                found += [
                    f"{path.relative_to(ROOT)}:{number}: {m.group(1)}"
                    for m in pattern.finditer(line)
                    if not _a_setting_of_the_app(path, line, m.end())
                ]
    return found


def _a_setting_of_the_app(path: Path, line: str, end: int) -> bool:
    """A TOML key outside a hyperparameters table (`evaluation = { metric = ...`) is the app's own setting, not a
    hyperparameter that happens to share its name."""
    return path.suffix == ".toml" and "hyperparameters" not in line and re.match(r"\s*=", line[end:]) is not None


def _imports(folder: Path) -> set[str]:
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.partition(".")[0])
    return names


def leftover_libraries(reference: str, requirements_file: Path = CONTAINER_DIRECTORY / "requirements.txt") -> list[str]:
    """Requirements of the contract layer's file imported by another algorithm's folder and by neither the chosen
    one nor the contract layer (an algorithm's own belong in its folder's requirements.txt)."""
    chosen = reference.partition(":")[0].partition(".")[0]
    folders = [p for p in CONTAINER_DIRECTORY.iterdir() if (p / "__init__.py").is_file()]
    needed = set().union(*(_imports(p) for p in folders if p.name in {chosen, "sagemaker_contract", "hyperschema"}))
    others = set().union(
        set(), *(_imports(p) for p in folders if p.name not in {chosen, "sagemaker_contract", "hyperschema"})
    )
    requirements = _REQUIREMENT.findall(requirements_file.read_text(encoding="utf-8"))
    return [
        f"container/requirements.txt: {name} (imported only by another algorithm)"
        for name in requirements
        if (module := name.lower().replace("-", "_")) in others and module not in needed
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algorithm", help="module:attribute (default: the Dockerfile's ARG ALGORITHM)")
    args = parser.parse_args(argv)
    reference = args.algorithm or dockerfile_reference()
    problems = []
    if dockerfile_reference() != reference:
        problems.append(f"container/Dockerfile: ARG ALGORITHM={dockerfile_reference().partition(':')[0]}")
    before = _declared_names()
    regenerate(reference)
    problems += leftover_names(before - _declared_names())
    problems += leftover_libraries(reference)
    folder = reference.partition(":")[0].partition(".")[0]
    for owned in IMAGE_FILES:
        if not (CONTAINER_DIRECTORY / folder / owned).is_file():
            problems.append(f"container/{folder}/{owned}: missing (the Dockerfile copies it; comments only is fine)")
    for problem in problems:
        print(problem)  # noqa: T201
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
