"""`endpoint.asynchronous`: one table makes an environment's endpoint asynchronous; what it cannot keep is refused."""

from __future__ import annotations

import copy
import re
import tomllib
from typing import Any

import pytest

from config import ConfigError, parse_config
from config.contract import ASYNC_INPUT_PREFIX
from config.settings import DEFAULT_CONFIG_FILE
from scripts.demo import make_asynchronous
from tests.helpers import TEST_ACCOUNT, cases, set_at

Raw = dict[str, Any]


@pytest.fixture
def raw() -> Raw:
    """The shipped configuration with dev's endpoint asynchronous (in place of its inference component)."""
    document: Raw = copy.deepcopy(tomllib.loads(DEFAULT_CONFIG_FILE.read_text()))
    make_asynchronous(document["environments"]["dev"]["endpoint"])
    return document


def test_an_asynchronous_endpoint_is_one_table_on_an_instance_variant(raw: Raw) -> None:
    """GIVEN dev's endpoint on one instance variant with an `asynchronous` table of its maximum only
    WHEN the configuration is loaded
    THEN dev is asynchronous with AWS's defaults: down to zero instances, five queued requests per instance,
    results and failures under their own prefixes, apart from where requests are uploaded."""
    asynchronous = parse_config(raw, default_account=TEST_ACCOUNT).environment("dev").endpoint.asynchronous
    assert asynchronous is not None
    assert (asynchronous.min_instances, asynchronous.max_instances, asynchronous.backlog_per_instance) == (0, 2, 5.0)
    prefixes = {asynchronous.output_prefix, asynchronous.failure_prefix, ASYNC_INPUT_PREFIX}
    assert len(prefixes) == 3


@pytest.mark.parametrize("seconds", [None, 3600])
def test_an_asynchronous_request_gets_its_invocation_timeout_in_the_container_too(
    raw: Raw, seconds: int | None
) -> None:
    """GIVEN dev asynchronous with AWS's default InvocationTimeoutSeconds, or the longest SageMaker allows
    WHEN loaded THEN that one value is what each request sends and what the container waits (not real time's 60 s)."""
    if seconds is not None:
        set_at(raw, "environments.dev.endpoint.asynchronous.invocation_timeout_seconds", seconds)
    endpoint = parse_config(raw, default_account=TEST_ACCOUNT).environment("dev").endpoint
    assert endpoint.asynchronous is not None
    expected = seconds or 900  # InvokeEndpointAsync's default (async-inference-invoke-endpoint.html)
    assert endpoint.asynchronous.invocation_timeout_seconds == endpoint.container_timeout_seconds == expected


