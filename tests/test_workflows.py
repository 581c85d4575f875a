"""The GitHub workflows (.github/workflows): linted, pinned, least-privileged, and made of Makefile targets.

One way to do each job: a workflow step either uses a pinned action or runs `make <target>`, the
command a contributor runs locally (docs/delivery.md).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import AppConfig, EnvironmentName
from sagemaker_constructs.github_deployment_role import DEFAULT_MAX_SESSION
from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
CI, DEPLOY, DEPLOY_ENVIRONMENT = "ci.yml", "deploy.yml", "deploy-environment.yml"
FRESH_CLONE_IMAGE = "debian:12"  # Python 3.11.2, the oldest a distribution ships that the project supports
FULL_SHA_WITH_TAG = re.compile(r"[\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+")
# `make <target> [NAME=value ...]`, nothing chained: the step is exactly what runs locally.
MAKE_STEP = re.compile(r"make (?P<target>[a-z][a-z-]*)(?: [A-Z_]+=\S+)*")


def _load(name: str) -> dict[str, Any]:
    workflow: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def _make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z-]*):.*## ", makefile, flags=re.MULTILINE))


def _workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


def test_actionlint_finds_nothing() -> None:
    # GIVEN the pinned actionlint of requirements-dev.txt, next to this interpreter
    actionlint = Path(sys.executable).with_name("actionlint")
    assert actionlint.exists(), "actionlint is missing: run `make setup`"
    # WHEN it checks every workflow (syntax, expressions, action inputs, untrusted input in scripts)
    result = subprocess.run(
        [str(actionlint), "-no-color", *map(str, _workflow_files())], capture_output=True, text=True, check=False
    )
    # THEN it reports nothing
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_workflows_are_the_three_documented() -> None:
    assert [path.name for path in _workflow_files()] == sorted([CI, DEPLOY, DEPLOY_ENVIRONMENT])


@pytest.mark.parametrize("name", [CI, DEPLOY, DEPLOY_ENVIRONMENT])
def test_every_run_step_is_one_make_target_with_help(name: str) -> None:
    targets = _make_targets()
    for step in _steps(_load(name)):
        if "run" not in step:
            continue
        command = step["run"].strip()
        if step.get("id") == "prerequisites":  # the fresh clone's: what the README asks to install first
            continue
        match = MAKE_STEP.fullmatch(re.sub(r"\$\{\{ [^}]+ \}\}", "X", command.replace('"$BASE"', "X")))
        assert match, f"{name}: step {command!r} must be one `make <target>` (add a Makefile target)"
        assert match["target"] in targets, f"{name}: {match['target']!r} is not a documented Makefile target"


@pytest.mark.parametrize("name", [CI, DEPLOY, DEPLOY_ENVIRONMENT])
def test_third_party_actions_are_pinned_by_full_commit_sha_with_the_tag_in_a_comment(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    for line in re.findall(r"uses: (.+)", text):
        if line.startswith("./"):
            continue
        assert FULL_SHA_WITH_TAG.fullmatch(line.strip()), (
            f"{name}: `uses: {line}` must be owner/repo@<40-hex sha> # vX.Y.Z"
        )


def test_each_action_is_pinned_to_the_same_commit_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for path in _workflow_files():
        for action, pin in re.findall(r"uses: ([\w.-]+/[\w.-]+)@(\S+ # \S+)", path.read_text()):
            pins.setdefault(action, set()).add(pin)
    assert pins
    assert {action: pin for action, pin in pins.items() if len(pin) > 1} == {}


@pytest.mark.parametrize("name", [CI, DEPLOY, DEPLOY_ENVIRONMENT])
def test_no_default_permissions_and_each_job_names_its_own(name: str) -> None:
    workflow = _load(name)
    assert workflow["permissions"] == {}
    for job_id, job in workflow["jobs"].items():
        assert isinstance(job.get("permissions"), dict), f"{name}: job {job_id} must list its permissions"


def test_only_the_review_may_write_and_only_to_pull_requests() -> None:
    jobs = _load(CI)["jobs"]
    assert jobs["test"]["permissions"] == {"contents": "read"}
    assert jobs["review"]["permissions"] == {"contents": "read", "pull-requests": "write"}


def test_only_deployment_jobs_get_an_oidc_token() -> None:
    deploy = _load(DEPLOY)["jobs"]
    assert deploy["synth"]["permissions"] == {"contents": "read"}
    for stage in ("dev", "staging", "prod"):
        assert deploy[stage]["permissions"] == {"contents": "read", "id-token": "write"}
    assert _load(DEPLOY_ENVIRONMENT)["jobs"]["deploy"]["permissions"] == {"contents": "read", "id-token": "write"}


def test_ci_runs_on_pull_requests_and_main() -> None:
    assert _load(CI)["on"] == {"pull_request": None, "push": {"branches": ["main"]}}


def test_tests_run_on_the_oldest_and_newest_supported_python() -> None:
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    oldest = requires.removeprefix(">=")
    test = _load(CI)["jobs"]["test"]
    assert test["strategy"]["matrix"]["python"] == [oldest, "3.13"]
    assert test["steps"][-1]["run"] == "make test"


def test_every_job_running_make_test_also_gets_the_container_images_python() -> None:
    # GIVEN the image's Python, as the Makefile's IMAGE_PYTHON reads it from container/Dockerfile's FROM
    dockerfile = (ROOT / "container" / "Dockerfile").read_text()
    image = re.search(r"^FROM python:(\d+\.\d+)", dockerfile, flags=re.MULTILINE)
    assert image, "container/Dockerfile must start FROM python:<major>.<minor>"
    jobs = [job for path in _workflow_files() for job in _load(path.name)["jobs"].values()]
    testing = [job for job in jobs if any(step.get("run") == "make test" for step in job.get("steps", []))]
    assert testing
    for job in testing:
        if job.get("container") == FRESH_CLONE_IMAGE:  # a newcomer's machine: no Python but the system's
            continue
        # WHEN its setup-python step lists the versions it installs
        (setup,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python@")]
        versions = [line.strip() for line in str(setup["with"]["python-version"]).splitlines() if line.strip()]
        # THEN `make container-test` finds the image's Python, and the job's own (listed last) stays the
        # default `python3` that `make setup` builds .venv with
        assert image[1] in versions, f"{job['name']}: `make container-test` needs Python {image[1]}"
        assert versions[-1] == "${{ matrix.python }}", f"{job['name']}: the matrix Python must be listed last"


def test_a_fresh_clone_runs_the_readmes_two_commands_with_only_its_prerequisites() -> None:
    # GIVEN the README's "Two commands": the Debian 12 packages it asks for, and its two commands
    readme = (ROOT / "README.md").read_text()
    packages = re.search(r"on Debian 12,\s+whose `python3` is 3\.11\.2: `sudo apt-get install ([a-z0-9. -]+)`", readme)
    assert packages, "README's Two commands must name the Debian 12 packages to install"
    commands = re.findall(r"^(make \w+) ", readme.split("## Two commands")[1].split("\n## ")[0], flags=re.MULTILINE)
    # WHEN CI's fresh-clone job runs
    job = _load(CI)["jobs"]["fresh-clone"]
    # THEN in Debian 12 on its own python3 (no setup-python, no cache), it installs those packages only
    # (and the certificates a Debian installation has), clones, then runs `make demo` and `make test`
    assert job["container"] == FRESH_CLONE_IMAGE
    install, checkout, *runs = job["steps"]
    assert install["run"].startswith("apt-get update && apt-get install --yes --no-install-recommends ")
    assert install["run"].split()[7:] == [*packages[1].split(), "ca-certificates"]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"]["fetch-depth"] == 0
    assert [step["run"] for step in runs] == ["make demo", "make test"]
    assert [command for command in commands if command in {"make demo", "make test"}] == ["make demo", "make test"]


def test_pip_and_npm_caches_are_keyed_on_every_lock_file() -> None:
    # The requirement files `make setup` installs from (the Makefile's .venv/.installed rule).
    makefile = (ROOT / "Makefile").read_text()
    requirements = re.search(r"^\$\(VENV\)/\.installed: (.+)$", makefile, flags=re.MULTILINE)
    assert requirements
    # Each algorithm's requirements: the Makefile's wildcard is the workflows' glob.
    algorithms = re.search(r"^ALGORITHM_REQUIREMENTS := \$\(wildcard (\S+)\)$", makefile, flags=re.MULTILINE)
    assert algorithms
    expected = requirements[1].replace("$(ALGORITHM_REQUIREMENTS)", algorithms[1]).split()
    for path in _workflow_files():
        for step in _steps(_load(path.name)):
            uses = step.get("uses", "")
            if uses.startswith("actions/setup-python@"):
                assert step["with"]["cache"] == "pip"
                assert step["with"]["cache-dependency-path"].split() == expected
            if uses.startswith("actions/cache@"):
                assert step["with"] == {
                    "path": "~/.npm",
                    "key": "npm-${{ runner.os }}-${{ hashFiles('package-lock.json') }}",
                }


def test_the_review_is_published_even_when_it_fails_and_its_templates_uploaded() -> None:
    steps = _load(CI)["jobs"]["review"]["steps"]
    checkout = steps[0]
    assert checkout["with"]["fetch-depth"] == 0  # the base revision comes from history
    review = next(step for step in steps if step.get("id") == "review")
    assert review["run"] == 'make report BASE="$BASE"'
    assert review["env"] == {"BASE": "${{ github.event.pull_request.base.sha }}"}
    publish = next(step for step in steps if step.get("run") == "make comment")
    assert publish["if"] == "${{ !cancelled() }}"
    assert publish["env"] == {"GITHUB_TOKEN": "${{ github.token }}", "REVIEW_OUTCOME": "${{ steps.review.outcome }}"}
    upload = steps[-1]
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["if"] == "${{ !cancelled() }}"
    assert upload["with"]["path"] == "cdk.out/"
    assert steps.index(review) < steps.index(publish) < steps.index(upload)


def test_the_deployment_synthesizes_once_and_promotes_dev_staging_prod_in_order(app_config: AppConfig) -> None:
    workflow = _load(DEPLOY)
    assert workflow["on"] == {"push": {"branches": ["main"]}, "workflow_dispatch": None}
    jobs = workflow["jobs"]
    # A manual run from a branch skips synth, and with it every deployment that needs it.
    assert jobs["synth"]["if"] == "github.ref == 'refs/heads/main'"
    synth_runs = [step["run"] for step in jobs["synth"]["steps"] if "run" in step]
    assert synth_runs == ["make package"]  # synth, then one tar file: file modes survive the artifact
    upload = jobs["synth"]["steps"][-1]
    assert upload["with"]["name"] == "cloud-assembly"
    assert upload["with"]["path"] == "cloud-assembly.tar"
    previous = "synth"
    # EnvironmentName lists the environments in promotion order.
    for name in EnvironmentName:
        assert name in app_config.environments
        job = jobs[name.value]
        assert job["needs"] == previous, f"{name.value} must wait for {previous}"
        assert job["uses"] == f"./.github/workflows/{DEPLOY_ENVIRONMENT}"
        assert job["with"] == {"environment": name.value, "github_environment": name.stage_id}
        previous = name.value
    assert set(jobs) == {"synth", *(name.value for name in EnvironmentName)}


def test_each_environment_deploys_the_synthesized_assembly_then_smoke_tests_it_alone() -> None:
    job = _load(DEPLOY_ENVIRONMENT)["jobs"]["deploy"]
    # In the GitHub environment its role trusts, one deployment at a time, never cancelled halfway.
    assert job["environment"] == "${{ inputs.github_environment }}"
    assert job["concurrency"] == {"group": "deploy-${{ inputs.github_environment }}", "cancel-in-progress": False}
    steps = job["steps"]
    download = next(step for step in steps if step.get("uses", "").startswith("actions/download-artifact@"))
    assert download["with"] == {"name": "cloud-assembly"}
    runs = [step["run"] for step in steps if "run" in step]
    # The synthesized assembly, unpacked; smoke after deploy in the same job: a failed smoke fails
    # the job the next environment needs.
    assert runs == [
        "make unpack",
        "make deploy ENV=${{ inputs.environment }}",
        "make smoke ENV=${{ inputs.environment }}",
    ]
    assert steps.index(download) < len(steps) - 3
    assert not any(step.get("continue-on-error") for step in steps)


def test_the_credentials_last_no_longer_than_the_role_allows() -> None:
    steps = _load(DEPLOY_ENVIRONMENT)["jobs"]["deploy"]["steps"]
    credentials = next(s for s in steps if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@"))
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
    assert credentials["with"]["role-duration-seconds"] == DEFAULT_MAX_SESSION.to_seconds()


def _make(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    # -o: take the set-up as done, so that only the target itself runs.
    return subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "-o", "node_modules/.installed", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=check,
    )


def test_make_deploy_refuses_an_unknown_environment_before_deploying_anything() -> None:
    # GIVEN `make deploy` asked for an environment that does not exist (a typo, a stage id, empty, a glob)
    for env in ("", "Prod", "prod2", "*", "dev/*"):
        # WHEN it runs
        result = _make("deploy", f"ENV={env}")
        # THEN it stops with a usage error naming the allowed values, and no cdk command ran
        assert result.returncode == 2, (env, result.stdout, result.stderr)
        assert "ENV must be dev, staging or prod" in result.stderr
        assert "cdk" not in result.stdout


def test_make_deploy_deploys_the_given_assembly_and_only_that_stage() -> None:
    dry_run = _make("-n", "deploy", "ENV=staging", "ASSEMBLY=cloud-assembly", check=True).stdout
    assert "deploy --app 'cloud-assembly' --require-approval never" in dry_run
    assert "env='staging';" in dry_run
    assert '"${env^}/*"' in dry_run  # Staging/*: the stage's stacks only, never DeploymentAccess
    capitalized = subprocess.run(
        ["bash", "-c", 'env=staging; echo "${env^}/*"'], capture_output=True, text=True, check=True
    ).stdout
    assert capitalized.strip() == f"{EnvironmentName.STAGING.stage_id}/*"


def test_make_deploy_checks_the_pinned_version_is_approved_before_deploying() -> None:
    # GIVEN `make deploy` of staging WHEN its commands are listed
    lines = _make("-n", "deploy", "ENV=staging", check=True).stdout.splitlines()
    check = lines.index("python -m sagemaker_ops check-pin --env 'staging'")
    deploy = next(i for i, line in enumerate(lines) if "deploy --app" in line)
    # THEN the pin's approval is checked first: a failed check (exit 1) stops make before cdk deploys
    assert check < deploy


def test_the_packed_assembly_unpacks_with_its_hidden_files_and_file_modes(tmp_path: Path) -> None:
    # GIVEN a synthesized assembly with an executable Lambda bootstrap and a hidden file (as cdk.out has)
    asset = tmp_path / "cdk.out" / "asset.abc"
    asset.mkdir(parents=True)
    (asset / "bootstrap").write_text("#!/bin/sh\n")
    (asset / "bootstrap").chmod(0o755)
    (asset / ".dockerignore").write_text("*.md\n")
    makefile = str(ROOT / "Makefile")
    # WHEN `make package` packs it (synth taken as done) and `make unpack` restores it elsewhere
    subprocess.run(["make", "-f", makefile, "-o", "synth", "package"], cwd=tmp_path, capture_output=True, check=True)
    target = tmp_path / "deploy-job"
    target.mkdir()
    (tmp_path / "cloud-assembly.tar").rename(target / "cloud-assembly.tar")
    subprocess.run(["make", "-f", makefile, "unpack"], cwd=target, capture_output=True, check=True)
    # THEN both files are back, the bootstrap still executable
    restored = target / "cdk.out" / "asset.abc"
    assert (restored / "bootstrap").stat().st_mode & 0o777 == 0o755
    assert (restored / ".dockerignore").read_text() == "*.md\n"
