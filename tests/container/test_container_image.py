"""The image definition: hadolint clean, the contract's must-haves, pinned requirements, a tight build context."""

from __future__ import annotations

import ast
import fnmatch
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


LAYERS = {"sagemaker_contract", "hyperschema"}
ALGORITHMS = sorted(p.name for p in CONTAINER.iterdir() if (p / "__init__.py").is_file() and p.name not in LAYERS)
COMPILERS = {"gcc", "g++", "cpp", "clang", "build-essential", "libc6-dev", "gfortran"}


def _entries(path: Path) -> list[str]:
    """The lines of a requirements or system-packages file without comments, as the Dockerfile's sed reads them."""
    return [line.partition("#")[0].strip() for line in path.read_text().splitlines() if line.partition("#")[0].strip()]


def test_requirements_are_pinned() -> None:
    """GIVEN the contract layer's requirements and each algorithm's THEN every requirement is pinned with ==."""
    assert _entries(CONTAINER / "requirements.txt")
    for path in [CONTAINER / "requirements.txt", *(CONTAINER / name / "requirements.txt" for name in ALGORITHMS)]:
        requirements = _entries(path)
        assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][A-Za-z0-9.]*", line) for line in requirements), path


def test_the_image_takes_its_algorithm_and_system_packages_from_the_algorithm() -> None:
    """GIVEN the Dockerfile THEN one `ARG ALGORITHM=<folder>` chooses the algorithm; its folder, requirements and
    system packages are copied by that argument, ALGORITHM_MODULE follows it, and no algorithm folder or Debian
    package is named anywhere else (apt-get installs only the folder's system-packages.txt)."""
    chosen = re.findall(r"^ARG ALGORITHM=(\S+)$", DOCKERFILE, re.MULTILINE)
    assert len(chosen) == 1
    assert chosen[0] in ALGORITHMS
    assert {"lightgbm_gbdt", "linear_model"} <= set(ALGORITHMS)
    assert "COPY ${ALGORITHM}/system-packages.txt /tmp/system-packages.txt" in DOCKERFILE
    assert "COPY ${ALGORITHM}/requirements.txt /opt/program/algorithm-requirements.txt" in DOCKERFILE
    assert "COPY ${ALGORITHM} /opt/program/${ALGORITHM}" in DOCKERFILE
    assert re.search(r"^ENV ALGORITHM_MODULE=\$\{ALGORITHM\}:ALGORITHM$", DOCKERFILE, re.MULTILINE)
    code = "\n".join(line for line in DOCKERFILE.splitlines() if not line.startswith("#"))
    installs = re.findall(r"apt-get install[^\n]*", code)
    assert installs == ["apt-get install -y --no-install-recommends \\"], installs
    assert "xargs --no-run-if-empty apt-get install" in code
    assert code.count(chosen[0]) == 1  # the ARG line only
    for name in ALGORITHMS:
        assert name == chosen[0] or name not in code, name


def test_system_packages_are_pinned_and_only_a_compiling_algorithm_gets_a_compiler() -> None:
    """GIVEN each algorithm's system-packages.txt THEN `name=version` lines; LightGBM's brings gcc (it compiles
    its trees for serving), the linear model's none, so an image built for it has no compiler (the base has none)."""
    packages = {}
    for name in ALGORITHMS:
        entries = _entries(CONTAINER / name / "system-packages.txt")
        assert all(re.fullmatch(r"[a-z0-9][a-z0-9.+-]*=[0-9][A-Za-z0-9.+:~-]*", line) for line in entries), name
        packages[name] = {line.partition("=")[0] for line in entries}
    assert {"gcc", "libc6-dev", "libgomp1"} <= packages["lightgbm_gbdt"]
    assert not packages["linear_model"] & COMPILERS
    assert re.search(r"^FROM python:[0-9.]+-slim-", DOCKERFILE, re.MULTILINE)  # slim images ship no gcc


def _ignored(name: str, rules: list[str]) -> bool:
    """Whether Docker's last matching rule excludes the top-level entry `name` (the patterns here are simple)."""
    ignored = False
    for rule in rules:
        negated = rule.startswith("!")
        pattern = rule.removeprefix("!").removeprefix("**/").rstrip("/")
        if fnmatch.fnmatch(name, pattern):
            ignored = not negated
    return ignored


def test_build_context_holds_what_the_dockerfile_copies_and_not_the_docs_or_exports() -> None:
    """GIVEN .dockerignore THEN every file the Dockerfile copies and every algorithm folder (ARG ALGORITHM chooses
    one) are in the context; the README and the exports the app reads are not (editing them keeps the asset hash)."""
    rules = [
        line for line in (CONTAINER / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")
    ]
    copied: set[str] = set()
    for line in re.findall(r"^COPY (.+)$", DOCKERFILE, re.MULTILINE):
        copied.update(part.split("/")[0] for part in line.split()[:-1] if not part.startswith("${ALGORITHM}"))
    for name in [*copied, *ALGORITHMS]:
        assert (CONTAINER / name).exists(), name
        assert not _ignored(name, rules), name
    for name in ("README.md", "interface.json", "hyperparameters.json", "algorithm.json", "__pycache__"):
        assert _ignored(name, rules), name
    assert not any(rule.lstrip("!").rstrip("/") in ALGORITHMS for rule in rules)


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