# One row a mistake: its id, the field set (under environments.dev.endpoint), the value, and the error it must give.
MISTAKES = cases(
    (
        "with-serverless",
        "serverless",
        {"memory_size_mb": 2048, "max_concurrency": 5},
        r"asynchronous needs variants \(instances\), not serverless: .*serverless",
    ),
    (
        "with-inference-component",
        "inference_component",
        {
            "instance_type": "ml.m5.large",
            "min_instances": 0,
            "max_instances": 1,
            "max_copies": 1,
            "max_requests_per_second": 10,
        },
        r"asynchronous needs variants \(instances\), not inference_component",
    ),
    ("no-variant", "variants", [], r"asynchronous serves one variant \(its backlog is the endpoint's\), got 0"),
    (
        "two-variants",
        "variants",
        [{"instance_type": "ml.m5.large", "initial_instance_count": 1, "weight": 0.5, "name": n} for n in "ab"],
        "one variant",
    ),
    (
        "with-realtime-autoscaling",
        "autoscaling",
        {"min_capacity": 1, "max_capacity": 2, "max_requests_per_second": 10},
        r"autoscaling must not be set with asynchronous: .*scales on its backlog .*async-inference-autoscale\.html\)$",
    ),
    (
        "with-canary",
        "deployment",
        {"strategy": "canary"},
        r"deployment must not be set with asynchronous: .*does not publish.*\(\S+/async-inference-monitor\.html\)$",
    ),
    (
        "with-data-capture",
        "data_capture_percentage",
        100,
        r"data_capture_percentage must be 0 with asynchronous: .*real-time.*\(\S+/model-monitor-data-capture\.html\)$",
    ),
    ("min-above-max", "asynchronous.min_instances", 3, r"min_instances \(3\) must not exceed max_instances \(2\)"),
    ("negative-min", "asynchronous.min_instances", -1, "greater than or equal to 0"),
    ("no-max", "asynchronous.max_instances", 0, "greater than or equal to 1"),
    ("max-above-ceiling", "asynchronous.max_instances", 101, "less than or equal to 100"),
    ("initial-above-max", "variants.0.initial_instance_count", 3, r"must not exceed asynchronous\.max_instances"),
    (
        "concurrency-zero",
        "asynchronous.max_concurrent_invocations_per_instance",
        0,
        r"must be 1-1000 \(SageMaker's AsyncInferenceClientConfig\.MaxConcurrentInvocationsPerInstance\)",
    ),
    ("concurrency-huge", "asynchronous.max_concurrent_invocations_per_instance", 1001, "must be 1-1000"),
    ("payload-above-1-gb", "asynchronous.max_payload_mb", 1025, "less than or equal to 1024"),
    ("payload-zero", "asynchronous.max_payload_mb", 0, "greater than or equal to 1"),
    ("backlog-zero", "asynchronous.backlog_per_instance", 0, "greater than 0"),
    ("prefix-without-slash", "asynchronous.output_prefix", "results", "ending in '/'"),
    ("prefix-a-url", "asynchronous.failure_prefix", "s3://bucket/failures/", "ending in '/'"),
    ("output-inside-failures", "asynchronous.output_prefix", "async-inference/failures/ok/", "must not contain"),
    ("output-around-requests", "asynchronous.output_prefix", "async-inference/", "must not contain one another"),
    # Expiring under a prefix the bucket keeps other data in would delete it: models, checkpoints, data capture.
    (
        "results-where-models-are",
        "asynchronous.output_prefix",
        "pipeline/",
        r"output_prefix \(pipeline/\) must lie "
        r"under async-inference/: what is under it expires after retention_days \(30\)",
    ),
    ("failures-where-capture-is", "asynchronous.failure_prefix", "data-capture/", "must lie under async-inference/"),
    ("results-where-checkpoints-are", "asynchronous.output_prefix", "checkpoints/", "must lie under async-inference/"),
    ("kept-no-day", "asynchronous.retention_days", 0, "greater than or equal to 1"),
    ("kept-over-ten-years", "asynchronous.retention_days", 3651, "less than or equal to 3650"),
    ("backlog-age-below-a-cold-start", "asynchronous.max_backlog_age_minutes", 5, "greater than or equal to 10"),
    ("unknown-field", "asynchronous.min_capacity", 0, r"endpoint\.asynchronous\.min_capacity: unknown field"),
    (
        "invocation-over-an-hour",
        "asynchronous.invocation_timeout_seconds",
        3601,
        r"invocation_timeout_seconds: must be 1-3600 s, within SageMaker Runtime's .*\(InvokeEndpointAsyncInput\."
        r"InvocationTimeoutSeconds is 1-3600 s; the container's limit 3600 s\)",
    ),
    ("invocation-zero", "asynchronous.invocation_timeout_seconds", 0, "invocation_timeout_seconds: must be 1-3600 s"),
    (
        "real-time-timeout-beside-it",
        "server_timeout_seconds",
        30,
        r"server_timeout_seconds must be 60 with asynchronous: .*asynchronous\.invocation_timeout_seconds.*"
        r"\(\S+/async-inference-invoke-endpoint\.html\)$",
    ),
)


@pytest.mark.parametrize(("field", "value", "error"), MISTAKES)
def test_every_mistake_in_the_asynchronous_table_names_environment_and_field(
    raw: Raw, field: str, value: Any, error: str
) -> None:
    """GIVEN dev asynchronous, with one setting wrong WHEN the configuration is loaded
    THEN it is refused, naming the environment and what is wrong (citing AWS where AWS refuses it)."""
    set_at(raw, f"environments.dev.endpoint.{field}", value)
    with pytest.raises(ConfigError, match=rf"environment 'dev': (.|\n)*{error}"):
        parse_config(raw, default_account=TEST_ACCOUNT)


