"""The container runs here with only what its image installs importable (local_sagemaker/image_imports.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from local_sagemaker import image_imports


def _container(tmp_path: Path, contract: str, **algorithms: str) -> Path:
    (tmp_path / "requirements.txt").write_text(contract)
    for folder, requirements in algorithms.items():
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "requirements.txt").write_text(requirements)
    return tmp_path


def test_what_an_image_requires_stays_importable_and_an_extras_requirement_does_not(tmp_path: Path) -> None:
    """GIVEN an image whose algorithm requires LightGBM, which needs pandas only for its `pandas` extra
    WHEN the modules outside the image are computed
    THEN LightGBM and what it always requires (numpy, scipy) stay importable; pandas and boto3 do not."""
    container = _container(tmp_path, "# the contract layer\nnumpy==2.4.6  # pinned\n", gbdt="lightgbm==4.7.0\n")
    blocked = image_imports.not_in_image(container)
    assert {"pandas", "boto3"} <= set(blocked)
    assert not {"lightgbm", "numpy", "scipy"} & set(blocked)
    assert not set(blocked) & {"os", "json", "importlib"}  # the standard library is the image's too


def test_every_algorithm_folders_requirements_count(tmp_path: Path) -> None:
    """GIVEN two algorithm folders WHEN computed THEN what either requires is importable (either may be built)."""
    container = _container(tmp_path, "", one="numpy\n", two="boto3 ; python_version >= '3'\n")
    blocked = set(image_imports.not_in_image(container))
    assert not {"numpy", "boto3", "botocore"} & blocked
    assert "pandas" in blocked


def _run(tmp_path: Path, program: str, blocked: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "program" / "entrypoint.py"
    script.parent.mkdir()
    script.write_text(program)
    command = image_imports.command(script, list(arguments))
    command[2] = blocked
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=tmp_path, timeout=60)


def test_the_program_runs_as_python_would_run_it(tmp_path: Path) -> None:
    """GIVEN a program that prints its argv and first path entry and exits 3
    WHEN run through the wrapper THEN it sees what `python program args` shows it, and its exit code is kept."""
    program = "import sys\nprint(sys.argv[1:], sys.path[0], __name__)\nsys.exit(3)\n"
    result = _run(tmp_path, program, "", "train", "--flag")
    assert result.returncode == 3, result.stderr
    assert result.stdout.split() == ["['train',", "'--flag']", str(tmp_path / "program"), "__main__"]


@pytest.mark.parametrize("statement", ["import pandas", "from pandas import DataFrame", "import pandas.core.api"])
def test_a_module_the_image_lacks_fails_to_import_as_in_the_image(tmp_path: Path, statement: str) -> None:
    """GIVEN pandas outside the image WHEN the program imports it in any form THEN ModuleNotFoundError naming it."""
    result = _run(tmp_path, f"{statement}\n", "boto3,pandas")
    assert result.returncode == 1
    assert "ModuleNotFoundError" in result.stderr
    assert "(the image does not install it)" in result.stderr
