"""scripts/swap_check.py: what still refers to another algorithm after a swap."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.contract import CONTAINER_DIRECTORY
from scripts import swap_check


def test_the_shipped_algorithm_leaves_nothing_behind(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN the repository as shipped WHEN checked THEN the exports are current and nothing is listed
    assert swap_check.main([]) == 0
    assert "container/" not in capsys.readouterr().out.replace("wrote ", "")


def test_libraries_only_another_algorithm_imports_are_listed(tmp_path: Path) -> None:
    # GIVEN the contract layer's requirements holding LightGBM's libraries (as before they moved to its folder)
    shared = CONTAINER_DIRECTORY / "requirements.txt"
    moved = (CONTAINER_DIRECTORY / "lightgbm_gbdt" / "requirements.txt").read_text()
    (tmp_path / "requirements.txt").write_text(shared.read_text() + moved)
    # WHEN the linear model is chosen THEN those are listed; for LightGBM, nothing
    listed = swap_check.leftover_libraries("linear_model:ALGORITHM", tmp_path / "requirements.txt")
    assert [line.split(": ")[1].split()[0] for line in listed] == ["lightgbm", "tl2cgen", "treelite"]
    assert swap_check.leftover_libraries("lightgbm_gbdt:ALGORITHM", tmp_path / "requirements.txt") == []
    # AND the shipped file holds the contract layer's only, whichever algorithm is chosen
    assert swap_check.leftover_libraries("linear_model:ALGORITHM") == []


CONFIGURATION = """[environments.dev.training]
hyperparameters = { rate = "0.1", metric = "score" }
evaluation = { metric = "validation:score", threshold = 0.5 }
"""


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout whose environments.toml sets hyperparameters `rate` and `metric` (and evaluation's own `metric`)."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "environments.toml").write_text(CONFIGURATION)
    monkeypatch.setattr(swap_check, "ROOT", tmp_path)
    return tmp_path


def test_a_name_gone_from_the_exports_is_found_where_users_write_it(checkout: Path) -> None:
    # GIVEN a hyperparameter the configuration sets WHEN it is no longer declared THEN its line is listed
    assert swap_check.leftover_names({"rate"}) == ["config/environments.toml:2: rate"]
    assert swap_check.leftover_names(set()) == []


def test_an_app_setting_sharing_a_gone_name_is_not_listed(checkout: Path) -> None:
    # GIVEN evaluation's key `metric` (the app's) and a hyperparameter `metric`, both in the configuration
    listed = swap_check.leftover_names({"metric"})
    # THEN the hyperparameters' line is listed and evaluation's is not
    assert listed == ["config/environments.toml:2: metric"]
