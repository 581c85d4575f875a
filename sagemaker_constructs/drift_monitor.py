"""Drift monitoring from parts every account has: a schedule, a state machine, a processing job on our image.

SageMaker Model Monitor is closed to new customers (2026-07-30), so an app relying on it fails in a new
account. This construct runs the algorithm image's own `monitor` entry point as a processing job on the
endpoint's captured requests, and alarms on what it publishes (docs/drift.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from config.contract import (
    CONTAINER_DRIFT,
    DRIFT_MONITOR_STATE_MACHINE,
    state_machine_log_group_name,
)
from config.drift import DEFAULT_MIN_ROWS, DEFAULT_PSI_THRESHOLD
from sagemaker_constructs.alarms import make_alarm_name, notifying_alarm
from sagemaker_constructs.drift_checks import argument_problems, number_problems
from sagemaker_constructs.drift_dashboard import dashboard_widgets
from sagemaker_constructs.drift_states import definition
from sagemaker_constructs.execution_role import SageMakerExecutionRole
from sagemaker_constructs.key_statements import attach_encrypted_volumes_statement
from sagemaker_constructs.log_groups import LogSettings
from sagemaker_constructs.nag import acknowledge
from sagemaker_constructs.state_machines import (
    acknowledge_log_and_trace,
    log_and_trace_statements,
    logged_state_machine,
    pass_execution_role_statement,
    starter_role,
    state_machine_role,
    sync_rules_statement,
)
from sagemaker_constructs.validation import raise_if_any

# The container's metrics (container/interface.json).
_METRICS = CONTAINER_DRIFT.metrics

# The rule Step Functions' createProcessingJob.sync integration manages to learn when a job ends.
_SYNC_RULE = "StepFunctionsGetEventsForSageMakerProcessingJobsRule"
# The window: when the schedule fires (UTC) and the folders of SageMaker's capture layout it reads,
# <capture prefix><endpoint>/<variant>/yyyy/mm/dd/hh/.
_SCHEDULES = {"hourly": {"minute": "55"}, "daily": {"minute": "55", "hour": "23"}}
_PERIODS = {"hourly": cdk.Duration.hours(1), "daily": cdk.Duration.days(1)}


@dataclass(frozen=True)
class DriftJobOptions:
    """The processing job's instance and limits."""

    instance_type: str = "ml.m5.large"
    volume_size_gb: int = 30
    max_runtime: cdk.Duration = cdk.Duration.hours(1)


@dataclass(frozen=True)
class Retraining:
    """Start `pipeline` with `execution_input` whenever the drift alarm goes to ALARM."""

    pipeline: sfn.IStateMachine
    execution_input: Mapping[str, Any]


