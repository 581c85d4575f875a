"""The training, transform and notebook settings: each rule names environment and field."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import pytest

from config import ConfigError, parse_config
from config.settings import DEFAULT_CONFIG_FILE
from tests import declared


@pytest.fixture
def raw() -> dict[str, Any]:
    return copy.deepcopy(tomllib.loads(DEFAULT_CONFIG_FILE.read_text()))


INTEGER = declared.contract_setting("integer").name
VPC = {"subnet_ids": ["subnet-0123456789abcdef0"], "security_group_ids": ["sg-0123456789abcdef0"]}


def test_shipped_defaults_train_on_spot_outside_prod_and_keep_notebooks_off(raw: dict[str, Any]) -> None:
    config = parse_config(raw)
    if declared.ALGORITHM.capabilities.checkpoints:  # spot training resumes from checkpoints
        assert config.environment("dev").training.use_spot
    assert not config.environment("prod").training.use_spot
    assert all(not e.notebook.enabled for e in config.environments.values())
    assert all(e.transform.schedule is None for e in config.environments.values())


def test_training_may_use_several_instances_with_sharded_data(raw: dict[str, Any]) -> None:
    """GIVEN instance_count > 1 (distributed training, container/README.md) THEN the config accepts it."""
    declared.capability("several_hosts")
    changed = copy.deepcopy(raw)
    changed["environments"]["prod"]["training"] |= {"instance_count": 4, "train_data_distribution": "ShardedByS3Key"}
    training = parse_config(changed).environment("prod").training
    assert (training.instance_count, training.train_data_distribution) == (4, "ShardedByS3Key")


@pytest.mark.parametrize(
    ("environment", "section", "values", "message"),
    [
        (
            "dev",
            "training",
            {"use_spot": True, "max_wait_seconds": None},
            r"environment 'dev': training: max_wait_seconds is required with use_spot",
        ),
        (
            "dev",
            "training",
            {"use_spot": True, "max_wait_seconds": 7200},
            r"environment 'dev': training: max_wait_seconds \(7200\) must exceed max_runtime_seconds \(7200\)",
        ),
        (
            "prod",
            "training",
            {"max_wait_seconds": 99999},
            r"environment 'prod': training: max_wait_seconds applies to spot training only",
        ),
        (
            "prod",
            "training",
            {"max_runtime_seconds": 2419201},
            r"environment 'prod': training\.max_runtime_seconds: .*less than or equal to 2419200",
        ),
        (
            "prod",
            "training",
            {"instance_count": 101},
            r"environment 'prod': training\.instance_count: .*less than or equal to 100",
        ),
        (
            "prod",
            "training",
            {"input_mode": "Pipe"},
            r"environment 'prod': training\.input_mode: .*'File' or 'FastFile'",
        ),
        (
            "prod",
            "training",
            {"volume_size_gb": 0},
            r"environment 'prod': training\.volume_size_gb: .*greater than or equal to 1",
        ),
        (
            "prod",
            "training",
            {"hyperparameters": {INTEGER: 1}},
            rf"environment 'prod': training\.hyperparameters\.{INTEGER}: .*string",
        ),
        (
            "prod",
            "training",
            {"evaluation": {"metric": "validation score", "threshold": 1}},
            r"environment 'prod': training\.evaluation\.metric: must be a metric name",
        ),
        (
            "prod",
            "transform",
            {"max_payload_mb": 101},
            r"environment 'prod': transform\.max_payload_mb: .*less than or equal to 100",
        ),
        (
            "prod",
            "transform",
            {"max_payload_mb": 30, "max_concurrent_transforms": 4},
            r"environment 'prod': transform: max_concurrent_transforms x max_payload_mb "
            r"\(4 x 30 = 120\) must not exceed 100",
        ),
        (
            "prod",
            "transform",
            {"schedule": {"expression": "daily", "data_prefix": "d"}},
            r"environment 'prod': transform\.schedule\.expression: must be rate\(<n> <unit>\), cron\(<6 fields>\)",
        ),
        (
            "prod",
            "transform",
            {"schedule": {"expression": "rate(1 day)", "data_prefix": "/d"}},
            r"environment 'prod': transform\.schedule\.data_prefix: must be a key prefix",
        ),
        ("dev", "notebook", {"enabled": True}, r"environment 'dev': notebook: vpc is required when enabled"),
        (
            "staging",
            "notebook",
            {"enabled": True, "vpc": VPC},
            r"environment 'staging': .*notebook\.enabled outside dev needs notebook\.allow_outside_dev = true",
        ),
        (
            "dev",
            "notebook",
            {"idle_minutes": 2},
            r"environment 'dev': notebook\.idle_minutes: .*greater than or equal to 5",
        ),
        (
            "dev",
            "notebook",
            {"instance_type": "t3.medium"},
            r"environment 'dev': notebook\.instance_type: must be a SageMaker instance type",
        ),
    ],
)
def test_bad_training_settings_are_rejected_naming_environment_and_field(
    raw: dict[str, Any], environment: str, section: str, values: dict[str, Any], message: str
) -> None:
    settings = raw["environments"][environment].setdefault(section, {})
    for key, value in values.items():
        if value is None:
            settings.pop(key, None)
        else:
            settings[key] = value
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_a_notebook_outside_dev_is_allowed_when_explicitly_asked_for(raw: dict[str, Any]) -> None:
    raw["environments"]["staging"]["notebook"] = {"enabled": True, "allow_outside_dev": True, "vpc": VPC}
    assert parse_config(raw).environment("staging").notebook.enabled
