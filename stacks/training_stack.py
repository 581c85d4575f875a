"""The training stack: the pipeline that trains and scores, and the optional exploration notebook."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_events as events
from constructs import Construct

from config import EnvironmentName
from config.algorithm import load_algorithm
from config.contract import (
    INPUT_COMMIT,
    INPUT_DATA_PREFIX,
    INPUT_OUTPUT_PREFIX,
    INPUT_SCORE_PREFIX,
    METRIC_DEFINITIONS_FILE,
)
from sagemaker_constructs import (
    ExplorationNotebook,
    QualityGate,
    TrainingJobOptions,
    TrainingPipeline,
    TransformJobOptions,
)
from sagemaker_constructs.training_pipeline import metric_definitions_from_json
from sagemaker_constructs.training_pipeline.tuning import TuningOptions
from stacks._common import EnvironmentStack
from stacks.platform_stack import PlatformStack

SCHEDULED_COMMIT = "scheduled"


def load_metric_definitions(path: Path = METRIC_DEFINITIONS_FILE) -> list[dict[str, str]]:
    """The container's MetricDefinitions, checked (ValueError naming the file and the problem)."""
    try:
        return metric_definitions_from_json(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"cannot read the metric definitions {path}: {error.strerror}") from None
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


class TrainingStack(EnvironmentStack):
    """The training pipeline of one environment (train → evaluate → register → model → batch transform → notify).

    Also, when configured: a schedule for periodic batch scoring and an exploration notebook.
    Its output `StateMachineArn` is what `aws stepfunctions start-execution` (and sagemaker_ops) start.
    """

    purpose = "training and batch scoring pipeline, notebook"

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        platform: PlatformStack,
        metric_definitions_file: Path = METRIC_DEFINITIONS_FILE,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        settings = self.settings
        training, transform = settings.training, settings.transform
        gate = training.evaluation
        # Batch scoring uses the model the environment serves: its pinned version, approved (make deploy's
        # check-pin); dev, which may pin an artifact, scores with the model a run trains. Staging and prod score
        # nothing until a version is pinned: a run's new version awaits a person (scoring.py says why).
        package = settings.endpoint.package
        scoring_package = None if package is None else platform.registry.version_arn(package.version)
        scoring = package is not None or settings.name is EnvironmentName.DEV
        self.pipeline = TrainingPipeline(
            self,
            "Pipeline",
            name_prefix=self.name_prefix,
            image_uri=platform.image.image_uri,
            execution_role=platform.execution_role,
            data_bucket=platform.data_bucket,
            artifacts_bucket=platform.artifacts_bucket,
            encryption_key=platform.key,
            notification_topic=platform.alarm_topic,
            metric_definitions=load_metric_definitions(metric_definitions_file),
            training=TrainingJobOptions(
                instance_type=training.instance_type,
                instance_count=training.instance_count,
                volume_size_gb=training.volume_size_gb,
                max_runtime=cdk.Duration.seconds(training.max_runtime_seconds),
                max_wait=cdk.Duration.seconds(training.max_wait_seconds)
                if training.use_spot and training.max_wait_seconds
                else None,
                input_mode=training.input_mode,
                train_data_distribution=training.train_data_distribution,
                hyperparameters=training.hyperparameters,
                network_isolation=training.network_isolation,
                vpc_subnet_ids=training.vpc.subnet_ids if training.vpc else (),
                vpc_security_group_ids=training.vpc.security_group_ids if training.vpc else (),
            ),
            transform=TransformJobOptions(
                instance_type=transform.instance_type,
                instance_count=transform.instance_count,
                max_payload_mb=transform.max_payload_mb,
                max_concurrent_transforms=transform.max_concurrent_transforms,
                model_package_arn=scoring_package,
            ),
            quality_gate=QualityGate(gate.metric, gate.threshold, gate.higher_is_better) if gate else None,
            tags=self.job_tags,
            logs=self.log_settings(platform.key),
            tuning=TuningOptions.from_settings(
                settings.tuning,
                training.hyperparameters,
                metric_hyperparameter=load_algorithm().metric_hyperparameter,
            )
            if settings.tuning
            else None,
            model_registry=platform.registry,
            metrics_policy=platform.metrics_policy,
            auto_approve=settings.registry.auto_approve,
            scoring=scoring,
        )
        schedule = transform.schedule
        self.schedule: events.Rule | None = None
        if schedule is not None:
            execution_input = {
                INPUT_DATA_PREFIX: schedule.data_prefix,
                INPUT_OUTPUT_PREFIX: schedule.output_prefix,
                INPUT_COMMIT: SCHEDULED_COMMIT,
            }
            if schedule.score_prefix is not None:
                execution_input[INPUT_SCORE_PREFIX] = schedule.score_prefix
            self.schedule = self.pipeline.add_schedule(
                "Schedule",
                schedule=events.Schedule.expression(schedule.expression),
                execution_input=execution_input,
                enabled=schedule.enabled,
            )
        notebook = settings.notebook
        self.notebook: ExplorationNotebook | None = None
        if platform.notebook_role is not None and notebook.vpc is not None:
            self.notebook = ExplorationNotebook(
                self,
                "Notebook",
                role=platform.notebook_role,
                encryption_key=platform.key,
                subnet_id=notebook.vpc.subnet_ids[0],
                security_group_ids=list(notebook.vpc.security_group_ids),
                instance_type=notebook.instance_type,
                volume_size_gb=notebook.volume_size_gb,
                idle=cdk.Duration.minutes(notebook.idle_minutes),
            )
        cdk.CfnOutput(
            self,
            "StateMachineArn",
            value=self.pipeline.state_machine.state_machine_arn,
            description="Start a run: aws stepfunctions start-execution --state-machine-arn <this> --input ...",
        )
