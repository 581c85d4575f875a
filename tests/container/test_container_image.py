"""The image definition: hadolint clean, the contract's must-haves, pinned requirements, a tight build context."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from hyperschema import RESERVED
from lightgbm_gbdt.algorithm import ALGORITHM
from sagemaker_contract import exports

from tests.container.harness import CONTAINER

DOCKERFILE = (CONTAINER / "Dockerfile").read_text()


def test_hadolint_passes() -> None:
    """GIVEN the Dockerfile WHEN hadolint (from the dev environment) checks it THEN no finding."""
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([str(hadolint), str(CONTAINER / "Dockerfile")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_starts_as_root_and_names_the_work_user() -> None:
    """GIVEN the Dockerfile THEN a current pinned base, exec-form entry point, root start (as SageMaker expects,
    acknowledged in place for hadolint), a numeric non-root ALGORITHM_USER to drop to, unbuffered output."""
    assert re.search(r"^FROM python:3\.13-slim-trixie$", DOCKERFILE, re.MULTILINE)
    assert 'ENTRYPOINT ["python", "/opt/program/entrypoint.py"]' in DOCKERFILE
    users = re.findall(r"^USER (\S+)", DOCKERFILE, re.MULTILINE)
    assert users == ["0:0"]
    assert "# hadolint ignore=DL3002\nUSER 0:0" in DOCKERFILE
    assert "ALGORITHM_USER=${ALGORITHM_UID}:${ALGORITHM_UID}" in DOCKERFILE
    uid = re.search(r"^ARG ALGORITHM_UID=(\d+)$", DOCKERFILE, re.MULTILINE)
    assert uid and int(uid.group(1)) >= 1000
    assert "PYTHONUNBUFFERED=1" in DOCKERFILE
    assert "HEALTHCHECK" not in DOCKERFILE.replace("no HEALTHCHECK", "")


def test_the_tests_run_on_the_python_of_the_image() -> None:
    """GIVEN the base image's Python minor version THEN `make test` runs these tests on it (make container-test)."""
    image_python = re.search(r"^FROM python:(\d+\.\d+)", DOCKERFILE, re.MULTILINE)
    assert image_python
    makefile = (CONTAINER.parent / "Makefile").read_text()
    recipe = makefile.split("\ntest:")[1].split("\n\n")[0]
    assert re.search(r"^\t\$\(MAKE\) .*\bcontainer-test\b", recipe, re.MULTILINE), recipe
    if sys.prefix.endswith(".venv-container"):
        assert f"{sys.version_info.major}.{sys.version_info.minor}" == image_python.group(1)


def test_requirements_are_pinned() -> None:
    """GIVEN container/requirements.txt THEN every requirement is pinned with ==."""
    lines = [line.strip() for line in (CONTAINER / "requirements.txt").read_text().splitlines()]
    requirements = [line for line in lines if line and not line.startswith("#")]
    assert requirements
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][A-Za-z0-9.]*", line) for line in requirements), requirements


def test_build_context_holds_only_what_the_program_needs() -> None:
    """GIVEN .dockerignore THEN everything is excluded except the program files the Dockerfile copies."""
    rules = [
        line for line in (CONTAINER / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")
    ]
    assert rules[0] == "*"
    included = {rule.removeprefix("!").rstrip("/") for rule in rules if rule.startswith("!")}
    copied: set[str] = set()
    for line in re.findall(r"^COPY (.+)$", DOCKERFILE, re.MULTILINE):
        copied.update(Path(part).name for part in line.split()[:-1])
    assert copied == included
    assert all((CONTAINER / name).exists() for name in included)


def test_readme_documents_every_hyperparameter() -> None:
    """GIVEN the image's schema THEN container/README.md's generated table has a row for each hyperparameter."""
    readme = (CONTAINER / "README.md").read_text()
    for name in exports.schema(ALGORITHM).hyperparameters:
        assert f"| `{name}` |" in readme, name


def test_hyperparameter_schema_has_the_agreed_shape() -> None:
    """GIVEN the exported schema THEN exactly the keys of INTERFACE.md, and the reserved names SageMaker adds."""
    schema = exports.schema(ALGORITHM).as_json()
    assert set(schema) == {"hyperparameters", "reserved", "rules"}
    keys = {"type", "required", "nullable", "default", "minimum", "maximum", "exclusive_minimum", "choices", "doc"}
    for name, entry in schema["hyperparameters"].items():
        assert set(entry) == keys | {"not_tuned"}, name
        assert entry["type"] in {"integer", "float", "string", "boolean"}, name
    assert schema["hyperparameters"]["objective"]["required"] is True
    assert schema["hyperparameters"]["num_class"]["nullable"] is True
    assert {"distributed_port", "distributed_timeout_seconds"} <= set(schema["hyperparameters"])
    assert "_tuning_objective_metric" in schema["reserved"]
    assert not set(schema["reserved"]) & set(schema["hyperparameters"])


def test_readme_lists_every_reserved_hyperparameter() -> None:
    """GIVEN the reserved names the container accepts THEN container/README.md lists each of them."""
    readme = (CONTAINER / "README.md").read_text()
    for name in RESERVED:
        assert f"`{name}`" in readme, name


def test_the_contract_layer_imports_no_algorithm() -> None:
    """GIVEN the contract layer, the schema package and the entry point THEN no import names an algorithm's folder:
    the algorithm is found by ALGORITHM_MODULE only (sagemaker_contract/seam.py)."""
    layers = {"sagemaker_contract", "hyperschema"}
    algorithms = {p.name for p in CONTAINER.iterdir() if (p / "__init__.py").is_file()} - layers
    assert {"lightgbm_gbdt", "linear_model"} <= algorithms
    sources = [CONTAINER / "entrypoint.py", *(p for layer in layers for p in (CONTAINER / layer).rglob("*.py"))]
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            assert not {name.partition(".")[0] for name in names} & algorithms, f"{source.name} imports {names}"
