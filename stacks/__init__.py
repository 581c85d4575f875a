"""The app's stacks: one module per stack, composed into one Stage per environment."""

from stacks.application import build_app
from stacks.environment_stage import EnvironmentStage
from stacks.inference_stack import InferenceStack
from stacks.platform_stack import PlatformStack
from stacks.training_stack import TrainingStack

__all__ = ["EnvironmentStage", "InferenceStack", "PlatformStack", "TrainingStack", "build_app"]