def test_everything_an_asynchronous_endpoint_cannot_keep_is_named_at_once(raw: Raw) -> None:
    """GIVEN dev asynchronous on two variants, with real-time autoscaling, a canary and data capture
    WHEN the configuration is loaded THEN one error names all four, so one edit fixes the section."""
    endpoint = raw["environments"]["dev"]["endpoint"]
    endpoint["variants"] = [{**endpoint["variants"][0], "name": name, "weight": 0.5} for name in "ab"]
    endpoint["autoscaling"] = {"min_capacity": 1, "max_capacity": 2, "max_requests_per_second": 10}
    endpoint["deployment"] = {"strategy": "canary"}
    endpoint["data_capture_percentage"] = 10
    with pytest.raises(ConfigError) as refused:
        parse_config(raw, default_account=TEST_ACCOUNT)
    message = str(refused.value)
    named = [
        "environment 'dev': endpoint: asynchronous serves one variant (its backlog is the endpoint's), got 2; ",
        "; autoscaling must not be set with asynchronous: ",
        "; deployment must not be set with asynchronous: ",
        "; data_capture_percentage must be 0 with asynchronous: ",
    ]
    assert all(problem in message for problem in named), message
    assert sorted(named, key=message.index) == named


def test_a_no_invocations_alarm_is_refused_on_an_asynchronous_endpoint(raw: Raw) -> None:
    """GIVEN dev asynchronous and an alarm on silence WHEN loaded
    THEN refused: the endpoint publishes no Invocations and idles at zero, the alarm would page forever."""
    set_at(raw, "environments.dev.monitoring.no_invocations_minutes", 30)
    with pytest.raises(ConfigError, match=r"environment 'dev': .*no_invocations_minutes cannot watch an asynchronous"):
        parse_config(raw, default_account=TEST_ACCOUNT)


def test_prod_cannot_be_asynchronous(raw: Raw) -> None:
    """GIVEN prod's endpoint made asynchronous WHEN loaded
    THEN refused: prod keeps its autoscaling floor, its canary with rollback and its capture."""
    make_asynchronous(raw["environments"]["prod"]["endpoint"])
    with pytest.raises(ConfigError, match=r"environment 'prod': .*min_capacity >= 2.*canary or linear"):
        parse_config(raw, default_account=TEST_ACCOUNT)


def test_the_switch_environments_toml_describes_for_dev_loads_as_asynchronous() -> None:
    """GIVEN environments.toml with dev's inference_component table deleted and the two commented lines above it
    uncommented WHEN loaded
    THEN dev's endpoint is asynchronous on one instance: the documented switch is a working one."""
    lines = DEFAULT_CONFIG_FILE.read_text().splitlines()
    start = lines.index('# variants = [{ instance_type = "ml.m5.large", initial_instance_count = 1 }]')
    switched = [line.removeprefix("# ") for line in lines[start : start + 2]]
    assert [line.split(" = ")[0] for line in switched] == ["variants", "asynchronous"]
    table = lines.index("[environments.dev.endpoint.inference_component]")
    end = lines.index("", table)
    document = tomllib.loads("\n".join([*lines[:start], *switched, *lines[start + 2 : table], *lines[end:]]))
    endpoint = parse_config(document, default_account=TEST_ACCOUNT).environment("dev").endpoint
    assert endpoint.asynchronous is not None and endpoint.inference_component is None and len(endpoint.variants) == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("endpoint.model_artifact_key", "async-inference/model.tar.gz"),
        ("transform.schedule.output_prefix", "async-inference"),
    ],
    ids=["served-model", "scheduled-models-and-scores"],
)
@pytest.mark.parametrize("asynchronous", [True, False], ids=["asynchronous", "real-time"])
def test_what_the_environment_keeps_is_refused_where_asynchronous_objects_expire(
    raw: Raw, field: str, value: str, asynchronous: bool
) -> None:
    """GIVEN dev, asynchronous or not (made asynchronous later, it would expire them), and the model it serves or the
    scheduled runs' output under async-inference/
    WHEN the configuration is loaded THEN it is refused: the prefix is reserved, everything there expires."""
    dev = raw["environments"]["dev"]
    if not asynchronous:
        dev["endpoint"].pop("asynchronous")  # its one instance variant stays
    if field == "endpoint.model_artifact_key":
        dev["endpoint"].pop("model_package", None)
    else:
        dev["transform"]["schedule"] = {"expression": "cron(0 3 * * ? *)", "data_prefix": "datasets/daily"}
    set_at(raw, f"environments.dev.{field}", value)
    with pytest.raises(
        ConfigError,
        match=rf"environment 'dev': (.|\n)*{re.escape(field)} \({value}/?\) must not lie under async-inference/",
    ):
        parse_config(raw, default_account=TEST_ACCOUNT)
