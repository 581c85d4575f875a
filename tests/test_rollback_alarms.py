"""The rollback alarms of the synthesized prod template read metrics the real container writes, never ClientErrors.

The container runs with the environment of prod's synthesized Model resource (namespace, endpoint name,
model version, server settings), so a name that drifts on either side (config/contract.py, the
construct, the container) fails here rather than in an alarm that silently watches nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from config.contract import CONTAINER
from tests.container.harness import LOG_INTERVAL_VARIABLE, Server, csv_bytes, make_data, start_server, train_on_split
from tests.declared import EXAMPLE
from tests.helpers import Synthesized, of_type, one_of_type

FEATURES = 5
INTERVAL_SECONDS = 1
# AWS/SageMaker metrics a rollback alarm may read: none counts a 4xx, so no caller's mistake reaches them.
SAGEMAKER_METRICS_CALLERS_CANNOT_MOVE = {"Invocation5XXErrors", "Invocations", "ModelLatency"}

Emitted = tuple[str, str, frozenset[tuple[str, str]]]


@pytest.fixture(scope="module")
def prod_inference(synthesized: Synthesized) -> dict[str, Any]:
    return synthesized.template("prod", "Inference")


@pytest.fixture(scope="module")
def prod_model_server(prod_inference: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """GIVEN a tiny model trained by the real entry point, served with prod's Model environment."""
    labels, features = make_data("binary", 300, features=FEATURES, seed=3)  # the example set trains on 0/1 labels
    root = train_on_split(tmp_path_factory.mktemp("rollback-train"), dict(EXAMPLE), labels, features, 200)
    environment = one_of_type(prod_inference, "AWS::SageMaker::Model")["Properties"]["PrimaryContainer"]["Environment"]
    unresolved = {name: value for name, value in environment.items() if not isinstance(value, str)}
    assert not unresolved, f"the Model's environment must be literal values the test can pass on: {unresolved}"
    # Intervals of 1 s: each test waits for its requests' summaries (the EMF records) rather than 10 s.
    server = start_server(
        root,
        tmp_path_factory.mktemp("rollback-serve") / "serve.log",
        **environment,
        **{LOG_INTERVAL_VARIABLE: str(INTERVAL_SECONDS)},
    )
    yield server
    server.stop()


