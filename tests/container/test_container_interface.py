"""container/interface.json: what the app reads of the container, generated from the container's code."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from typing import Any

import sagemaker_contract.interface as interface  # noqa: PLR0402 - see test_container_units.py

from tests.container.harness import CONTAINER, ENTRYPOINT

INTERFACE_FILE = CONTAINER / "interface.json"
# The variables SageMaker itself sets, spelled as SageMaker spells them (developer guide, "Use your own inference
# code with hosting services" and "...with batch transform"; shared/CONTRACT.md): not ours to rename.
SAGEMAKER_VARIABLES = {
    "SAGEMAKER_BIND_TO_PORT",
    "SAGEMAKER_MAX_PAYLOAD_IN_MB",
    "SAGEMAKER_MODEL_SERVER_TIMEOUT",
    "SAGEMAKER_MODEL_SERVER_WORKERS",
}


def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(INTERFACE_FILE.read_text())
    return document


def _variables(document: dict[str, Any]) -> set[str]:
    """Every environment variable the file declares (the server's and the drift check's)."""
    return set(document["environment"].values()) | set(document["drift"]["environment"].values())


def _names_the_container_uses() -> set[str]:
    """Every name the container's code outside interface.py refers to (variables, attributes, imported names)."""
    sources = [*(CONTAINER / "sagemaker_contract").glob("*.py"), ENTRYPOINT]
    used: set[str] = set()
    for path in sources:
        if path.name == "interface.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Name):
                used.add(node.id)
            elif isinstance(node, ast.Attribute):
                used.add(node.attr)
            elif isinstance(node, ast.ImportFrom):
                used |= {alias.name for alias in node.names}
    return used


def test_every_committed_export_is_what_the_entry_point_generates() -> None:
    """GIVEN the container's code WHEN `entrypoint.py export --check` runs THEN no export is stale.

    On failure: `python container/entrypoint.py export` (it names the files it rewrote).
    """
    checked = subprocess.run(
        [sys.executable, str(ENTRYPOINT), "export", "--check"], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr
    assert INTERFACE_FILE.read_text() == interface.render()


def test_the_file_is_what_the_apps_reader_accepts_written_the_canonical_way() -> None:
    """GIVEN container/interface.json WHEN the app's reader (config/container_interface.py) loads it THEN every
    section and key it expects is there, typed, and nothing else; sorted keys, 2-space indent, one newline."""
    from config.container_interface import load_container_interface  # noqa: PLC0415 - the app's side, from the root

    loaded = load_container_interface(INTERFACE_FILE)
    assert loaded.environment.algorithm_module in _variables(_document())
    text = INTERFACE_FILE.read_text()
    assert text == json.dumps(_document(), indent=2, sort_keys=True) + "\n"


def test_every_variable_the_file_declares_is_one_the_container_reads() -> None:
    """GIVEN each environment variable of the file THEN interface.py holds it in a constant that the container's
    code uses: the app never sets a variable the container ignores."""
    constants = {name: value for name, value in vars(interface).items() if name.isupper() and isinstance(value, str)}
    used = _names_the_container_uses()
    for variable in _variables(_document()):
        holders = {name for name, value in constants.items() if value == variable}
        assert holders, f"{variable} is in interface.json but no constant of interface.py holds it"
        assert holders & used, f"{variable} ({', '.join(sorted(holders))}) is declared but the container never reads it"


def test_sagemakers_own_variables_keep_sagemakers_spelling() -> None:
    """GIVEN the variables SageMaker sets THEN the file spells each as SageMaker does, and no other SAGEMAKER_."""
    assert {v for v in _variables(_document()) if v.startswith("SAGEMAKER_")} == SAGEMAKER_VARIABLES


def test_the_server_reads_its_variables_and_limits_from_the_interface() -> None:
    """GIVEN the interface module THEN the serving settings use its names and limits (no second spelling)."""
    import sagemaker_contract.server as server  # noqa: PLC0415, PLR0402

    source = (CONTAINER / "sagemaker_contract" / "server.py").read_text()
    for name in SAGEMAKER_VARIABLES:
        assert f'"{name}"' not in source, f"{name} spelled in server.py instead of read from interface"
    assert server.ServeSettings.from_environment().max_payload_mb <= interface.MAX_PAYLOAD_MB_LIMIT
