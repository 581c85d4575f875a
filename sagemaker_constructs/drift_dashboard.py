"""DriftMonitor's dashboard widgets: drift, missing values, what was analysed, how to read them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import aws_cloudwatch as cloudwatch

from config.contract import CONTAINER_DRIFT

if TYPE_CHECKING:  # the construct imports this module
    from sagemaker_constructs.drift_monitor import DriftMonitor

# The container's metrics (container/interface.json).
_METRICS = CONTAINER_DRIFT.metrics


def dashboard_widgets(monitor: DriftMonitor) -> list[cloudwatch.IWidget]:
    """Widgets for the endpoint's dashboard: drift, missing rates, what was analysed, how to read them."""
    threshold = cloudwatch.HorizontalAnnotation(value=monitor.psi_threshold, label="alarm threshold")
    return [
        cloudwatch.TextWidget(
            markdown=(
                f"### Drift ({monitor.frequency})\n"
                "Population stability index (PSI) of each feature's window against the training baseline: "
                "below 0.1 stable, 0.1-0.25 moderate, above 0.25 a large shift. Reports: "
                f"`s3://<artifacts>/{monitor.report_path}<window>/drift-report.json`. What to do: docs/drift.md."
            ),
            width=24,
            height=2,
        ),
        cloudwatch.GraphWidget(
            title="Drift (PSI): highest feature and predictions",
            left=[monitor.metric_overall_drift(), monitor.metric_prediction_drift()],
            left_annotations=[threshold],
            width=8,
        ),
        cloudwatch.GraphWidget(
            title="Drift (PSI) by feature",
            left=[monitor.metric_per_feature(_METRICS.feature_drift)],
            left_annotations=[threshold],
            width=8,
        ),
        cloudwatch.GraphWidget(
            title="Missing values (%) by feature",
            left=[monitor.metric_per_feature(_METRICS.missing_rate), monitor.metric_missing_rate_max()],
            width=8,
        ),
        cloudwatch.GraphWidget(
            title="Analysed rows and skipped records",
            left=[monitor.metric(_METRICS.rows_analyzed, label="Rows analysed")],
            right=[
                monitor.metric(_METRICS.corrupt_records, label="Unreadable records"),
                monitor.metric(_METRICS.mismatched_records, label="Records of another feature count"),
                monitor.metric(_METRICS.out_of_range_rate_max, label="Highest out-of-range rate (%)"),
            ],
            width=12,
        ),
        cloudwatch.GraphWidget(
            title="Drift checks",
            left=[
                monitor.state_machine.metric_succeeded(period=monitor.period, label="Succeeded"),
                monitor.state_machine.metric_failed(period=monitor.period, label="Failed"),
            ],
            width=12,
        ),
    ]
