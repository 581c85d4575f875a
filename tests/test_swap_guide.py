"""docs/swap.md followed with an algorithm the repository does not ship, in a scratch copy of it.

The copy holds the tracked files (`git ls-files`); a mean predictor is written there as a new user would write
one, only the files the guide's table lists change outside its folder, then the guide's steps run: the
conformance kit, the swap check (which regenerates the exports) and `make synth && make demo`: the demo
synthesizes every environment as `cdk synth` does, then runs Dev's whole local pipeline (train, quality gate,
create model, batch transform, promote, serve a request). `make demo ALGORITHM=linear_model` is the same demo
with the shipped second algorithm (tests/scripts/test_demo_swap.py tests how it fits the configuration).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.demo_swap import choose, copy_repository, tracked_files
from tests.helpers import ROOT

FOLDER = "mean_model"
# The whole algorithm: predicts the training labels' mean (shrunk towards 0), reports its squared error.
ALGORITHM = """
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hyperschema import param
from sagemaker_contract.protocol import Declaration, Metric


@dataclass(frozen=True)
class MeanHyperparameters:
    shrink: float = param(default=0.0, minimum=0.0, maximum=1.0, doc="pull the mean this far towards 0")


class MeanModel:
    num_features = 0

    def __init__(self, mean: float, num_features: int) -> None:
        self.mean, self.num_features = mean, num_features

    def predict(self, features):
        return np.full(len(features), self.mean)

    def save(self, directory: Path) -> None:
        (directory / "mean.json").write_text(json.dumps([self.mean, self.num_features]))

    def summary(self):
        return {"mean": self.mean}

    def accelerate(self, cache_dir: Path) -> None:
        pass


class MeanAlgorithm:
    name = "mean-model"
    hyperparameters = MeanHyperparameters
    declaration = Declaration(
        metrics=(Metric("train:mse", "minimize"), Metric("validation:mse", "minimize")),
        example={"shrink": "0.1"},
    )

    def check(self, hyperparameters, dataset) -> None:
        pass

    def fit(self, hyperparameters, train, validation, context):
        model = MeanModel(float(np.mean(train.labels)) * (1 - hyperparameters.shrink), train.num_features)
        for channel in (train, validation) if validation is not None else (train,):
            error = float(np.mean((model.predict(channel.features) - channel.labels) ** 2))
            context.metrics.report(1, {f"{channel.channel}:mse": error})
        return model

    def load(self, directory: Path):
        return MeanModel(*json.loads((directory / "mean.json").read_text()))


ALGORITHM = MeanAlgorithm()
"""


def _run(command: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, check=False, env={**os.environ, **env}, timeout=300
    )


def _follow_the_guide(copy: Path) -> set[str]:
    """Write the algorithm and edit what docs/swap.md's table lists; returns the files changed outside the folder."""
    folder = copy / "container" / FOLDER
    folder.mkdir()
    (folder / "__init__.py").write_text(ALGORITHM)
    (folder / "requirements.txt").write_text("# none beyond the contract layer's\n")
    (folder / "system-packages.txt").write_text("# none\n")
    choose(copy / "container" / "Dockerfile", FOLDER)
    environments = copy / "config" / "environments.toml"
    text = re.sub(
        r"^hyperparameters = \{.*\}$", 'hyperparameters = { shrink = "0" }', environments.read_text(), flags=re.M
    )
    text = re.sub(
        r"^evaluation = \{ metric = \"[^\"]+\", threshold = [0-9.]+, higher_is_better = true \}$",
        'evaluation = { metric = "validation:mse", threshold = 1.0, higher_is_better = false }',
        text,
        flags=re.M,
    )
    # The mean model keeps no checkpoints: the configuration refuses spot training for it (docs/swap.md).
    text = re.sub(r"^max_wait_seconds = .*\n", "", text, flags=re.M)
    # Dev (the demo's environment) ships without a quality gate: one on the mean model's metric, so that the
    # demo's pipeline also passes the gate, in the direction the algorithm declares
    gate = 'evaluation = { metric = "validation:mse", threshold = 1.0, higher_is_better = false }'
    text = text.replace("[environments.dev.training]\n", f"[environments.dev.training]\n{gate}\n")
    environments.write_text(re.sub(r"^use_spot = true$", "use_spot = false", text, flags=re.M))
    return {"container/Dockerfile", "config/environments.toml"}


