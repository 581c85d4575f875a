"""The configuration reference in docs/ is generated from the pydantic models and kept current."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from scripts.config_reference import BEGIN, DOCUMENT, END, main, render, sections, updated
from tests.helpers import ROOT


def test_the_committed_reference_is_what_the_models_generate() -> None:
    """GIVEN config/settings.py
    WHEN the reference is generated
    THEN docs/configuration.md holds it verbatim (run python -m scripts.config_reference after a change)."""
    assert DOCUMENT.read_text() == updated(DOCUMENT.read_text())
    assert main(["--check"]) == 0


def test_every_field_of_every_section_is_listed() -> None:
    """GIVEN every model reachable from an environment
    WHEN the reference is rendered
    THEN each has its TOML section and a row per field it reads from the file."""
    text = render()
    seen: set[type[BaseModel]] = set()
    for path, model in sections():
        seen.add(model)
        section = text.split(f"### `[{path}]`", 1)[1].split("### ", 1)[0]
        for name in model.model_fields:
            if (path, name) != ("environments.<env>", "name"):
                assert f"| `{name}` |" in section, f"{path}.{name}"
    assert len(seen) >= 12


def test_the_rows_carry_the_rules_the_loader_enforces() -> None:
    """GIVEN fields with limits, patterns, choices and computed defaults
    WHEN the reference is rendered
    THEN their rows say so."""
    text = render()
    assert "| `instance_count` | integer | `1` | ≥ 1; ≤ 100 |" in text
    assert '| `input_mode` | `"File"`, `"FastFile"` | `"File"` |  |' in text
    assert "| `region` | string | **required** | must be an AWS region such as us-east-1 |" in text
    assert "| `safety_factor` | number | `0.5` | > 0; ≤ 1 |" in text
    assert "| `max_requests_per_second` | number | **required** | > 0 |" in text


def test_a_stale_reference_fails_the_check(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """GIVEN a reference whose generated part was edited by hand
    WHEN the check runs
    THEN it fails, and a rewrite restores the generated part and keeps the hand-written text."""
    stale = tmp_path / "configuration.md"
    stale.write_text(f"intro\n{BEGIN}\n| `made_up` |\n{END}\nafter\n")
    monkeypatch.setattr("scripts.config_reference.DOCUMENT", stale)
    assert main(["--check"]) == 1
    assert main([]) == 0
    rewritten = stale.read_text()
    assert rewritten.startswith("intro\n") and rewritten.endswith(f"{END}\nafter\n")
    assert "made_up" not in rewritten


def test_a_document_without_markers_is_rejected() -> None:
    """GIVEN a document without the markers WHEN it is updated THEN a ValueError names them."""
    with pytest.raises(ValueError, match="must hold the markers"):
        updated("# Configuration\n")


def test_the_readme_links_the_reference_instead_of_a_table_of_its_own() -> None:
    """GIVEN the README WHEN it is read THEN it links docs/configuration.md and has no field table to drift."""
    readme = (ROOT / "README.md").read_text()
    assert "docs/configuration.md" in readme
    assert "| field |" not in readme
