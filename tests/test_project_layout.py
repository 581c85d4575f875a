"""The project's own packages must not shadow the libraries they are named like."""

from __future__ import annotations

import subprocess
import sys

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