class DriftMonitor(Construct):
    """A scheduled drift check of `endpoint_name`'s captured requests against the model's baseline.

    Creates:
    - `schedule`: EventBridge Scheduler, at minute 55 of every hour (`frequency="hourly"`) or at 23:55 UTC
      (`"daily"`), starting `state_machine` with the scheduled time;
    - `state_machine`: takes the hour (day) of that time as the window, waits `settle` for SageMaker to write
      the window's last capture files, skips the run when nothing was captured, else runs the image's
      `monitor` as a processing job (`createProcessingJob.sync`) as `execution_role`, with the model
      artifact (`baseline_key`, whose drift-baseline.json the container reads; or, with `baseline_package_arn`,
      the artifact of that model package version, described at run time) and the window's capture folder
      of `variant_name` as inputs, and the report written to `<report_prefix><endpoint>/<window>/`;
    - `drift_alarm`: the highest feature drift (PSI) of a window above `psi_threshold`, and `failure_alarm`: a
      run that failed; both notify `alarm_topic` on ALARM and OK;
    - with `retraining`, an EventBridge rule that starts the training pipeline when `drift_alarm` fires.
    Executions may be started by hand with `{"scheduled_time": "2026-12-01T10:00:00Z", "settle_seconds": 0}`
    to check a past window.

    :param name_prefix: the environment's prefix; processing jobs are named `<name_prefix>-drift-<8 hex>`.
    :param encryption_key: what the job reads and writes (its volume, the report, the baseline version) is
        encrypted with; an argument of its own, as the job's data is not the log's.
    :param metrics_namespace: the namespace the container publishes to (EMF), by `EndpointName`.
    :param logs: the key, retention and removal policy of the state machine's log group (`log_group`).
    :param settle: @default 10 minutes.
    :param schedule_enabled: @default True; False keeps the state machine for runs by hand.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name_prefix: str,
        endpoint_name: str,
        variant_name: str,
        image_uri: str,
        execution_role: SageMakerExecutionRole,
        artifacts_bucket: s3.IBucket,
        baseline_key: str | None,
        capture_prefix: str,
        encryption_key: kms.IKey,
        alarm_topic: sns.ITopic,
        metrics_namespace: str,
        logs: LogSettings,
        frequency: Literal["hourly", "daily"] = "hourly",
        psi_threshold: float = DEFAULT_PSI_THRESHOLD,
        min_rows: int = DEFAULT_MIN_ROWS,
        job: DriftJobOptions | None = None,
        settle: cdk.Duration = cdk.Duration.minutes(10),
        report_prefix: str = "drift-reports/",
        schedule_enabled: bool = True,
        retraining: Retraining | None = None,
        tags: Mapping[str, str] | None = None,
        baseline_package_arn: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        job = job or DriftJobOptions()
        self.baseline_package_arn = baseline_package_arn
        errors = argument_problems(
            name_prefix=name_prefix,
            endpoint_name=endpoint_name,
            variant_name=variant_name,
            baseline_key=baseline_key,
            baseline_package_arn=baseline_package_arn,
            capture_prefix=capture_prefix,
            report_prefix=report_prefix,
            frequency=frequency,
            frequencies=_SCHEDULES,
        )
        raise_if_any(self, errors + number_problems(psi_threshold, min_rows, job, settle))
        self.name_prefix = name_prefix
        self.endpoint_name = endpoint_name
        self.metrics_namespace = metrics_namespace
        self.frequency = frequency
        self.psi_threshold = psi_threshold
        self.period = _PERIODS[frequency]
        self.artifacts_bucket = artifacts_bucket
        self.encryption_key = encryption_key
        self.execution_role = execution_role
        self.capture_path = f"{capture_prefix}{endpoint_name}/{variant_name}/"
        self.report_path = f"{report_prefix}{endpoint_name}/"
        self.tags = dict(tags or {})

        self.role = state_machine_role(
            self,
            "Role",
            description=f"Runs the {name_prefix} drift checks: processing jobs named {name_prefix}-drift-*",
        )
        self.policy = self._create_policy(capture_prefix)
        # Called as the approved images call it, then what starts it (duplicates pairs the two): one helper, our values.
        self.state_machine, self.log_group = logged_state_machine(
            self,
            "StateMachine",
            definition=definition(
                self, image_uri=image_uri, baseline_key=baseline_key, job=job, settle=settle, min_rows=min_rows
            ),
            role=self.role,
            policy=self.policy,
            log_group_name=state_machine_log_group_name(name_prefix, DRIFT_MONITOR_STATE_MACHINE),
            logs=logs,
            comment=f"{name_prefix}: drift of {endpoint_name}'s captured requests against the model's baseline",
        )
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            schedule=scheduler.ScheduleExpression.cron(**_SCHEDULES[frequency], time_zone=cdk.TimeZone.ETC_UTC),
            target=scheduler_targets.StepFunctionsStartExecution(
                self.state_machine,
                role=starter_role(
                    self, "Scheduler", service="scheduler.amazonaws.com", state_machine=self.state_machine
                ),
                input=scheduler.ScheduleTargetInput.from_object(
                    {"scheduled_time": scheduler.ContextAttribute.scheduled_time}
                ),
            ),
            enabled=schedule_enabled,
            description=f"Checks {endpoint_name} for drift {frequency}",
        )
        action = cloudwatch_actions.SnsAction(alarm_topic)
        self.drift_alarm = notifying_alarm(
            self,
            "DriftAlarm",
            self.metric(_METRICS.overall_drift),
            alarm_name=make_alarm_name(endpoint_name, "Drift"),  # no label: a labelled metric makes a metric-math alarm
            alarm_description=(
                f"{endpoint_name}: a feature's population stability index passed {psi_threshold:g} in the last "
                f"{frequency} window: the requests no longer look like the training data. Read the window's "
                f"drift-report.json under s3://<artifacts>/{self.report_path} (most_drifted_feature), then "
                "docs/drift.md 'When it fires'."
            ),
            threshold=psi_threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            # A datapoint arrives once per window, after it: between them (and for windows with too few rows)
            # the alarm keeps its state instead of going OK and back every window.
            treat_missing_data=cloudwatch.TreatMissingData.IGNORE,
            action=action,
        )
        self.failure_alarm = notifying_alarm(
            self,
            "FailureAlarm",
            self.state_machine.metric_failed(period=self.period, statistic="Sum"),
            alarm_name=make_alarm_name(endpoint_name, "DriftCheckFailed"),
            alarm_description=(
                f"{endpoint_name}: a drift check failed, so drift is not watched. The execution's error and the "
                "processing job's ExitMessage say why (no baseline in the model, captured requests of another "
                "feature count, nothing readable); see docs/drift.md."
            ),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            action=action,
        )
        self.retraining_rule: events.Rule | None = None
        if retraining is not None:
            self.retraining_rule = events.Rule(
                self,
                "RetrainOnDrift",
                description=f"Starts the training pipeline when {endpoint_name} drifts",
                event_pattern=events.EventPattern(
                    source=["aws.cloudwatch"],
                    detail_type=["CloudWatch Alarm State Change"],
                    resources=[self.drift_alarm.alarm_arn],
                    detail={"state": {"value": ["ALARM"]}},
                ),
                targets=[
                    events_targets.SfnStateMachine(
                        retraining.pipeline,
                        role=starter_role(
                            self, "Retraining", service="events.amazonaws.com", state_machine=retraining.pipeline
                        ),
                        input=events.RuleTargetInput.from_object(dict(retraining.execution_input)),
                    )
                ],
            )

    # -- metrics -------------------------------------------------------------------

    def metric(self, metric_name: str, *, feature: str | None = None, **props: Any) -> cloudwatch.Metric:
        """One of the monitor's metrics (Maximum per window), by EndpointName (and Feature when given)."""
        dimensions = {CONTAINER_DRIFT.endpoint_dimension: self.endpoint_name}
        if feature:
            dimensions[CONTAINER_DRIFT.feature_dimension] = feature
        options: dict[str, Any] = {"period": self.period, "statistic": "Maximum", "dimensions_map": dimensions}
        return cloudwatch.Metric(namespace=self.metrics_namespace, metric_name=metric_name, **(options | props))

    def metric_overall_drift(self, **props: Any) -> cloudwatch.Metric:
        """The highest feature PSI of a window."""
        return self.metric(_METRICS.overall_drift, label="Highest feature drift (PSI)", **props)

    def metric_prediction_drift(self, **props: Any) -> cloudwatch.Metric:
        return self.metric(_METRICS.prediction_drift, label="Prediction drift (PSI)", **props)

    def metric_missing_rate_max(self, **props: Any) -> cloudwatch.Metric:
        return self.metric(_METRICS.missing_rate_max, label="Highest missing rate (%)", **props)

    def metric_per_feature(self, metric_name: str) -> cloudwatch.MathExpression:
        """Every feature's `metric_name`, found by SEARCH: the features are the model's, unknown at synth."""
        seconds = int(self.period.to_seconds())
        endpoint, feature = CONTAINER_DRIFT.endpoint_dimension, CONTAINER_DRIFT.feature_dimension
        return cloudwatch.MathExpression(
            expression=(
                f'SEARCH(\'{{{self.metrics_namespace},{endpoint},{feature}}} MetricName="{metric_name}" '
                f"{endpoint}=\"{self.endpoint_name}\"', 'Maximum', {seconds})"
            ),
            using_metrics={},
            period=self.period,
        )

    def dashboard_widgets(self) -> list[cloudwatch.IWidget]:
        """Widgets for the endpoint's dashboard: drift, missing rates, what was analysed, how to read them."""
        return dashboard_widgets(self)

    # -- permissions -----------------------------------------------------------------------------

    def _create_policy(self, capture_prefix: str) -> iam.ManagedPolicy:
        def arn(service: str, resource: str) -> str:
            # Pseudo parameters (not the stack's literal account): the nag acknowledgments below match them.
            return f"arn:{cdk.Aws.PARTITION}:{service}:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:{resource}"

        jobs = arn("sagemaker", f"processing-job/{self.name_prefix}-drift-*")
        # A managed policy of this construct's role, alike in shape to the notebook's and the execution role's
        # (duplicates pairs them): each with its own statements.
        policy = iam.ManagedPolicy(
            self,
            "Policy",
            roles=[self.role],
            description=f"What the {self.name_prefix} drift checks may do: their own processing jobs only",
            statements=[
                iam.PolicyStatement(
                    sid="RunProcessingJobs",
                    actions=[
                        "sagemaker:CreateProcessingJob",
                        "sagemaker:DescribeProcessingJob",
                        "sagemaker:StopProcessingJob",
                        "sagemaker:AddTags",
                        "sagemaker:ListTags",
                    ],
                    resources=[jobs],
                ),
                pass_execution_role_statement(self.execution_role),
                sync_rules_statement([arn("events", f"rule/{_SYNC_RULE}")]),
                iam.PolicyStatement(
                    sid="FindCapturedRequests",
                    actions=["s3:ListBucket"],
                    resources=[self.artifacts_bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{self.capture_path}*"]}},
                ),
                attach_encrypted_volumes_statement(self.encryption_key),
                *log_and_trace_statements(),
            ],
        )
        if self.baseline_package_arn is not None:
            # The version's information is encrypted with the key (its SecurityConfig): reading it decrypts.
            policy.add_statements(
                iam.PolicyStatement(
                    sid="ReadTheServedVersion",
                    actions=["sagemaker:DescribeModelPackage"],
                    resources=[self.baseline_package_arn],
                ),
                iam.PolicyStatement(
                    sid="DecryptTheVersion", actions=["kms:Decrypt"], resources=[self.encryption_key.key_arn]
                ),
            )
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:"
            f"processing-job/{self.name_prefix}-drift-*]",
            "Each run names its processing job <prefix>-drift-<random>, unknown at deploy time; limited to "
            f"this environment's drift jobs {self.name_prefix}-drift-.",
        )
        acknowledge_log_and_trace(policy)
        return policy
