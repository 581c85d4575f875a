"""The project's own packages must not shadow the libraries they are named like."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import constructs

from tests.helpers import ROOT


def test_constructs_is_the_library_not_a_folder_of_ours() -> None:
    assert "site-packages" in constructs.__file__
    assert hasattr(constructs, "Construct")
    assert not (ROOT / "constructs").exists()


def test_the_contract_is_plain_python_without_cdk() -> None:
    # GIVEN a fresh interpreter WHEN it imports config.contract THEN no CDK module comes with it:
    # the container's tests, the ops CLI and the configuration use it without synthesizing anything
    probe = "import sys, config.contract; print(sorted(m for m in sys.modules if m.startswith(('aws_cdk', 'jsii'))))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_stacks_take_only_the_platform_stack_from_its_module() -> None:
    # GIVEN every stack module WHEN its imports from stacks.platform_stack are read
    # THEN they import the stack itself, never helpers (those live in stacks/_common.py and config/contract.py)
    for module in sorted((ROOT / "stacks").glob("*.py")):
        for line in module.read_text(encoding="utf-8").splitlines():
            if line.startswith("from stacks.platform_stack import"):
                assert line == "from stacks.platform_stack import PlatformStack", f"{module.name}: {line}"


def test_the_pipeline_tools_are_part_of_the_ops_cli() -> None:
    assert not (ROOT / "pipeline_tools").exists()
    assert (ROOT / "sagemaker_ops" / "promotion.py").is_file()


# Product code: everything but the tests and the benchmarks.
NOT_PRODUCT = {"tests", "benchmarks", ".venv", ".venv-container", ".checkov-venv", "node_modules", "cdk.out"}


def _product_modules() -> list[Path]:
    return sorted(
        path
        for path in ROOT.rglob("*.py")
        if not NOT_PRODUCT.intersection(path.relative_to(ROOT).parts)
        and not any(part.startswith(".") for part in path.relative_to(ROOT).parts)
    )


def test_product_code_never_imports_the_tests() -> None:
    # GIVEN every product module WHEN its imports are read THEN none names the tests package
    found = set()
    for path in _product_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found |= {(str(path.relative_to(ROOT)), n) for n in names if n == "tests" or n.startswith("tests.")}
    assert not found, sorted(found)


def test_no_product_module_is_over_400_lines() -> None:
    # GIVEN every product module WHEN its lines are counted THEN none holds more than one concern's worth
    long = {
        str(path.relative_to(ROOT))
        for path in _product_modules()
        if len(path.read_text(encoding="utf-8").splitlines()) > 400
    }
    assert not long, sorted(long)
