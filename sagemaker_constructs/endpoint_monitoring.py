"""One facade that watches a real-time endpoint: its metrics (here), its alarms (endpoint_alarms.py) and its
dashboard (endpoint_dashboard.py), as cdk-monitoring-constructs keeps a metric factory apart from what uses it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Unpack

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

# The container writes its metrics in CloudWatch embedded metric format (EMF) to its log, so
# CloudWatch Logs turns them into metrics without any PutMetricData permission.
from config.contract import CONTAINER
from sagemaker_constructs.alarms import AlarmDefaults, make_alarms
from sagemaker_constructs.endpoint_alarms import alarm_specs
from sagemaker_constructs.endpoint_dashboard import add_widgets
from sagemaker_constructs.realtime_endpoint import MINUTE, MetricOptions, RealtimeEndpoint
from sagemaker_constructs.validation import invalid, raise_if_any

# The container's dimension sets (config.contract.CONTAINER.metrics.dimensions): per endpoint, and per
# endpoint and model version.
ENDPOINT_DIMENSION, MODEL_VERSION_DIMENSION = CONTAINER.metrics.dimensions[-1]


@dataclass(frozen=True)
class AlarmThresholds:
    """When the operational alarms fire (each over the alarm defaults' evaluation, 1-minute periods)."""

    server_error_rate_percent: float = 1.0
    model_latency_p99: cdk.Duration = cdk.Duration.millis(500)
    container_error_rate_percent: float = 5.0
    client_error_rate_percent: float = 25.0
    cpu_utilization_percent: int = 80
    memory_utilization_percent: int = 85
    disk_utilization_percent: int = 80
    no_invocations: cdk.Duration | None = None

    def problems(self, field: str) -> list[str]:
        """What is wrong with these thresholds, each naming `field` (the argument they came in)."""
        rates = ("server_error_rate_percent", "container_error_rate_percent", "client_error_rate_percent")
        problems = [
            f"{field}.{rate} must be above 0 and at most 100, got {getattr(self, rate)}"
            for rate in rates
            if not 0 < getattr(self, rate) <= 100
        ]
        # Its minutes are the alarm's 1-minute periods: none would be refused at synthesis (DatapointsToAlarm below 1)
        # without naming the argument, and a part minute would fail in jsii.
        silent = None if self.no_invocations is None else float(self.no_invocations.to_minutes(integral=False))
        if silent is not None and not (silent >= 1 and silent.is_integer()):
            problems.append(f"{field}.no_invocations must be whole minutes, at least 1, got {silent:g} minutes")
        return problems


class EndpointMonitoring(Construct):
    """A dashboard and paging alarms for one variant of `endpoint`, notifying `alarm_defaults.topic` on ALARM and OK.

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

    Alarm names are `<alarm_defaults.name_prefix>-<what>` (`sagemaker-gbdt-prod-server-error-rate`), so a
    page says which endpoint and what is wrong. All argument problems are reported in one ValueError.

    :param alarm_defaults: the topic, the alarm names' prefix and the evaluation window, which
        AsyncEndpointMonitoring reads from here for the queue's alarms.
    :param variant_name: the variant watched. @default the endpoint's only variant; required when
        it has several.
    :param container_metrics_namespace: the container's EMF namespace; @default no container widgets.
    :param model_version: the `ModelVersion` the container reports (`SageMakerModel.model_version`);
        the container-error alarm reads it. @default endpoint-wide (every model's requests).
    :param min_capacity: alarm when fewer instances serve; @default no such alarm.
    """

    # Keyword arguments alike in shape to SageMakerModel's (duplicates pairs them): each construct's own.
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        endpoint: RealtimeEndpoint,
        alarm_defaults: AlarmDefaults,
        thresholds: AlarmThresholds,
        dashboard_name: str,
        container_metrics_namespace: str | None = None,
        min_capacity: int | None = None,
        max_capacity: int | None = None,
        data_capture_bucket_name: str | None = None,
        variant_name: str | None = None,
        model_version: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self.model_version = model_version
        errors = [*thresholds.problems("thresholds"), *alarm_defaults.problems("alarm_defaults")]
        self.variant_name = _watched_variant(endpoint, variant_name, errors)
        if min_capacity is not None and max_capacity is not None and min_capacity > max_capacity:
            errors.append(f"min_capacity ({min_capacity}) must not exceed max_capacity ({max_capacity})")
        raise_if_any(self, errors)
        self.endpoint = endpoint
        self.alarm_defaults = alarm_defaults
        self.thresholds = thresholds
        self.container_metrics_namespace = container_metrics_namespace
        self.alarms = make_alarms(self, endpoint, alarm_defaults, alarm_specs(self, min_capacity))
        self.client_error_alarm = next((a for a in self.alarms if a.node.id == "ClientErrorRate"), None)
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=dashboard_name,
            default_interval=cdk.Duration.hours(3),
            period_override=cloudwatch.PeriodOverride.INHERIT,
        )
        add_widgets(self, min_capacity, max_capacity, data_capture_bucket_name)

    # -- metrics ---------------------------------------------------------------------------------
    # Each rate is data (below the class) made by `_rate`, as aws-cdk's endpoint.ts builds each named metric on one
    # `metric()`: the public methods stay, as that file's metric methods do, and only name the rate.

    def metric_server_error_rate(self, *, period: cdk.Duration = MINUTE) -> cloudwatch.MathExpression:
        """5XX answers as a percentage of invocations."""
        return self._rate(SERVER_ERROR_RATE, period)

    def metric_instances(self, *, period: cdk.Duration = MINUTE) -> cloudwatch.MathExpression:
        """Instances serving: invocations divided by invocations per instance (while there is traffic)."""
        return self._rate(INSTANCES, period)

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
        return self._rate(CONTAINER_ERROR_RATE, period, model_version)

    def metric_client_error_rate(self, *, period: cdk.Duration = MINUTE) -> cloudwatch.MathExpression:
        """Requests the callers got wrong (ClientErrors: malformed, unsupported type, too large), % of requests."""
        return self._rate(CLIENT_ERROR_RATE, period)

    def _rate(self, rate: Rate, period: cdk.Duration, model_version: str | None = None) -> cloudwatch.MathExpression:
        return cloudwatch.MathExpression(
            expression=rate.expression,
            using_metrics={name: read(self, period, model_version) for name, read in rate.metrics.items()},
            label=rate.label,
            period=period,
        )