@pytest.mark.slow
def test_the_swap_guide_with_an_algorithm_the_repository_does_not_ship(tmp_path: Path) -> None:
    # GIVEN a scratch copy of the repository and a mean predictor written there per docs/swap.md
    copy = tmp_path / "repository"
    copy_repository(copy)
    changed = _follow_the_guide(copy)
    guide = (copy / "docs" / "swap.md").read_text()
    for name in changed:
        assert f"| `{name}` |" in guide, f"{name} is not in docs/swap.md's table"
    python = sys.executable

    # WHEN the guide's step 2 runs THEN the conformance kit passes for it
    kit = _run(
        [
            python,
            "-m",
            "pytest",
            "tests/container/test_conformance.py",
            "--confcutdir=tests/container",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        copy,
        CONFORMANCE_ALGORITHM=f"{FOLDER}:ALGORITHM",
    )
    assert kit.returncode == 0, kit.stdout[-3000:] + kit.stderr[-3000:]
    assert re.search(r"\b\d+ passed", kit.stdout), kit.stdout[-3000:]

    # WHEN the swap check runs THEN the exports are the mean model's and no setting names the old algorithm: what
    # it lists is prose (the docs, the READMEs, environments.toml's comments), which the guide leaves to the user
    check = _run([python, "-m", "scripts.swap_check"], copy)
    leftovers = [line for line in check.stdout.splitlines() if not line.startswith("wrote ")]
    assert check.returncode in {0, 1}, check.stderr
    assert leftovers == [] or check.returncode == 1
    for leftover in leftovers:
        path, number, _ = leftover.split(":", 2)
        written = (copy / path).read_text().splitlines()[int(number) - 1]
        assert path.endswith(".md") or written.lstrip().startswith("#"), leftover
    algorithm = (copy / "container" / "algorithm.json").read_text()
    assert "validation:mse" in algorithm
    assert "shrink" in (copy / "container" / "hyperparameters.json").read_text()
    export = _run([python, "container/entrypoint.py", "export", "--check"], copy)
    assert export.returncode == 0, export.stdout + export.stderr

    # WHEN the guide's step 5 runs (`make synth && make demo`; the demo's first step is the synthesis of every
    # environment as `cdk synth` does it) THEN Dev's pipeline trains, gates, scores, and the endpoint answers
    demo = _run([python, "-m", "scripts.demo"], copy)
    assert demo.returncode == 0, demo.stdout[-5000:] + demo.stderr[-3000:]
    steps = re.findall(r"^    step (\w+)$", demo.stdout, flags=re.M)
    assert {"Train", "Evaluate", "MeetsQualityGate", "CreateModel", "Score"} <= set(steps), demo.stdout[-5000:]
    assert re.search(r"^    smoke: endpoint \S+ InService, prediction ", demo.stdout, flags=re.M), demo.stdout[-3000:]
    assert "validation:mse=" in demo.stdout
    templates = list((copy / "cdk.out" / "demo" / "assembly").rglob("*.template.json"))
    assert any("validation:mse" in path.read_text() for path in templates)

    # AND outside the algorithm's folder only the guide's files changed (the exports are generated)
    generated = {"container/interface.json", "container/hyperparameters.json", "container/algorithm.json"}
    generated |= {"container/metric_definitions.json", "container/README.md"}
    different = {name for name in tracked_files() if (copy / name).read_bytes() != (ROOT / name).read_bytes()}
    assert different - generated == changed
