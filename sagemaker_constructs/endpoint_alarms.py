"""EndpointMonitoring's alarms: what pages, with names that say what and where, and which ones roll back."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import aws_cloudwatch as cloudwatch

from sagemaker_constructs.alarms import make_alarm_name, notifying_alarm

if TYPE_CHECKING:  # the construct imports this module
    from sagemaker_constructs.endpoint_monitoring import EndpointMonitoring


def _alarm(
    monitoring: EndpointMonitoring,
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
    evaluation = periods or monitoring.evaluation_periods
    alarm = notifying_alarm(
        monitoring,
        id_,
        metric,
        alarm_name=make_alarm_name(monitoring.alarm_name_prefix, id_),
        alarm_description=(
            f"{monitoring.endpoint.endpoint_name}: {what}. Likely causes: {causes}. First action: {action}."
        ),
        threshold=threshold,
        comparison_operator=comparison,
        evaluation_periods=evaluation,
        datapoints_to_alarm=evaluation,
        treat_missing_data=missing,
        action=monitoring.alarm_action,
    )
    monitoring.alarms.append(alarm)
    return alarm


def add_alarms(monitoring: EndpointMonitoring, min_capacity: int | None) -> None:
    """The paging alarms (EndpointMonitoring's docstring lists them), in `monitoring.alarms`; the rollback ones also
    on the endpoint's auto-rollback."""
    t = monitoring.thresholds
    minutes = f"for {monitoring.evaluation_periods} minutes"
    logs = f"read {monitoring.endpoint.log_group_name}"
    # Each alarm below is one declaration (what, likely causes, first action, threshold): alike in shape only.
    # An asynchronous endpoint publishes no Invocations, the rate's denominator, and its model latency grows with
    # bodies of up to 1 GB by design: AsyncEndpointMonitoring's failure rate and backlog age stand in for these two.
    rollback: list[cloudwatch.Alarm] = []
    if monitoring.endpoint.async_inference is None:
        rollback.append(
            _alarm(
                monitoring,
                "ServerErrorRate",
                monitoring.metric_server_error_rate(),
                what=f"more than {t.server_error_rate_percent:g} % of invocations answered 5XX {minutes}",
                causes="a model or image that fails on real requests, out-of-memory workers, a crash loop",
                action=f"{logs} for tracebacks, then roll back the model pin if a deployment just happened",
                threshold=t.server_error_rate_percent,
            )
        )
        rollback.append(
            _alarm(
                monitoring,
                "ModelLatencyP99",
                monitoring.endpoint.metric_model_latency(variant_name=monitoring.variant_name),
                what=f"p99 model latency above {t.model_latency_p99.to_milliseconds():g} ms {minutes}",
                causes="more traffic than the instances can serve, a larger model, large batch requests",
                action="compare Invocations per instance with the autoscaling target and the instance count",
                threshold=t.model_latency_p99.to_milliseconds() * 1000,  # the metric is in microseconds
            )
        )
    if monitoring.container_metrics_namespace is not None:
        rollback.append(
            _alarm(
                monitoring,
                "ContainerErrorRate",
                monitoring.metric_container_error_rate(model_version=monitoring.model_version),
                what=f"more than {t.container_error_rate_percent:g} % of requests rejected by the model or "
                f"failed by the container {minutes}"
                + (f" (model version {monitoring.model_version})" if monitoring.model_version else ""),
                causes="requests with a feature count the current model does not expect (often right after a "
                "promotion that changed the features), or the container failing (5xx)",
                action=f"{logs} and look at the errors' kind and row; compare the model's feature count",
                threshold=t.container_error_rate_percent,
            )
        )
    for alarm in rollback:
        monitoring.endpoint.add_rollback_alarm(alarm)
    if monitoring.container_metrics_namespace is not None:
        # Not a rollback alarm, and not a fault: the callers' mistakes, whichever model serves.
        monitoring.client_error_alarm = _alarm(
            monitoring,
            "ClientErrorRate",
            monitoring.metric_client_error_rate(),
            what=f"WARNING, the callers: more than {t.client_error_rate_percent:g} % of requests were malformed "
            f"or unsupported (4xx, the caller's mistake) {minutes}. Not a fault of the model or the endpoint, "
            "and no deployment is rolled back for it",
            causes="a client sending a wrong content type, malformed CSV or JSON, or payloads above the limit",
            action=f"{logs} for the client errors' reason, and tell the calling team",
            threshold=t.client_error_rate_percent,
        )
    else:
        monitoring.client_error_alarm = None
    if monitoring.endpoint.serverless:
        return  # no instances to watch
    # An inference component's instances come and go (to zero) and report per component, not per variant.
    watch_instances = monitoring.endpoint.component_name is None
    for id_, metric, limit, what in (
        ()
        if not watch_instances
        else (
            (
                "CpuHigh",
                monitoring.endpoint.metric_cpu_utilization(variant_name=monitoring.variant_name),
                t.cpu_utilization_percent,
                "CPU",
            ),
            (
                "MemoryHigh",
                monitoring.endpoint.metric_memory_utilization(variant_name=monitoring.variant_name),
                t.memory_utilization_percent,
                "memory",
            ),
            (
                "DiskHigh",
                monitoring.endpoint.metric_disk_utilization(variant_name=monitoring.variant_name),
                t.disk_utilization_percent,
                "disk",
            ),
        )
    ):
        _alarm(
            monitoring,
            id_,
            metric,
            what=f"{what} utilization above {limit} % {minutes}",
            causes="traffic above what autoscaling's maximum can serve, or a model too large for the instance",
            action="check the instance count against max_capacity; raise it or choose a larger instance type",
            threshold=limit,
        )
    if t.no_invocations is not None:
        silent = int(t.no_invocations.to_minutes())
        # Declared like the alarms above, alike in shape only (duplicates pairs them): only when no_invocations is set.
        _alarm(
            monitoring,
            "NoInvocations",
            monitoring.endpoint.metric_invocations(variant_name=monitoring.variant_name),
            what=f"no invocations for {silent} minutes",
            causes="a client or route that stopped sending, expired credentials of the caller, a DNS change",
            action="check the calling service's logs and its InvokeEndpoint errors",
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            missing=cloudwatch.TreatMissingData.BREACHING,
            periods=silent,
        )
    if min_capacity is not None:
        _alarm(
            monitoring,
            "InstancesBelowMinimum",
            monitoring.metric_instances(),
            what=f"fewer than {min_capacity} instances serving {minutes}",
            causes="instances failing health checks, capacity shortage of the instance type in the region",
            action="look at the endpoint's events and /ping failures in the log",
            threshold=min_capacity,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        )