# How a rate reads one of its metrics, given the monitoring, the period and the model version (None: every model's;
# the endpoint's own metrics have no such dimension, only the container's).
MetricReader = Callable[[EndpointMonitoring, cdk.Duration, str | None], cloudwatch.IMetric]


@dataclass(frozen=True)
class Rate:
    """A metric math expression over named metrics: a rate CloudWatch computes and no service publishes."""

    expression: str
    label: str
    metrics: Mapping[str, MetricReader]


def _variant(metric: Callable[..., cloudwatch.Metric]) -> MetricReader:
    """One of the endpoint's metrics (a `RealtimeEndpoint.metric_*`) of the watched variant."""
    return lambda monitoring, period, _: metric(
        monitoring.endpoint, variant_name=monitoring.variant_name, period=period
    )


def _container(metric_name: str) -> MetricReader:
    """One of the container's metrics (config.contract names them), of one model version's fleet if given."""
    return lambda monitoring, period, version: monitoring.metric_container(
        metric_name, model_version=version, period=period
    )


SERVER_ERROR_RATE = Rate(
    "100 * errors / MAX([errors, invocations])",
    "5XX error rate (%)",
    {
        "errors": _variant(RealtimeEndpoint.metric_server_errors),
        "invocations": _variant(RealtimeEndpoint.metric_invocations),
    },
)
INSTANCES = Rate(
    "invocations / perinstance",
    "Instances serving (invocations ÷ invocations per instance)",
    {
        "invocations": _variant(RealtimeEndpoint.metric_invocations),
        "perinstance": _variant(RealtimeEndpoint.metric_invocations_per_instance),
    },
)
CONTAINER_ERROR_RATE = Rate(
    "100 * (model + server) / MAX([model + server, requests])",
    "Container error rate, model rejections and 5xx (%)",
    {
        "model": _container(CONTAINER.metrics.model_errors),
        "server": _container(CONTAINER.metrics.server_errors),
        "requests": _container(CONTAINER.metrics.requests),
    },
)
CLIENT_ERROR_RATE = Rate(
    "100 * client / MAX([client, requests])",
    "Client error rate (%)",
    {"client": _container(CONTAINER.metrics.client_errors), "requests": _container(CONTAINER.metrics.requests)},
)


def _watched_variant(endpoint: RealtimeEndpoint, variant_name: str | None, errors: list[str]) -> str:
    """The variant to watch: the only one unless named; a problem in `errors` if there is no such variant."""
    only = endpoint.variant_names[0] if len(endpoint.variant_names) == 1 else ""
    variant = only if variant_name is None else variant_name
    if variant not in endpoint.variant_names:
        which = "required: the endpoint has several variants" if variant_name is None else f"got {variant_name!r}"
        errors.append(f"variant_name must be one of {endpoint.variant_names} ({which})")
    return variant
