"""Walks a documented deploy path (README's "Deploying" commands) against the synthesized app.

What the commands name must exist, the boundary must be created and the account bootstrapped before
the first `cdk deploy`, each stack's producers (`Fn::GetStackOutput`) deployed with it or before it,
and the smoke check must follow a deploy of its environment.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from delivery.permissions_boundary import PERMISSIONS_BOUNDARY_FILE, PERMISSIONS_BOUNDARY_NAME
from tests.deploy_readiness.model import Deployment, references
from tests.deploy_readiness.requirements import BOUNDARY_EXISTS_DOC, MODEL_ARTIFACT_DOC

IMPORT_FLAG = "--import-existing-resources"


def commands(markdown: str, section: str) -> list[list[str]]:
    """The shell commands of the first ```bash block under `section`, as argument lists (comments dropped)."""
    text = markdown.split(f"\n{section}\n", 1)[1]
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    if block is None:
        raise ValueError(f"{section}: no bash block")
    found = []
    for line in block.group(1).splitlines():
        for part in line.split("#", 1)[0].split("&&"):
            if part.strip():
                found.append(shlex.split(part))
    return found


def _dependencies(deployment: Deployment) -> dict[str, set[str]]:
    return {
        stack.name: {
            r["Fn::GetStackOutput"]["StackName"] for r in references(stack.template) if "Fn::GetStackOutput" in r
        }
        for stack in deployment
    }


@dataclass
class _Walk:
    """What the commands run so far have done."""

    dependencies: dict[str, set[str]]
    environments: dict[str, str]
    found: list[str] = field(default_factory=list)
    deployed: set[str] = field(default_factory=set)
    done: set[str] = field(default_factory=set)  # "boundary", "bootstrap", "train:<Stage>", "promote:<Stage>"

    def step(self, step: list[str]) -> None:
        command = " ".join(step)
        if step[:3] == ["aws", "iam", "create-policy"]:
            if f"--policy-name {PERMISSIONS_BOUNDARY_NAME}" in command and PERMISSIONS_BOUNDARY_FILE.name in command:
                self.done.add("boundary")
        elif step[:3] == ["npx", "cdk", "bootstrap"]:
            self.done.add("bootstrap")
        elif step[:3] == ["npx", "cdk", "deploy"]:
            self.deploy(command, [pattern for pattern in step[3:] if not pattern.startswith("-")])
        elif step[:3] == ["python", "-m", "sagemaker_ops"] and step[3:4] in (["train"], ["promote"]):
            env = step[step.index("--env") + 1] if "--env" in step else ""
            self.done.add(f"{step[3]}:{self.environments.get(env, env)}")
        elif step[:2] == ["make", "smoke"]:
            env = next((a.split("=", 1)[1] for a in step if a.startswith("ENV=")), "")
            stage = self.environments.get(env)
            if stage is None:
                self.found.append(f"{command}: no environment {env!r}")
            elif f"{stage}-Inference" not in self.deployed:
                self.found.append(f"{command}: before {stage}'s Inference stack is deployed")

    def deploy(self, command: str, patterns: list[str]) -> None:
        if "boundary" not in self.done:
            self.found.append(
                f"{command}: before the permissions boundary {PERMISSIONS_BOUNDARY_NAME} is created "
                f"({BOUNDARY_EXISTS_DOC})"
            )
        if "bootstrap" not in self.done:
            self.found.append(f"{command}: before `cdk bootstrap`")
        selected = {
            name
            for pattern in patterns
            for name in self.dependencies
            if fnmatchcase(name.replace("-", "/", 1), pattern)
        }
        if not selected:
            self.found.append(f"{command}: selects no stack of the app")
        for name in sorted(selected - self.deployed):
            stage, _, stack_id = name.partition("-")
            if stack_id == "Inference" and not {f"train:{stage}", f"promote:{stage}"} <= self.done:
                self.found.append(
                    f"{command}: creates {name} before a model is trained and pinned ({MODEL_ARTIFACT_DOC})"
                )
        for name in sorted(selected):
            missing = self.dependencies[name] - selected - self.deployed
            if missing:
                self.found.append(
                    f"{command}: {name} reads outputs of {sorted(missing)}, not deployed before or with it"
                )
        self.deployed |= selected


def problems(steps: list[list[str]], deployment: Deployment, environments: dict[str, str]) -> list[str]:
    """What is wrong with running `steps` in order; `environments` maps ENV names to stage ids."""
    walk = _Walk(_dependencies(deployment), environments)
    for step in steps:
        walk.step(step)
    return walk.found


def imports_existing(steps: list[list[str]]) -> bool:
    """Whether every `cdk deploy` of `steps` imports named resources that already exist."""
    deploys = [step for step in steps if step[:3] == ["npx", "cdk", "deploy"]]
    return bool(deploys) and all(IMPORT_FLAG in step for step in deploys)


def makefile_deploy_imports(makefile: str) -> bool:
    """Whether the Makefile's `deploy` recipe (docs/delivery.md's path) imports existing named resources."""
    recipe = makefile.split("\ndeploy:", 1)[1].split("\n\n", 1)[0]
    return "cdk" in recipe.lower() and IMPORT_FLAG in recipe
