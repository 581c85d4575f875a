"""What watches an asynchronous endpoint's queue: its metrics, the alarms that page, and dashboard widgets.

An asynchronous endpoint publishes no Invocations (https://docs.aws.amazon.com/sagemaker/latest/dg/
async-inference-monitor.html): it counts InvocationsProcesssed (AWS's spelling) and InvocationFailures per
variant, and its queue per endpoint. Every alarm here treats missing data as not breaching, so an endpoint
idle at zero instances, which publishes nothing, never pages.
"""

from __future__ import annotations

from functools import partial

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from sagemaker_constructs.alarms import AlarmSpec, make_alarms
from sagemaker_constructs.async_autoscaling import asynchronous_only, backlog_metric
from sagemaker_constructs.endpoint_monitoring import EndpointMonitoring
from sagemaker_constructs.realtime_endpoint import INVOCATION_NAMESPACE, MINUTE
from sagemaker_constructs.validation import raise_if_any

# AWS spells it with three s (async-inference-monitor.html); the metric exists under that name only.
PROCESSED = "InvocationsProcesssed"
# Failures to read a request, write its result or notify: the role's, the key's or the topic's permissions.
DELIVERY_FAILURES = ("RequestDownloadFailures", "ResponseUploadFailures", "NotificationFailures")


