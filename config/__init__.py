"""Every environment's settings: `environments.toml` (the data) and the rules: `types.py` (value types),
`endpoint.py` and `sections.py` (the sections), `accounts.py` (account policy), `settings.py` (an
environment, the app, and the loader)."""

from config.async_inference import AsyncInferenceSettings
from config.endpoint import (
    AutoScalingSettings,
    DeploymentSettings,
    EndpointSettings,
    ScheduleSettings,
    ServerlessSettings,
    VariantSettings,
    VpcSettings,
)
from config.inference_component import InferenceComponentSettings
from config.sections import (
    BatchScheduleSettings,
    DriftSettings,
    EvaluationSettings,
    JobCompute,
    MonitoringSettings,
    NotebookSettings,
    RegistrySettings,
    TrainingSettings,
    TransformSettings,
)
from config.settings import AppConfig, EnvironmentConfig, load_config, parse_config
from config.types import ConfigError, EnvironmentName

__all__ = [
    "AppConfig",
    "AsyncInferenceSettings",
    "AutoScalingSettings",
    "BatchScheduleSettings",
    "ConfigError",
    "DeploymentSettings",
    "DriftSettings",
    "EndpointSettings",
    "EnvironmentConfig",
    "EnvironmentName",
    "EvaluationSettings",
    "InferenceComponentSettings",
    "JobCompute",
    "MonitoringSettings",
    "NotebookSettings",
    "RegistrySettings",
    "ScheduleSettings",
    "ServerlessSettings",
    "TrainingSettings",
    "TransformSettings",
    "VariantSettings",
    "VpcSettings",
    "load_config",
    "parse_config",
]
