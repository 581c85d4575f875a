"""Every environment's settings: `environments.toml` (the data) and `settings.py` (the rules)."""

from config.settings import (
    AppConfig,
    ConfigError,
    AutoScalingSettings,
    DeploymentSettings,
    EndpointSettings,
    EnvironmentConfig,
    EnvironmentName,
    JobCompute,
    load_config,
    ScheduleSettings,
    ServerlessSettings,
    VariantSettings,
    VpcSettings,
    parse_config,
)

__all__ = [
    "AppConfig",
    "ConfigError",
    "AutoScalingSettings",
    "DeploymentSettings",
    "EndpointSettings",
    "EnvironmentConfig",
    "EnvironmentName",
    "JobCompute",
    "load_config",
    "ScheduleSettings",
    "ServerlessSettings",
    "VariantSettings",
    "VpcSettings",
    "parse_config",
]