def _emitted(records: list[dict[str, Any]]) -> dict[Emitted, float]:
    """Every (namespace, metric, dimensions with values) the EMF records publish, with its sum over them."""
    sums: dict[Emitted, float] = {}
    for record in records:
        for directive in record["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dimensions = frozenset((name, str(record[name])) for name in dimension_set)
                for metric in directive["Metrics"]:
                    key = (directive["Namespace"], metric["Name"], dimensions)
                    sums[key] = sums.get(key, 0.0) + float(record[metric["Name"]])
    return sums


def _metrics_read(alarm: dict[str, Any]) -> list[Emitted]:
    """Every metric an alarm reads (a single metric, or each metric of its math expression)."""
    properties = alarm["Properties"]
    stats = [properties] if "MetricName" in properties else []
    stats += [m["MetricStat"]["Metric"] for m in properties.get("Metrics", []) if "MetricStat" in m]
    return [
        (
            stat["Namespace"],
            stat["MetricName"],
            frozenset((d["Name"], d["Value"]) for d in stat.get("Dimensions", [])),
        )
        for stat in stats
    ]


def _rollback_alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    endpoint = one_of_type(template, "AWS::SageMaker::Endpoint")
    references = endpoint["Properties"]["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    alarms = of_type(template, "AWS::CloudWatch::Alarm")
    return {reference["AlarmName"]["Ref"]: alarms[reference["AlarmName"]["Ref"]] for reference in references}


def _send(server: Server, bodies: list[tuple[bytes, str]]) -> list[dict[str, Any]]:
    """Send each (body, content type) to /invocations; the EMF records (the workers' summaries) counting exactly
    those requests: earlier requests' intervals end, and are written, before these are sent."""
    time.sleep(INTERVAL_SECONDS + 0.2)
    since = len(server.log_lines())
    for body, content_type in bodies:
        server.invoke(body, content_type)
    records = server.counted(len(bodies), since)
    assert sum(record["Requests"] for record in records) == len(bodies), "every request is counted once"
    return records


def _good(rows: int = 3) -> tuple[bytes, str]:
    return csv_bytes(None, np.ones((rows, FEATURES))), "text/csv"


MALFORMED = [
    (b"1,2,x,4,5\n", "text/csv"),
    (b"1,2,3,4,5\n1,2\n", "text/csv"),
    (b"{not json", "application/json"),
    (b"<x/>", "application/xml"),
]
WRONG_FEATURE_COUNT = (csv_bytes(None, np.ones((2, FEATURES + 2))), "text/csv")


def test_every_metric_a_rollback_alarm_reads_is_one_the_container_writes(
    prod_inference: dict[str, Any], prod_model_server: Server
) -> None:
    """GIVEN prod's synthesized rollback alarms and the container running with prod's Model environment
    WHEN good, malformed and wrong-feature-count requests arrive
    THEN every container metric a rollback alarm reads (namespace, name, dimension names and values,
    ModelVersion included) is among the EMF records, and the others are SageMaker's 5XX, invocations
    and latency, which no 4xx moves."""
    records = _send(prod_model_server, [_good(), *MALFORMED, WRONG_FEATURE_COUNT])
    emitted = _emitted(records)
    alarms = _rollback_alarms(prod_inference)
    assert len(alarms) == 3
    container_reads = 0
    for logical_id, alarm in alarms.items():
        for namespace, name, dimensions in _metrics_read(alarm):
            if namespace == "AWS/SageMaker":
                assert name in SAGEMAKER_METRICS_CALLERS_CANNOT_MOVE, (logical_id, name)
                continue
            container_reads += 1
            assert (namespace, name, dimensions) in emitted, (logical_id, name, sorted(dimensions))
            assert "ModelVersion" in dict(dimensions), f"{logical_id} reads {name} of every model version"
    assert container_reads == 3  # ModelErrors, ServerErrors, Requests of the deployed version


def test_client_errors_are_read_by_no_rollback_alarm(prod_inference: dict[str, Any]) -> None:
    """GIVEN prod's synthesized alarms
    WHEN the metrics of each are listed
    THEN ClientErrors is read by no rollback alarm, and by exactly one other (the callers' warning)."""
    rollback = _rollback_alarms(prod_inference)
    for logical_id, alarm in rollback.items():
        assert CONTAINER.metrics.client_errors not in [name for _, name, _ in _metrics_read(alarm)], logical_id
    readers = [
        alarm
        for logical_id, alarm in of_type(prod_inference, "AWS::CloudWatch::Alarm").items()
        if CONTAINER.metrics.client_errors in [name for _, name, _ in _metrics_read(alarm)]
    ]
    (warning,) = readers
    assert "the callers" in warning["Properties"]["AlarmDescription"]


def test_only_malformed_requests_breach_no_rollback_alarm_but_a_model_regression_does(
    prod_inference: dict[str, Any], prod_model_server: Server
) -> None:
    """GIVEN the container with prod's Model environment
    WHEN 100 % of its traffic is malformed (the worst share a caller can send)
    THEN every answer is a 4xx (not a 5XX in SageMaker's metrics) and the container-error rate the
    rollback alarm computes is 0; WHEN all requests have a feature count the model does not expect
    THEN that rate is 100 %, above the threshold: the alarm still catches what a new model does."""
    alarms = _rollback_alarms(prod_inference)
    (container_alarm,) = [
        a for a in alarms.values() if any(name == CONTAINER.metrics.model_errors for _, name, _ in _metrics_read(a))
    ]
    reads = {name: (namespace, name, dimensions) for namespace, name, dimensions in _metrics_read(container_alarm)}
    threshold = container_alarm["Properties"]["Threshold"]

    def error_rate(records: list[dict[str, Any]]) -> float:
        emitted = _emitted(records)
        faults = emitted.get(reads[CONTAINER.metrics.model_errors], 0) + emitted.get(
            reads[CONTAINER.metrics.server_errors], 0
        )
        return 100 * faults / max(faults, emitted[reads[CONTAINER.metrics.requests]])

    statuses = [prod_model_server.invoke(body, content_type).status for body, content_type in MALFORMED]
    assert all(400 <= status < 500 for status in statuses), statuses
    assert error_rate(_send(prod_model_server, MALFORMED * 5)) == 0 < threshold
    assert error_rate(_send(prod_model_server, [WRONG_FEATURE_COUNT] * 3)) == 100 > threshold


def test_the_model_version_the_container_reports_is_the_models(
    prod_inference: dict[str, Any], prod_model_server: Server
) -> None:
    """GIVEN the container with prod's Model environment WHEN a request is served THEN its EMF record's
    ModelVersion is the synthesized METRICS_MODEL_VERSION, a digest and not the container's 'unknown'."""
    (record,) = _send(prod_model_server, [_good(1)])
    environment = one_of_type(prod_inference, "AWS::SageMaker::Model")["Properties"]["PrimaryContainer"]["Environment"]
    assert record["ModelVersion"] == environment["METRICS_MODEL_VERSION"] != "unknown"
