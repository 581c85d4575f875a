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


def test_a_name_gone_from_the_exports_is_found_where_users_write_it() -> None:
    # GIVEN a hyperparameter the configuration sets WHEN it is no longer declared THEN its lines are listed
    name = next(
        iter(swap_check.ROOT.joinpath("config/environments.toml").read_text().split("hyperparameters = { ")[1:])
    )
    first = name.split(" = ")[0]
    listed = swap_check.leftover_names({first})
    assert any(line.startswith("config/environments.toml:") and line.endswith(f": {first}") for line in listed)
    assert swap_check.leftover_names(set()) == []


def test_an_app_setting_sharing_a_gone_name_is_not_listed() -> None:
    # GIVEN evaluation's key `metric` (the app's) and a hyperparameter `metric` (LightGBM's), both in the config
    listed = swap_check.leftover_names({"metric"})
    config = (swap_check.ROOT / "config/environments.toml").read_text().splitlines()
    lines = [config[int(line.split(":")[1]) - 1] for line in listed if line.startswith("config/environments.toml:")]
    # THEN the hyperparameters' lines are listed and evaluation's are not
    assert any(line.startswith("hyperparameters = ") for line in lines)
    assert not any(line.startswith("evaluation = ") for line in lines)
