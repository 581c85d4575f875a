"""Every environment's settings: `environments.toml` (the data) and `settings.py` (the rules)."""

from config.settings import (
    AppConfig,
    AutoScalingSettings,
    ConfigError,
    DeploymentSettings,
    EndpointSettings,
    EnvironmentConfig,
    EnvironmentName,
    JobCompute,
    MonitoringSettings,
    ScheduleSettings,
    ServerlessSettings,
    VariantSettings,
    VpcSettings,
    load_config,
    parse_config,
)

__all__ = [
    "AppConfig",
    "AutoScalingSettings",
    "ConfigError",
    "DeploymentSettings",
    "EndpointSettings",
    "EnvironmentConfig",
    "EnvironmentName",
    "JobCompute",
    "MonitoringSettings",
    "ScheduleSettings",
    "ServerlessSettings",
    "VariantSettings",
    "VpcSettings",
    "load_config",
    "parse_config",
]
