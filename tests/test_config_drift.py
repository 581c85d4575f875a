"""The drift settings ([environments.<env>.drift]): defaults, where drift runs, and every rule."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from config import ConfigError, parse_config
from config.drift import psi_noise
from config.sections import DriftSettings
from config.settings import DEFAULT_CONFIG_FILE

CONTAINER = Path(__file__).resolve().parent.parent / "container"


@pytest.fixture
def raw() -> dict[str, Any]:
    return copy.deepcopy(tomllib.loads(DEFAULT_CONFIG_FILE.read_text()))


def test_drift_runs_wherever_the_endpoint_captures_data_and_never_retrains_by_default(raw: dict[str, Any]) -> None:
    config = parse_config(raw)
    active = {name.value: e.drift.active(e.endpoint) for name, e in config.environments.items()}
    assert active == {"dev": False, "staging": True, "prod": True}
    assert config.environment("prod").drift.frequency == "hourly"
    assert not any(e.drift.retrain_on_drift for e in config.environments.values())


def test_drift_can_be_turned_off_where_data_is_captured(raw: dict[str, Any]) -> None:
    raw["environments"]["prod"]["drift"]["enabled"] = False
    prod = parse_config(raw).environment("prod")
    assert not prod.drift.active(prod.endpoint)


def test_retraining_on_drift_takes_the_data_prefix(raw: dict[str, Any]) -> None:
    raw["environments"]["prod"]["drift"] |= {"retrain_on_drift": True, "retrain_data_prefix": "datasets/latest"}
    assert parse_config(raw).environment("prod").drift.retrain_data_prefix == "datasets/latest"


@pytest.mark.parametrize(
    ("environment", "values", "message"),
    [
        ("dev", {"enabled": True}, r"'dev': \(settings\): drift\.enabled needs endpoint\.data_capture_percentage > 0"),
        ("prod", {"retrain_on_drift": True}, r"'prod': drift: retrain_data_prefix is required with retrain_on_drift"),
        ("prod", {"retrain_on_drift": True, "retrain_data_prefix": "/abs/"}, r"drift\.retrain_data_prefix: must be"),
        ("prod", {"frequency": "weekly"}, r"drift\.frequency: Input should be 'hourly' or 'daily'"),
        ("prod", {"psi_threshold": 0}, r"drift\.psi_threshold: Input should be greater than 0"),
        ("prod", {"psi_threshold": 11}, r"drift\.psi_threshold: Input should be less than or equal to 10"),
        ("prod", {"min_rows": 0}, r"drift\.min_rows: Input should be greater than or equal to 1"),
        ("prod", {"instance_type": "m5.large"}, r"drift\.instance_type: must be a SageMaker instance type"),
        (
            "prod",
            {"instance_type": "ml.zz9.large"},
            r"environment 'prod': drift\.instance_type: not an instance type SageMaker offers for processing jobs "
            r"\(ProcessingInstanceType",
        ),
        (
            "staging",
            {"instance_type": "ml.m5.3xlarge"},
            r"environment 'staging': drift\.instance_type: not an instance type .*did you mean ml\.m5\.",
        ),
        ("prod", {"max_runtime_seconds": 7 * 24 * 3600 + 1}, r"drift\.max_runtime_seconds: Input should be less"),
        ("prod", {"settle_minutes": 61}, r"drift\.settle_minutes: Input should be less than or equal to 60"),
        ("prod", {"schedule": "rate(1 hour)"}, r"drift\.schedule: unknown field"),
    ],
)
def test_bad_drift_settings_name_environment_and_field(
    raw: dict[str, Any], environment: str, values: dict[str, Any], message: str
) -> None:
    raw["environments"][environment].setdefault("drift", {}).update(values)
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"psi_threshold": 0.2, "min_rows": 100},
            r"environment 'prod': drift: psi_threshold \(0\.2\) must be at least 3x the PSI that sampling alone gives "
            r"at min_rows \(100\) rows, \(bins-1\)/min_rows = 0\.09: raise psi_threshold to 0\.27 or min_rows to 135",
        ),
        ({"psi_threshold": 0.01, "min_rows": 10_000_000}, None),
        ({"psi_threshold": 0.001, "min_rows": 1}, r"drift: psi_threshold \(0\.001\) must be at least 3x"),
        ({"psi_threshold": 0.05}, r"drift: psi_threshold \(0\.05\) must be .* min_rows \(500\) .* min_rows to 540"),
    ],
)
def test_a_threshold_within_sampling_noise_at_min_rows_is_refused_naming_both(
    raw: dict[str, Any], values: dict[str, Any], message: str | None
) -> None:
    # GIVEN prod's drift threshold and minimum window WHEN loaded
    raw["environments"]["prod"]["drift"].update(values)
    if message is None:
        # THEN a threshold well above the noise at min_rows loads
        assert parse_config(raw).environment("prod").drift.min_rows == values["min_rows"]
        return
    # THEN one the same-distribution PSI of a min_rows window would often pass is refused, naming both fields
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_the_default_threshold_stands_well_above_the_noise_of_the_default_minimum_window() -> None:
    defaults = DriftSettings()
    assert defaults.psi_threshold >= 10 * psi_noise(defaults.min_rows)