class AsyncEndpointMonitoring(Construct):
    """Alarms and widgets for the queue of the asynchronous endpoint `monitoring` watches, beside its own.

    Alarms, with `monitoring`'s alarm defaults (topic, names, evaluation): `BacklogAge` (the oldest queued request
    waited longer than `max_backlog_age`: the queue is not being worked, e.g. a scale-out from zero that fails),
    `InvocationFailureRate` (more than `failure_rate_percent` of the processed requests failed, over the
    evaluation window) and `DeliveryFailures` (any request SageMaker could not download, result it could not upload,
    or notification it could not publish). Widgets on `monitoring`'s dashboard: the backlog, its age, processing and
    failures.

    :param backlog_per_instance: the autoscaling target, drawn on the backlog graph. @default none drawn.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        monitoring: EndpointMonitoring,
        max_backlog_age: cdk.Duration,
        failure_rate_percent: float,
        backlog_per_instance: float | None = None,
    ) -> None:
        super().__init__(scope, id_)
        endpoint = monitoring.endpoint
        errors = asynchronous_only(endpoint, "watch it with EndpointMonitoring alone")
        if not 0 < failure_rate_percent <= 100:
            errors.append(f"failure_rate_percent must be above 0 and at most 100, got {failure_rate_percent}")
        if max_backlog_age.to_seconds() < 60:
            errors.append(f"max_backlog_age must be at least a minute, got {max_backlog_age.to_seconds():g} s")
        raise_if_any(self, errors)
        self.endpoint = endpoint
        self.variant_name = endpoint.variant_names[0]
        logs = f"read {endpoint.log_group_name} (its data-log streams name each request's inference id)"
        self.alarms = make_alarms(
            self,
            endpoint,
            monitoring.alarm_defaults,
            (
                AlarmSpec(
                    "BacklogAge",
                    partial(backlog_metric, endpoint, "ApproximateAgeOfOldestRequest", "Maximum"),
                    what=f"the oldest queued request has waited over {max_backlog_age.to_minutes():g} minutes",
                    causes="instances that cannot start (capacity, quota, a failing image), max_instances too low "
                    "for the load",
                    action=f"the endpoint's events and {logs}",
                    threshold=max_backlog_age.to_seconds(),
                ),
                AlarmSpec(
                    "InvocationFailureRate",
                    self.metric_failure_rate,
                    what=f"more than {failure_rate_percent:g} % of asynchronous requests failed for "
                    f"{monitoring.alarm_defaults.periods} minutes",
                    causes="bodies the model rejects or that exceed the payload limit, timeouts, a failing model",
                    action=f"the failure objects under the failure path and {logs}",
                    threshold=failure_rate_percent,
                ),
                AlarmSpec(
                    "DeliveryFailures",
                    self.metric_delivery_failures,
                    what="SageMaker could not download a request, upload a result or publish a notification",
                    causes="the execution role, the key or the topic's policy changed; a request uploaded elsewhere "
                    "than the requests' prefix",
                    action="compare the role's policy with the endpoint's paths",
                    threshold=0,
                    periods=1,
                ),
            ),
        )
        self.backlog_age_alarm, self.failure_rate_alarm, self.delivery_failures_alarm = self.alarms
        self._add_widgets(monitoring.dashboard, max_backlog_age, backlog_per_instance)

    def metric_variant(self, metric_name: str, statistic: str = "Sum") -> cloudwatch.Metric:
        """One of the asynchronous per-variant metrics (InvocationFailures, TimeInBacklog, ...), per minute."""
        return self.endpoint.metric(
            INVOCATION_NAMESPACE, metric_name, variant_name=self.variant_name, statistic=statistic, period=MINUTE
        )

    def metric_failure_rate(self) -> cloudwatch.MathExpression:
        """Failed requests, % of those processed or failed (a minute in which SageMaker published only one of the two
        metrics counts the other as 0: without FILL the expression would have no value, and a minute of nothing
        but failures would not breach)."""
        return cloudwatch.MathExpression(
            expression="100 * FILL(failed, 0) / MAX([FILL(failed, 0), FILL(failed, 0) + FILL(processed, 0)])",
            using_metrics={
                "failed": self.metric_variant("InvocationFailures"),
                "processed": self.metric_variant(PROCESSED),
            },
            label="Asynchronous failure rate (%)",
            period=MINUTE,
        )

    def metric_delivery_failures(self) -> cloudwatch.MathExpression:
        """Requests SageMaker could not download, results it could not upload, notifications it could not send."""
        names = {f"m{i}": metric for i, metric in enumerate(DELIVERY_FAILURES)}
        return cloudwatch.MathExpression(
            expression=" + ".join(f"FILL({key}, 0)" for key in names),
            using_metrics={key: self.metric_variant(metric) for key, metric in names.items()},
            label="Download, upload and notification failures",
            period=MINUTE,
        )

    def _add_widgets(
        self, dashboard: cloudwatch.Dashboard, max_backlog_age: cdk.Duration, backlog_per_instance: float | None
    ) -> None:
        target = (
            [cloudwatch.HorizontalAnnotation(value=backlog_per_instance, label="scaling target")]
            if backlog_per_instance is not None
            else []
        )
        dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown=(
                    "## Asynchronous queue\nAn asynchronous endpoint publishes no Invocations: the traffic widgets "
                    "above stay empty; these count its requests. **Normal**: a backlog that drains; at zero instances "
                    "nothing is published, and the first request waits minutes for an instance."
                ),
                width=24,
                height=2,
            ),
            cloudwatch.GraphWidget(
                title="Backlog (requests queued)",
                left=[backlog_metric(self.endpoint, "ApproximateBacklogSize", "Maximum")],
                right=[backlog_metric(self.endpoint, "ApproximateBacklogSizePerInstance")],
                right_annotations=target,
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Oldest queued request (s); queued without an instance",
                left=[backlog_metric(self.endpoint, "ApproximateAgeOfOldestRequest", "Maximum")],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=max_backlog_age.to_seconds(), label="backlog age alarm")
                ],
                right=[backlog_metric(self.endpoint, "HasBacklogWithoutCapacity", "Maximum")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Processed and failed per minute",
                left=[self.metric_variant(PROCESSED), self.metric_variant("InvocationFailures")],
                right=[self.metric_delivery_failures()],
                width=8,
            ),
        )
        dashboard.add_widgets(cloudwatch.AlarmStatusWidget(title="Asynchronous alarms", alarms=self.alarms, width=24))
