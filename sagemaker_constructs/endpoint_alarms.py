"""EndpointMonitoring's alarms as data: what pages, why, what to do first, and which ones roll back."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from aws_cdk import aws_cloudwatch as cloudwatch

from sagemaker_constructs.alarms import AlarmSpec

if TYPE_CHECKING:  # the construct imports this module
    from sagemaker_constructs.endpoint_monitoring import EndpointMonitoring


def alarm_specs(monitoring: EndpointMonitoring, min_capacity: int | None) -> list[AlarmSpec]:
    """The paging alarms that apply to the watched endpoint (EndpointMonitoring's docstring lists them), in the order
    they are made."""
    m, e, t, v = monitoring, monitoring.endpoint, monitoring.thresholds, monitoring.variant_name
    minutes = f"for {m.alarm_defaults.periods} minutes"
    logs = f"read {e.log_group_name}"
    silent = int(t.no_invocations.to_minutes()) if t.no_invocations is not None else 0
    # An asynchronous endpoint publishes no Invocations, the rate's denominator, and its model latency grows with
    # bodies of up to 1 GB by design: AsyncEndpointMonitoring's failure rate and backlog age stand in for these two.
    realtime = e.async_inference is None
    container = m.container_metrics_namespace is not None
    # An inference component's instances come and go (to zero) and report per component, not per variant; a
    # serverless endpoint has no instances to watch.
    instances = not e.serverless
    variant_instances = instances and e.component_name is None
    # Each row: whether the alarm applies to this endpoint, and the alarm; rows alike in shape (duplicates pairs two).
    table = (
        (
            realtime,
            AlarmSpec(
                "ServerErrorRate",
                m.metric_server_error_rate,
                what=f"more than {t.server_error_rate_percent:g} % of invocations answered 5XX {minutes}",
                causes="a model or image that fails on real requests, out-of-memory workers, a crash loop",
                action=f"{logs} for tracebacks, then roll back the model pin if a deployment just happened",
                threshold=t.server_error_rate_percent,
                rolls_back=True,
            ),
        ),
        (
            realtime,
            AlarmSpec(
                "ModelLatencyP99",
                partial(e.metric_model_latency, variant_name=v),
                what=f"p99 model latency above {t.model_latency_p99.to_milliseconds():g} ms {minutes}",
                causes="more traffic than the instances can serve, a larger model, large batch requests",
                action="compare Invocations per instance with the autoscaling target and the instance count",
                threshold=t.model_latency_p99.to_milliseconds() * 1000,  # the metric is in microseconds
                rolls_back=True,
            ),
        ),
        (
            container,
            AlarmSpec(
                "ContainerErrorRate",
                partial(m.metric_container_error_rate, model_version=m.model_version),
                what=f"more than {t.container_error_rate_percent:g} % of requests rejected by the model or "
                f"failed by the container {minutes}"
                + (f" (model version {m.model_version})" if m.model_version else ""),
                causes="requests with a feature count the current model does not expect (often right after a "
                "promotion that changed the features), or the container failing (5xx)",
                action=f"{logs} and look at the errors' kind and row; compare the model's feature count",
                threshold=t.container_error_rate_percent,
                rolls_back=True,
            ),
        ),
        (
            container,
            # Not a rollback alarm, and not a fault: the callers' mistakes, whichever model serves.
            AlarmSpec(
                "ClientErrorRate",
                m.metric_client_error_rate,
                what=f"WARNING, the callers: more than {t.client_error_rate_percent:g} % of requests were malformed "
                f"or unsupported (4xx, the caller's mistake) {minutes}. Not a fault of the model or the endpoint, "
                "and no deployment is rolled back for it",
                causes="a client sending a wrong content type, malformed CSV or JSON, or payloads above the limit",
                action=f"{logs} for the client errors' reason, and tell the calling team",
                threshold=t.client_error_rate_percent,
            ),
        ),
        *(
            (
                variant_instances,
                AlarmSpec(
                    id_,
                    partial(metric, variant_name=v),
                    what=f"{what} utilization above {limit} % {minutes}",
                    causes="traffic above what autoscaling's maximum can serve, or a model too large for the instance",
                    action="check the instance count against max_capacity; raise it or choose a larger instance type",
                    threshold=limit,
                ),
            )
            for id_, metric, limit, what in (
                ("CpuHigh", e.metric_cpu_utilization, t.cpu_utilization_percent, "CPU"),
                ("MemoryHigh", e.metric_memory_utilization, t.memory_utilization_percent, "memory"),
                ("DiskHigh", e.metric_disk_utilization, t.disk_utilization_percent, "disk"),
            )
        ),
        (
            instances and t.no_invocations is not None,
            AlarmSpec(
                "NoInvocations",
                partial(e.metric_invocations, variant_name=v),
                what=f"no invocations for {silent} minutes",
                causes="a client or route that stopped sending, expired credentials of the caller, a DNS change",
                action="check the calling service's logs and its InvokeEndpoint errors",
                threshold=1,
                comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                missing=cloudwatch.TreatMissingData.BREACHING,
                periods=silent,
            ),
        ),
        (
            instances and min_capacity is not None,
            AlarmSpec(
                "InstancesBelowMinimum",
                m.metric_instances,
                what=f"fewer than {min_capacity} instances serving {minutes}",
                causes="instances failing health checks, capacity shortage of the instance type in the region",
                action="look at the endpoint's events and /ping failures in the log",
                threshold=min_capacity or 0,
                comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            ),
        ),
    )
    return [spec for applies, spec in table if applies]
