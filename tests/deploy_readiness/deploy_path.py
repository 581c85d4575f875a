"""Walks a documented deploy path (README's "Deploying" commands) against the synthesized app.

What the commands name must exist, the boundary must be created and the account bootstrapped before
the first `cdk deploy`, each stack's producers (`Fn::GetStackOutput`) deployed with it or before it,
and the smoke check must follow a deploy of its environment.
"""

from __future__ import annotations

import re
import shlex
from fnmatch import fnmatchcase

from delivery.permissions_boundary import PERMISSIONS_BOUNDARY_FILE, PERMISSIONS_BOUNDARY_NAME
from tests.deploy_readiness.model import Deployment, references
from tests.deploy_readiness.requirements import BOUNDARY_EXISTS_DOC

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


def problems(steps: list[list[str]], deployment: Deployment, environments: dict[str, str]) -> list[str]:
    """What is wrong with running `steps` in order; `environments` maps ENV names to stage ids."""
    found: list[str] = []
    deployed: set[str] = set()
    boundary = bootstrapped = False
    dependencies = _dependencies(deployment)
    for step in steps:
        command = " ".join(step)
        if step[:3] == ["aws", "iam", "create-policy"]:
            boundary |= f"--policy-name {PERMISSIONS_BOUNDARY_NAME}" in command and (
                f"file://delivery/{PERMISSIONS_BOUNDARY_FILE.name}" in command
            )
        elif "bootstrap" in step[1:3] and step[0] == "npx":
            bootstrapped = True
        elif step[:3] == ["npx", "cdk", "deploy"]:
            if not boundary:
                found.append(
                    f"{command}: before the permissions boundary {PERMISSIONS_BOUNDARY_NAME} is created "
                    f"({BOUNDARY_EXISTS_DOC})"
                )
            if not bootstrapped:
                found.append(f"{command}: before `cdk bootstrap`")
            selected = {
                name
                for pattern in step[3:]
                if not pattern.startswith("-")
                for name in dependencies
                if fnmatchcase(name.replace("-", "/", 1), pattern)
            }
            if not selected:
                found.append(f"{command}: selects no stack of the app")
            for name in selected:
                missing = dependencies[name] - selected - deployed
                if missing:
                    found.append(
                        f"{command}: {name} reads outputs of {sorted(missing)}, not deployed before or with it"
                    )
            deployed |= selected
        elif step[:2] == ["make", "smoke"]:
            env = next((a.split("=", 1)[1] for a in step if a.startswith("ENV=")), "")
            stage = environments.get(env)
            if stage is None:
                found.append(f"{command}: no environment {env!r}")
            elif not any(name.startswith(f"{stage}-Inference") for name in deployed):
                found.append(f"{command}: before {stage}'s Inference stack is deployed")
    return found


def imports_existing(steps: list[list[str]]) -> bool:
    """Whether every `cdk deploy` of `steps` imports named resources that already exist."""
    deploys = [step for step in steps if step[:3] == ["npx", "cdk", "deploy"]]
    return bool(deploys) and all(IMPORT_FLAG in step for step in deploys)


def makefile_deploy_imports(makefile: str) -> bool:
    """Whether the Makefile's `deploy` recipe (docs/delivery.md's path) imports existing named resources."""
    recipe = makefile.split("\ndeploy:", 1)[1].split("\n\n", 1)[0]
    return "cdk" in recipe.lower() and IMPORT_FLAG in recipe
