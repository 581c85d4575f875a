"""Training's network isolation and VPC in the configuration: on in staging and prod, mistakes named."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import pytest

from config import ConfigError, parse_config
from config.settings import DEFAULT_CONFIG_FILE


@pytest.fixture
def raw() -> dict[str, Any]:
    return copy.deepcopy(tomllib.loads(DEFAULT_CONFIG_FILE.read_text()))


def test_staging_and_prod_train_network_isolated_and_dev_does_not(raw: dict[str, Any]) -> None:
    """GIVEN the shipped configuration WHEN it is loaded THEN staging and prod train without network, dev with."""
    config = parse_config(raw)
    assert {name: config.environment(name).training.network_isolation for name in ("dev", "staging", "prod")} == {
        "dev": False,
        "staging": True,
        "prod": True,
    }


def test_a_training_vpc_is_read(raw: dict[str, Any]) -> None:
    """GIVEN subnets and security groups for prod's training WHEN loaded THEN both are there."""
    vpc = {"subnet_ids": ["subnet-0123456789abcdef0"], "security_group_ids": ["sg-0123456789abcdef0"]}
    raw["environments"]["prod"]["training"]["vpc"] = vpc
    training = parse_config(raw).environment("prod").training
    assert training.vpc is not None
    assert (training.vpc.subnet_ids, training.vpc.security_group_ids) == (
        ("subnet-0123456789abcdef0",),
        ("sg-0123456789abcdef0",),
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("vpc", {"subnet_ids": ["subnet-0123456789abcdef0"], "security_group_ids": []}, "security_group_ids"),
        ("vpc", {"subnet_ids": ["subnet-zz"], "security_group_ids": ["sg-0123456789abcdef0"]}, "subnet_ids"),
        ("network_isolation", "yes please", "network_isolation"),
    ],
    ids=["no security group", "not a subnet id", "not a boolean"],
)
def test_a_mistake_names_environment_and_field(raw: dict[str, Any], field: str, value: Any, message: str) -> None:
    """GIVEN a wrong training isolation or VPC value in staging WHEN loaded THEN the error names staging and it."""
    raw["environments"]["staging"]["training"][field] = value
    with pytest.raises(ConfigError, match=rf"(?s)staging.*training.*{message}"):
        parse_config(raw)
