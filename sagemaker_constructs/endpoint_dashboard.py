"""EndpointMonitoring's dashboard: what normal looks like, and where to look when it is not."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch

from config.contract import CONTAINER, DATA_CAPTURE_METRICS_FILTER
from sagemaker_constructs.realtime_endpoint import INSTANCE_NAMESPACE, INVOCATION_NAMESPACE, MINUTE

if TYPE_CHECKING:  # the construct imports this module
    from sagemaker_constructs.endpoint_monitoring import EndpointMonitoring

GPU_FAMILIES = ("g", "p")


def add_widgets(
    monitoring: EndpointMonitoring, min_capacity: int | None, max_capacity: int | None, capture_bucket: str | None
) -> None:
    """The dashboard's widgets: traffic, latency, errors, utilization, instances, data capture."""
    e = monitoring.endpoint
    region = cdk.Stack.of(monitoring).region
    log_link = (
        f"https://console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:log-groups/log-group/"
        + e.log_group_name.replace("/", "$252F")
    )
    monitoring.dashboard.add_widgets(
        cloudwatch.TextWidget(
            markdown=(
                f"# {e.endpoint_name}\n"
                f"Logs: [{e.log_group_name}]({log_link}). Alarms notify the alarm topic and roll back a "
                "deployment in progress. **Normal**: 5XX rate 0, 4XX only from bad client requests, "
                f"p99 model latency well under {monitoring.thresholds.model_latency_p99.to_milliseconds():g} ms "
                "(single-digit ms for one row), CPU below the alarm line with headroom, instances between "
                "min and max capacity."
            ),
            width=24,
            height=4,
        )
    )
    # An inference component's requests are counted per copy; a variant's per instance.
    per_unit = (
        e.metric(INVOCATION_NAMESPACE, "InvocationsPerCopy", variant_name=monitoring.variant_name)
        if e.component_name
        else e.metric_invocations_per_instance(variant_name=monitoring.variant_name)
    )
    monitoring.dashboard.add_widgets(
        cloudwatch.GraphWidget(
            title="Invocations per minute",
            left=[e.metric_invocations(variant_name=monitoring.variant_name)],
            right=[per_unit],
            width=8,
        ),
        cloudwatch.GraphWidget(
            title="Model latency (ms)",
            left=[
                _ms(
                    e.metric_model_latency(variant_name=monitoring.variant_name, statistic=s), f"model{s}", f"model {s}"
                )
                for s in ("p50", "p90", "p99")
            ],
            left_annotations=[
                cloudwatch.HorizontalAnnotation(
                    value=monitoring.thresholds.model_latency_p99.to_milliseconds(), label="p99 alarm"
                )
            ],
            width=8,
        ),
        cloudwatch.GraphWidget(
            title="Overhead latency (ms)",
            left=[
                _ms(
                    e.metric_overhead_latency(variant_name=monitoring.variant_name, statistic=s),
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
                e.metric_client_errors(variant_name=monitoring.variant_name),
                e.metric_server_errors(variant_name=monitoring.variant_name),
            ],
            right=[monitoring.metric_server_error_rate()],
            width=8,
        )
    ]
    if monitoring.container_metrics_namespace is not None:
        errors.append(
            cloudwatch.GraphWidget(
                title="Container: requests, rows, rejections",
                left=[
                    monitoring.metric_container(name)
                    for name in (
                        CONTAINER.metrics.requests,
                        CONTAINER.metrics.client_errors,
                        CONTAINER.metrics.model_errors,
                        CONTAINER.metrics.server_errors,
                    )
                ],
                right=[monitoring.metric_container(CONTAINER.metrics.rows)],
                width=8,
            )
        )
    errors.append(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(monitoring.alarms), width=8))
    monitoring.dashboard.add_widgets(*errors)
    if e.component_name:
        monitoring.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Refused for no copy running (scale out from zero)",
                left=[
                    e.metric(INVOCATION_NAMESPACE, "NoCapacityInvocationFailures", variant_name=monitoring.variant_name)
                ],
                width=12,
            ),
            cloudwatch.TextWidget(
                markdown=(
                    f"Inference component `{e.component_name}`. **Zero is normal**: with no traffic the copies "
                    "and then the instances go to zero and these graphs go blank; the first request after that is "
                    "refused (NoCapacityInvocationFailures) and starts an instance, which takes minutes. "
                    "`aws application-autoscaling describe-scaling-activities --service-namespace sagemaker "
                    f"--resource-id inference-component/{e.component_name}` lists what scaling did and why."
                ),
                width=12,
                height=6,
            ),
        )
    elif not e.serverless:
        _add_instance_widgets(monitoring, min_capacity, max_capacity)
    if capture_bucket is not None:
        monitoring.dashboard.add_widgets(
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
                    f"endpoint/{e.endpoint_name}/variant/{monitoring.variant_name}` lists what it did and why."
                ),
                width=12,
                height=6,
            ),
        )


def _add_instance_widgets(monitoring: EndpointMonitoring, min_capacity: int | None, max_capacity: int | None) -> None:
    e = monitoring.endpoint
    limits = [
        cloudwatch.HorizontalAnnotation(value=value, label=label)
        for value, label in ((min_capacity, "min capacity"), (max_capacity, "max capacity"))
        if value is not None
    ]
    utilization = [
        e.metric_cpu_utilization(variant_name=monitoring.variant_name),
        e.metric_memory_utilization(variant_name=monitoring.variant_name),
        e.metric_disk_utilization(variant_name=monitoring.variant_name),
    ]
    widgets: list[cloudwatch.IWidget] = [
        cloudwatch.GraphWidget(
            title="Instances serving", left=[monitoring.metric_instances()], left_annotations=limits, width=8
        ),
        cloudwatch.GraphWidget(title="CPU, memory, disk utilization (%)", left=utilization, width=8),
    ]
    if any(
        v.instance_type.split(".")[1].startswith(GPU_FAMILIES)
        for v in e.instance_variants
        if v.name == monitoring.variant_name
    ):
        widgets.append(
            cloudwatch.GraphWidget(
                title="GPU utilization (%)",
                left=[
                    e.metric(
                        INSTANCE_NAMESPACE, "GPUUtilization", variant_name=monitoring.variant_name, statistic="Average"
                    ),
                    e.metric(
                        INSTANCE_NAMESPACE,
                        "GPUMemoryUtilization",
                        variant_name=monitoring.variant_name,
                        statistic="Average",
                    ),
                ],
                width=8,
            )
        )
    monitoring.dashboard.add_widgets(*widgets)


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
