"""The app's own constructs: one module per construct, each owning its resources and their wiring."""

from sagemaker_constructs.alarm_topic import AlarmTopic
from sagemaker_constructs.alarms import AlarmDefaults
from sagemaker_constructs.algorithm_image import AlgorithmImage
from sagemaker_constructs.async_autoscaling import AsyncEndpointAutoScaling
from sagemaker_constructs.async_monitoring import AsyncEndpointMonitoring
from sagemaker_constructs.component_autoscaling import ComponentAutoScaling
from sagemaker_constructs.encryption_key import EncryptionKey
from sagemaker_constructs.endpoint_autoscaling import EndpointAutoScaling, ScheduledCapacity
from sagemaker_constructs.endpoint_monitoring import AlarmThresholds, EndpointMonitoring
from sagemaker_constructs.execution_role import SageMakerExecutionRole
from sagemaker_constructs.inference_component import InferenceComponent
from sagemaker_constructs.log_groups import EncryptedLogGroups, LogSettings
from sagemaker_constructs.model import SageMakerModel, VpcPlacement
from sagemaker_constructs.model_registry import ModelRegistry
from sagemaker_constructs.notebook import ExplorationNotebook, NotebookRole
from sagemaker_constructs.realtime_endpoint import (
    AsyncInference,
    InstanceVariant,
    ManagedVariant,
    RealtimeEndpoint,
    ServerlessVariant,
    TrafficShifting,
)
from sagemaker_constructs.scalable_capacity import ScalingLimits
from sagemaker_constructs.secure_bucket import SecureBucket
from sagemaker_constructs.training_pipeline import (
    QualityGate,
    TrainingJobOptions,
    TrainingPipeline,
    TransformJobOptions,
)

__all__ = [
    "AlarmDefaults",
    "AlarmThresholds",
    "AlarmTopic",
    "AlgorithmImage",
    "AsyncEndpointAutoScaling",
    "AsyncEndpointMonitoring",
    "AsyncInference",
    "ComponentAutoScaling",
    "EncryptedLogGroups",
    "EncryptionKey",
    "EndpointAutoScaling",
    "EndpointMonitoring",
    "ExplorationNotebook",
    "InferenceComponent",
    "InstanceVariant",
    "LogSettings",
    "ManagedVariant",
    "ModelRegistry",
    "NotebookRole",
    "QualityGate",
    "RealtimeEndpoint",
    "SageMakerExecutionRole",
    "SageMakerModel",
    "ScalingLimits",
    "ScheduledCapacity",
    "SecureBucket",
    "ServerlessVariant",
    "TrafficShifting",
    "TrainingJobOptions",
    "TrainingPipeline",
    "TransformJobOptions",
    "VpcPlacement",
]
