"""The training pipeline: a Step Functions state machine that trains, checks, scores and reports.

- `options`: the option types and their checks (SageMaker's limits, from `config.contract`);
- `states`: the state JSON, as pure functions of the options;
- `policy`: what the state machine's role may do;
- `construct`: `TrainingPipeline`, which wires them.
"""

from sagemaker_constructs.training_pipeline.construct import TrainingPipeline
from sagemaker_constructs.training_pipeline.options import (
    QualityGate,
    TrainingJobOptions,
    TransformJobOptions,
    metric_definitions_from_json,
)

__all__ = [
    "QualityGate",
    "TrainingJobOptions",
    "TrainingPipeline",
    "TransformJobOptions",
    "metric_definitions_from_json",
]
