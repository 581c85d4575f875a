"""The drift stack: scheduled drift checks of the endpoint's captured requests (docs/drift.md)."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from config.contract import DATA_CAPTURE_PREFIX, INPUT_COMMIT, INPUT_DATA_PREFIX
from sagemaker_constructs.drift_monitor import DriftJobOptions, DriftMonitor, Retraining
from sagemaker_constructs.validation import invalid
from stacks._common import EnvironmentStack
from stacks.inference_stack import InferenceStack
from stacks.platform_stack import PlatformStack
from stacks.training_stack import TrainingStack

# The `commit` a retraining started by the drift alarm records (its jobs' Commit tag).
RETRAINING_COMMIT = "drift-alarm"


class DriftStack(EnvironmentStack):
    """A `DriftMonitor` of the inference stack's endpoint, and a dashboard of what it measures.

    The monitor reads the pinned model artifact (its drift-baseline.json) and the endpoint's data capture
    in the artifacts bucket, runs as the platform's SageMaker execution role, and notifies the alarm topic.
    With `drift.retrain_on_drift`, its alarm starts the training stack's pipeline on `drift.retrain_data_prefix`.
    """

    purpose = "scheduled drift checks of the captured requests"

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        platform: PlatformStack,
        inference: InferenceStack,
        training: TrainingStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        settings = self.settings
        drift, endpoint = settings.drift, settings.endpoint
        if not endpoint.pinned or endpoint.data_capture_percentage == 0:
            raise invalid(
                self,
                [
                    "drift needs an endpoint that captures data "
                    "(a model pinned and endpoint.data_capture_percentage > 0)"
                ],
            )
        retraining = None
        if drift.retrain_on_drift and drift.retrain_data_prefix is not None:
            retraining = Retraining(
                training.pipeline.state_machine,
                {INPUT_DATA_PREFIX: drift.retrain_data_prefix, INPUT_COMMIT: RETRAINING_COMMIT},
            )
        namespace = inference.monitoring.container_metrics_namespace or self.app_name
        self.monitor = DriftMonitor(
            self,
            "DriftMonitor",
            name_prefix=self.name_prefix,
            endpoint_name=inference.endpoint.endpoint_name,
            variant_name=inference.endpoint.variant_names[0],
            image_uri=platform.image.image_uri,
            execution_role=platform.execution_role,
            artifacts_bucket=platform.artifacts_bucket,
            baseline_key=endpoint.model_artifact_key,
            baseline_package_arn=platform.registry.version_arn(endpoint.package.version) if endpoint.package else None,
            capture_prefix=DATA_CAPTURE_PREFIX,
            encryption_key=platform.key,
            alarm_topic=platform.alarm_topic,
            metrics_namespace=namespace,
            logs=self.log_settings(platform.key),
            frequency=drift.frequency,
            psi_threshold=drift.psi_threshold,
            min_rows=drift.min_rows,
            job=DriftJobOptions(
                instance_type=drift.instance_type,
                volume_size_gb=drift.volume_size_gb,
                max_runtime=cdk.Duration.seconds(drift.max_runtime_seconds),
            ),
            settle=cdk.Duration.minutes(drift.settle_minutes),
            retraining=retraining,
            tags=self.job_tags,
        )
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{inference.endpoint.endpoint_name}-drift",
            default_interval=cdk.Duration.days(7),
            period_override=cloudwatch.PeriodOverride.INHERIT,
        )
        self.dashboard.add_widgets(*self.monitor.dashboard_widgets())
        cdk.CfnOutput(
            self,
            "DriftStateMachineArn",
            value=self.monitor.state_machine.state_machine_arn,
            description="Check a past window: start an execution with input "
            '{"scheduled_time": "2026-12-01T10:55:00Z", "settle_seconds": 0}',
        )
