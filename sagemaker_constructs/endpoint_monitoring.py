"""One facade that watches a real-time endpoint: a dashboard, alarms that page, and their wiring."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Unpack

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

# The container writes its metrics in CloudWatch embedded metric format (EMF) to its log, so
# CloudWatch Logs turns them into metrics without any PutMetricData permission.
from config.contract import (
    CONTAINER_CLIENT_ERRORS,
    CONTAINER_METRIC_DIMENSIONS,
    CONTAINER_MODEL_ERRORS,
    CONTAINER_REQUEST_ROWS,
    CONTAINER_REQUESTS,
    CONTAINER_SERVER_ERRORS,
    DATA_CAPTURE_METRICS_FILTER,
)
from sagemaker_constructs.alarms import make_alarm_name, notifying_alarm
from sagemaker_constructs.realtime_endpoint import INSTANCE_NAMESPACE, MetricOptions, RealtimeEndpoint
from sagemaker_constructs.validation import invalid, raise_if_any

GPU_FAMILIES = ("g", "p")
# The container's dimension sets (config.contract.CONTAINER_METRIC_DIMENSIONS): per endpoint, and per
# endpoint and model version.
ENDPOINT_DIMENSION, MODEL_VERSION_DIMENSION = CONTAINER_METRIC_DIMENSIONS[-1]
MINUTE = cdk.Duration.minutes(1)


@dataclass(frozen=True)
class AlarmThresholds:
    """When the operational alarms fire (each over `evaluation` minutes, 1-minute periods)."""

    server_error_rate_percent: float = 1.0
    model_latency_p99: cdk.Duration = cdk.Duration.millis(500)
    container_error_rate_percent: float = 5.0
    client_error_rate_percent: float = 25.0
    cpu_utilization_percent: int = 80
    memory_utilization_percent: int = 85
    disk_utilization_percent: int = 80
    no_invocations: cdk.Duration | None = None
    evaluation: cdk.Duration = cdk.Duration.minutes(5)


class EndpointMonitoring(Construct):
    """A dashboard and paging alarms for one variant of `endpoint`, notifying `alarm_topic` on ALARM and OK.

    Alarms (names say what, descriptions say likely causes and the first action): 5XX error rate,
    p99 model latency, container error rate (requests the model rejected or the container failed,
    from the container's own metrics), CPU, memory and disk utilization, optionally no invocations,
    and instances below `min_capacity`. The error-rate, latency and container-error alarms are added
    to the endpoint's auto-rollback, so a deployment that trips any of them goes back to the old fleet.

    What rolls back is what the new model does, never what callers send: the container-error alarm
    reads the `ModelVersion` dimension of `model_version` (during a canary, the canary's fleet only)
    and leaves out ClientErrors. A flood of caller mistakes raises a warning of its own,
    `ClientErrorRate`, which is no rollback alarm and says in its description that it is the callers.
    AWS/SageMaker's own metrics (5XX, latency) exist per variant, not per model: those alarms stay
    variant-wide (docs/observability.md).

    The dashboard shows traffic, latency (p50/p90/p99), errors, utilization (GPU on g*/p*
    instances), instances, data capture volume (`data_capture_bucket_name` with an S3 request
    metrics filter `DataCapture`) and text that says what normal looks like and where the logs are.

    Alarm names are `<alarm_name_prefix>-<what>` (`sagemaker-gbdt-prod-server-error-rate`), so a
    page says which endpoint and what is wrong. All argument problems are reported in one ValueError.

    :param variant_name: the variant watched. @default the endpoint's only variant; required when
        it has several.
    :param alarm_name_prefix: @default the endpoint's name.
    :param container_metrics_namespace: the container's EMF namespace; @default no container widgets.
    :param model_version: the `ModelVersion` the container reports (`SageMakerModel.model_version`);
        the container-error alarm reads it. @default endpoint-wide (every model's requests).
    :param min_capacity: alarm when fewer instances serve; @default no such alarm.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        endpoint: RealtimeEndpoint,
        alarm_topic: sns.ITopic,
        thresholds: AlarmThresholds,
        dashboard_name: str,
        container_metrics_namespace: str | None = None,
        min_capacity: int | None = None,
        max_capacity: int | None = None,
        data_capture_bucket_name: str | None = None,
        variant_name: str | None = None,
        alarm_name_prefix: str | None = None,
        model_version: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self.model_version = model_version
        self.variant_name = _check(
            self,
            endpoint=endpoint,
            variant_name=variant_name,
            thresholds=thresholds,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
        )
        self.endpoint = endpoint
        self.alarm_name_prefix = alarm_name_prefix or endpoint.endpoint_name
        self.thresholds = thresholds
        self.container_metrics_namespace = container_metrics_namespace
        self._action = cloudwatch_actions.SnsAction(alarm_topic)
        self._periods = int(thresholds.evaluation.to_minutes())
        self.alarms: list[cloudwatch.Alarm] = []
        self._add_alarms(min_capacity)
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=dashboard_name,
            default_interval=cdk.Duration.hours(3),
            period_override=cloudwatch.PeriodOverride.INHERIT,
        )
        self._add_widgets(min_capacity, max_capacity, data_capture_bucket_name)

    # -- metrics ---------------------------------------------------------------------------------

    def metric_server_error_rate(self, *, period: cdk.Duration = MINUTE) -> cloudwatch.MathExpression:
        """5XX answers as a percentage of invocations."""
        return cloudwatch.MathExpression(
            expression="100 * errors / MAX([errors, invocations])",
            using_metrics={
                "errors": self.endpoint.metric_server_errors(variant_name=self.variant_name, period=period),
                "invocations": self.endpoint.metric_invocations(variant_name=self.variant_name, period=period),
            },
            label="5XX error rate (%)",
            period=period,
        )

    def metric_instances(self, *, period: cdk.Duration = MINUTE) -> cloudwatch.MathExpression:
        """Instances serving: invocations divided by invocations per instance (while there is traffic)."""
        return cloudwatch.MathExpression(
            expression="invocations / perinstance",
            using_metrics={
                "invocations": self.endpoint.metric_invocations(variant_name=self.variant_name, period=period),
                "perinstance": self.endpoint.metric_invocations_per_instance(
                    variant_name=self.variant_name, period=period
                ),
            },
            label="Instances serving (invocations ÷ invocations per instance)",
            period=period,
        )

    def metric_container(
        self, metric_name: str, *, model_version: str | None = None, **options: Unpack[MetricOptions]
    ) -> cloudwatch.Metric:
        """One of the container's metrics (`Requests`, `RequestRows`, `ClientErrors`, ...). @default Sum per minute.

        The container reports per endpoint, and per endpoint and model version: `model_version` reads
        one model's fleet only. `options["variant_name"]` is ignored (there is no variant dimension).
        """
        if self.container_metrics_namespace is None:
            raise invalid(self, ["container_metrics_namespace was not given: the container's metrics are unknown"])
        dimensions = {ENDPOINT_DIMENSION: self.endpoint.endpoint_name}
        if model_version is not None:
            dimensions[MODEL_VERSION_DIMENSION] = model_version
        return cloudwatch.Metric(
            namespace=self.container_metrics_namespace,
            metric_name=metric_name,
            dimensions_map=dimensions,
            statistic=options.get("statistic", "Sum"),
            period=options.get("period", MINUTE),
            label=options.get("label"),
            unit=options.get("unit"),
            color=options.get("color"),
        )

    def metric_container_error_rate(
        self, *, model_version: str | None = None, period: cdk.Duration = MINUTE
    ) -> cloudwatch.MathExpression:
        """Requests the model rejected or the container failed (ModelErrors + ServerErrors), % of its requests.

        A caller's mistakes (ClientErrors) are left out: they say nothing about a new model or image,
        and must not roll a deployment back. `model_version`: that model's fleet only.
        """
        return cloudwatch.MathExpression(
            expression="100 * (model + server) / MAX([model + server, requests])",
            using_metrics={
                "model": self.metric_container(CONTAINER_MODEL_ERRORS, model_version=model_version, period=period),
                "server": self.metric_container(CONTAINER_SERVER_ERRORS, model_version=model_version, period=period),
                "requests": self.metric_container(CONTAINER_REQUESTS, model_version=model_version, period=period),
            },
            label="Container error rate, model rejections and 5xx (%)",
            period=period,
        )

    def metric_client_error_rate(self, *, period: cdk.Duration = MINUTE) -> cloudwatch.MathExpression:
        """Requests the callers got wrong (ClientErrors: malformed, unsupported type, too large), % of requests."""
        return cloudwatch.MathExpression(
            expression="100 * client / MAX([client, requests])",
            using_metrics={
                "client": self.metric_container(CONTAINER_CLIENT_ERRORS, period=period),
                "requests": self.metric_container(CONTAINER_REQUESTS, period=period),
            },
            label="Client error rate (%)",
            period=period,
        )

    # -- alarms ----------------------------------------------------------------------------------

    def _alarm(
        self,
        id_: str,
        metric: cloudwatch.Metric | cloudwatch.MathExpression,
        *,
        what: str,
        causes: str,
        action: str,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
        periods: int | None = None,
    ) -> cloudwatch.Alarm:
        evaluation = periods or self._periods
        alarm = notifying_alarm(
            self,
            id_,
            metric,
            alarm_name=make_alarm_name(self.alarm_name_prefix, id_),
            description=f"{self.endpoint.endpoint_name}: {what}. Likely causes: {causes}. First action: {action}.",
            threshold=threshold,
            comparison=comparison,
            evaluation_periods=evaluation,
            datapoints_to_alarm=evaluation,
            missing=missing,
            action=self._action,
        )
        self.alarms.append(alarm)
        return alarm

    def _add_alarms(self, min_capacity: int | None) -> None:
        t = self.thresholds
        minutes = f"for {self._periods} minutes"
        logs = f"read {self.endpoint.log_group_name}"
        rollback = [
            self._alarm(
                "ServerErrorRate",
                self.metric_server_error_rate(),
                what=f"more than {t.server_error_rate_percent:g} % of invocations answered 5XX {minutes}",
                causes="a model or image that fails on real requests, out-of-memory workers, a crash loop",
                action=f"{logs} for tracebacks, then roll back the model pin if a deployment just happened",
                threshold=t.server_error_rate_percent,
            ),
            self._alarm(
                "ModelLatencyP99",
                self.endpoint.metric_model_latency(variant_name=self.variant_name),
                what=f"p99 model latency above {t.model_latency_p99.to_milliseconds():g} ms {minutes}",
                causes="more traffic than the instances can serve, a larger model, large batch requests",
                action="compare Invocations per instance with the autoscaling target and the instance count",
                threshold=t.model_latency_p99.to_milliseconds() * 1000,  # the metric is in microseconds
            ),
        ]
        if self.container_metrics_namespace is not None:
            rollback.append(
                self._alarm(
                    "ContainerErrorRate",
                    self.metric_container_error_rate(model_version=self.model_version),
                    what=f"more than {t.container_error_rate_percent:g} % of requests rejected by the model or "
                    f"failed by the container {minutes}"
                    + (f" (model version {self.model_version})" if self.model_version else ""),
                    causes="requests with a feature count the current model does not expect (often right after a "
                    "promotion that changed the features), or the container failing (5xx)",
                    action=f"{logs} and look at the errors' kind and row; compare the model's feature count",
                    threshold=t.container_error_rate_percent,
                )
            )
        for alarm in rollback:
            self.endpoint.add_rollback_alarm(alarm)
        if self.container_metrics_namespace is not None:
            # Not a rollback alarm, and not a fault: the callers' mistakes, whichever model serves.
            self.client_error_alarm: cloudwatch.Alarm | None = self._alarm(
                "ClientErrorRate",
                self.metric_client_error_rate(),
                what=f"WARNING, the callers: more than {t.client_error_rate_percent:g} % of requests were malformed "
                f"or unsupported (4xx, the caller's mistake) {minutes}. Not a fault of the model or the endpoint, "
                "and no deployment is rolled back for it",
                causes="a client sending a wrong content type, malformed CSV or JSON, or payloads above the limit",
                action=f"{logs} for the client errors' reason, and tell the calling team",
                threshold=t.client_error_rate_percent,
            )
        else:
            self.client_error_alarm = None
        if self.endpoint.serverless:
            return  # no instances to watch
        for id_, metric, limit, what in (
            (
                "CpuHigh",
                self.endpoint.metric_cpu_utilization(variant_name=self.variant_name),
                t.cpu_utilization_percent,
                "CPU",
            ),
            (
                "MemoryHigh",
                self.endpoint.metric_memory_utilization(variant_name=self.variant_name),
                t.memory_utilization_percent,
                "memory",
            ),
            (
                "DiskHigh",
                self.endpoint.metric_disk_utilization(variant_name=self.variant_name),
                t.disk_utilization_percent,
                "disk",
            ),
        ):
            self._alarm(
                id_,
                metric,
                what=f"{what} utilization above {limit} % {minutes}",
                causes="traffic above what autoscaling's maximum can serve, or a model too large for the instance",
                action="check the instance count against max_capacity; raise it or choose a larger instance type",
                threshold=limit,
            )
        if t.no_invocations is not None:
            silent = int(t.no_invocations.to_minutes())
            self._alarm(
                "NoInvocations",
                self.endpoint.metric_invocations(variant_name=self.variant_name),
                what=f"no invocations for {silent} minutes",
                causes="a client or route that stopped sending, expired credentials of the caller, a DNS change",
                action="check the calling service's logs and its InvokeEndpoint errors",
                threshold=1,
                comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                missing=cloudwatch.TreatMissingData.BREACHING,
                periods=silent,
            )
        if min_capacity is not None:
            self._alarm(
                "InstancesBelowMinimum",
                self.metric_instances(),
                what=f"fewer than {min_capacity} instances serving {minutes}",
                causes="instances failing health checks, capacity shortage of the instance type in the region",
                action="look at the endpoint's events and /ping failures in the log",
                threshold=min_capacity,
                comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            )

    # -- dashboard -------------------------------------------------------------------------------

    def _add_widgets(self, min_capacity: int | None, max_capacity: int | None, capture_bucket: str | None) -> None:
        e = self.endpoint
        region = cdk.Stack.of(self).region
        log_link = (
            f"https://console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:log-groups/log-group/"
            + e.log_group_name.replace("/", "$252F")
        )
        self.dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown=(
                    f"# {e.endpoint_name}\n"
                    f"Logs: [{e.log_group_name}]({log_link}). Alarms notify the alarm topic and roll back a "
                    "deployment in progress. **Normal**: 5XX rate 0, 4XX only from bad client requests, "
                    f"p99 model latency well under {self.thresholds.model_latency_p99.to_milliseconds():g} ms "
                    "(single-digit ms for one row), CPU below the alarm line with headroom, instances between "
                    "min and max capacity."
                ),
                width=24,
                height=4,
            )
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Invocations per minute",
                left=[e.metric_invocations(variant_name=self.variant_name)],
                right=[e.metric_invocations_per_instance(variant_name=self.variant_name)],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Model latency (ms)",
                left=[
                    _ms(e.metric_model_latency(variant_name=self.variant_name, statistic=s), f"model{s}", f"model {s}")
                    for s in ("p50", "p90", "p99")
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(
                        value=self.thresholds.model_latency_p99.to_milliseconds(), label="p99 alarm"
                    )
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Overhead latency (ms)",
                left=[
                    _ms(
                        e.metric_overhead_latency(variant_name=self.variant_name, statistic=s),
                        f"overhead{s}",
                        f"overhead {s}",
                    )
                    for s in ("p50", "p90", "p99")
                ],
                width=8,
            ),
        )
        errors: list[cloudwatch.IWidget] = [
            cloudwatch.GraphWidget(
                title="Errors per minute",
                left=[
                    e.metric_client_errors(variant_name=self.variant_name),
                    e.metric_server_errors(variant_name=self.variant_name),
                ],
                right=[self.metric_server_error_rate()],
                width=8,
            )
        ]
        if self.container_metrics_namespace is not None:
            errors.append(
                cloudwatch.GraphWidget(
                    title="Container: requests, rows, rejections",
                    left=[
                        self.metric_container(name)
                        for name in (
                            CONTAINER_REQUESTS,
                            CONTAINER_CLIENT_ERRORS,
                            CONTAINER_MODEL_ERRORS,
                            CONTAINER_SERVER_ERRORS,
                        )
                    ],
                    right=[self.metric_container(CONTAINER_REQUEST_ROWS)],
                    width=8,
                )
            )
        errors.append(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=8))
        self.dashboard.add_widgets(*errors)
        if not e.serverless:
            self._add_instance_widgets(min_capacity, max_capacity)
        if capture_bucket is not None:
            self.dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title="Data capture: objects and bytes written",
                    left=[_capture_metric(capture_bucket, "PutRequests")],
                    right=[_capture_metric(capture_bucket, "BytesUploaded")],
                    width=12,
                ),
                cloudwatch.TextWidget(
                    markdown=(
                        "Autoscaling activity is not a CloudWatch metric: `aws application-autoscaling "
                        "describe-scaling-activities --service-namespace sagemaker --resource-id "
                        f"endpoint/{e.endpoint_name}/variant/{self.variant_name}` lists what it did and why."
                    ),
                    width=12,
                    height=6,
                ),
            )

    def _add_instance_widgets(self, min_capacity: int | None, max_capacity: int | None) -> None:
        e = self.endpoint
        limits = [
            cloudwatch.HorizontalAnnotation(value=value, label=label)
            for value, label in ((min_capacity, "min capacity"), (max_capacity, "max capacity"))
            if value is not None
        ]
        utilization = [
            e.metric_cpu_utilization(variant_name=self.variant_name),
            e.metric_memory_utilization(variant_name=self.variant_name),
            e.metric_disk_utilization(variant_name=self.variant_name),
        ]
        widgets: list[cloudwatch.IWidget] = [
            cloudwatch.GraphWidget(
                title="Instances serving", left=[self.metric_instances()], left_annotations=limits, width=8
            ),
            cloudwatch.GraphWidget(title="CPU, memory, disk utilization (%)", left=utilization, width=8),
        ]
        if any(
            v.instance_type.split(".")[1].startswith(GPU_FAMILIES)
            for v in e.instance_variants
            if v.name == self.variant_name
        ):
            widgets.append(
                cloudwatch.GraphWidget(
                    title="GPU utilization (%)",
                    left=[
                        e.metric(
                            INSTANCE_NAMESPACE, "GPUUtilization", variant_name=self.variant_name, statistic="Average"
                        ),
                        e.metric(
                            INSTANCE_NAMESPACE,
                            "GPUMemoryUtilization",
                            variant_name=self.variant_name,
                            statistic="Average",
                        ),
                    ],
                    width=8,
                )
            )
        self.dashboard.add_widgets(*widgets)


