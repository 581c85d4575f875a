"""Every environment's settings: `environments.toml` (the data) and `settings.py` (the rules)."""

from config.settings import (
    AppConfig,
    ConfigError,
    EndpointCompute,
    EnvironmentConfig,
    EnvironmentName,
    JobCompute,
    load_config,
    parse_config,
)

__all__ = [
    "AppConfig",
    "ConfigError",
    "EndpointCompute",
    "EnvironmentConfig",
    "EnvironmentName",
    "JobCompute",
    "load_config",
    "parse_config",
]