def _ms(metric: cloudwatch.Metric, name: str, label: str) -> cloudwatch.MathExpression:
    """`metric` (microseconds) in milliseconds; `name` (letters, digits) identifies it in the graph."""
    return cloudwatch.MathExpression(
        expression=f"{name} / 1000", using_metrics={name: metric}, label=f"{label} (ms)", period=MINUTE
    )


def _capture_metric(bucket_name: str, metric_name: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="AWS/S3",
        metric_name=metric_name,
        dimensions_map={"BucketName": bucket_name, "FilterId": DATA_CAPTURE_METRICS_FILTER},
        statistic="Sum",
        period=cdk.Duration.minutes(5),
    )


def _check(
    monitoring: EndpointMonitoring,
    *,
    endpoint: RealtimeEndpoint,
    variant_name: str | None,
    thresholds: AlarmThresholds,
    min_capacity: int | None,
    max_capacity: int | None,
) -> str:
    """The variant to watch (the only one unless named); raises with every problem of the arguments."""
    errors: list[str] = []
    only = endpoint.variant_names[0] if len(endpoint.variant_names) == 1 else ""
    variant = only if variant_name is None else variant_name
    if variant not in endpoint.variant_names:
        which = "required: the endpoint has several variants" if variant_name is None else f"got {variant_name!r}"
        errors.append(f"variant_name must be one of {endpoint.variant_names} ({which})")
    for field in ("server_error_rate_percent", "container_error_rate_percent", "client_error_rate_percent"):
        value = getattr(thresholds, field)
        if not 0 < value <= 100:
            errors.append(f"thresholds.{field} must be above 0 and at most 100, got {value}")
    minutes = thresholds.evaluation.to_minutes()
    if not 1 <= minutes <= 60:
        errors.append(f"thresholds.evaluation must be 1-60 minutes, got {minutes:g}")
    if min_capacity is not None and max_capacity is not None and min_capacity > max_capacity:
        errors.append(f"min_capacity ({min_capacity}) must not exceed max_capacity ({max_capacity})")
    raise_if_any(monitoring, errors)
    return variant
