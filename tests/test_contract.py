"""config/contract.py: the container's interface file, the shared limits and names, and every side that uses them."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from config import contract
from config.container_interface import CONTAINER_INTERFACE_FILE, load_container_interface
from config.contract import (
    CONTAINER,
    DATA_CAPTURE_METRICS_FILTER,
    DATA_CAPTURE_PREFIX,
    MAX_JOB_SECONDS,
    MAX_TRANSFORM_INVOCATION_SECONDS,
    MAX_TRANSFORM_PAYLOAD_MB,
    METRIC_DEFINITIONS_FILE,
    TRAINING_PIPELINE_STATE_MACHINE,
    endpoint_log_group_name,
    spot_wait_problem,
    state_machine_log_group_name,
    transform_payload_problem,
)
from tests.conftest import Synthesized

RAW: dict[str, Any] = json.loads(CONTAINER_INTERFACE_FILE.read_text(encoding="utf-8"))


def _resources(template: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == resource_type]


def _names_in(value: Any) -> set[str]:
    """Every string of a JSON document, flattened (the names a section of the interface file holds)."""
    if isinstance(value, dict):
        return set().union(*(_names_in(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_names_in(v) for v in value))
    return {value} if isinstance(value, str) else set()


# ----- the interface file and the constants the app uses ------------------------------------------------


# The sections of the interface file the app reads through config.contract's CONTAINER, by name.
NAMED_SECTIONS = ("environment", "files", "metrics")


@pytest.mark.parametrize("section", NAMED_SECTIONS)
def test_every_container_name_the_app_uses_is_in_the_interface_file(section: str) -> None:
    # GIVEN the container's interface file as written on disk
    loaded = vars(getattr(CONTAINER, section))
    # WHEN each name the app reads is compared with it THEN it is the file's own value (dimension sets as tuples)
    for key, value in loaded.items():
        written = RAW[section][key]
        assert (value == tuple(map(tuple, written))) if key == "dimensions" else (value == written), key


def test_no_container_name_is_typed_into_the_contract_by_hand() -> None:
    # GIVEN config.contract WHEN its CONTAINER_* names are listed THEN none is a name typed beside the file
    exposed = {name for name in vars(contract) if name.startswith("CONTAINER_")}
    assert exposed == {"CONTAINER_DIRECTORY", "CONTAINER_DRIFT"}
    assert contract.CONTAINER_DRIFT is CONTAINER.drift
    drift = contract.CONTAINER_DRIFT
    assert RAW["drift"]["metrics"] == vars(drift.metrics)
    assert RAW["drift"]["environment"] == {
        "min_rows": drift.min_rows.variable,
        "psi_threshold": drift.psi_threshold.variable,
        "window": drift.window_variable,
    }
    assert RAW["drift"]["defaults"] == {
        "min_rows": drift.min_rows.default,
        "psi_threshold": drift.psi_threshold.default,
    }
    assert RAW["drift"]["paths"] == vars(drift.paths)
    assert RAW["files"]["metric_definitions"] == METRIC_DEFINITIONS_FILE.name
    assert METRIC_DEFINITIONS_FILE.is_file()


def test_the_interface_file_is_written_the_agreed_way() -> None:
    # GIVEN the file WHEN it is compared with its canonical form THEN keys are sorted, 2-space indented, one newline
    text = CONTAINER_INTERFACE_FILE.read_text(encoding="utf-8")
    assert text == json.dumps(RAW, indent=2, sort_keys=True) + "\n"


def test_the_container_accepts_what_sagemaker_allows() -> None:
    # GIVEN SageMaker's limits WHEN the container's are read THEN the container never refuses a value SageMaker allows
    assert CONTAINER.limits.max_payload_mb >= MAX_TRANSFORM_PAYLOAD_MB
    assert CONTAINER.limits.max_server_timeout_seconds >= MAX_TRANSFORM_INVOCATION_SECONDS


def test_every_container_variable_a_template_sets_is_one_the_container_reads(synthesized: Synthesized) -> None:
    # GIVEN every synthesized model and pipeline
    known = _names_in(RAW["environment"])
    for environment, stacks in synthesized.templates.items():
        # WHEN the environment variables they give the container are collected
        given: set[str] = set()
        for model in _resources(stacks.get("Inference", {"Resources": {}}), "AWS::SageMaker::Model"):
            given |= set(model["PrimaryContainer"]["Environment"])
        definition = json.dumps(stacks["Training"])
        given |= {name for name in re.findall(r'\\"([A-Z][A-Z0-9_]+)\\":', definition) if name.startswith("SAGEMAKER_")}
        # THEN the container reads each of them
        assert given, environment
        assert given <= known, (environment, sorted(given - known))


def test_the_rollback_alarm_reads_the_container_s_own_errors_never_the_caller_s(synthesized: Synthesized) -> None:
    # GIVEN prod's container error-rate alarm
    alarms = _resources(synthesized.template("prod", "Inference"), "AWS::CloudWatch::Alarm")
    (alarm,) = [a for a in alarms if "rejected by the model" in a["AlarmDescription"]]
    # WHEN the metrics it reads are listed
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m}
    # THEN they are the container's requests, model errors and server errors, as the file names them; no client errors
    assert names == {RAW["metrics"]["requests"], RAW["metrics"]["model_errors"], RAW["metrics"]["server_errors"]}
    assert RAW["metrics"]["client_errors"] not in names


# ----- the sides that do not import the names yet: pinned here -------------------------------------------


def test_the_endpoint_log_group_is_the_one_the_ops_cli_reads(synthesized: Synthesized) -> None:
    # GIVEN prod's Inference stack WHEN its log groups are listed THEN the endpoint's has the contract's name
    groups = {g["LogGroupName"] for g in _resources(synthesized.template("prod", "Inference"), "AWS::Logs::LogGroup")}
    assert endpoint_log_group_name("sagemaker-gbdt-prod") in groups


def test_the_pipeline_log_group_has_the_contract_s_name(synthesized: Synthesized) -> None:
    groups = {g["LogGroupName"] for g in _resources(synthesized.template("dev", "Training"), "AWS::Logs::LogGroup")}
    assert groups == {state_machine_log_group_name("sagemaker-gbdt-dev", TRAINING_PIPELINE_STATE_MACHINE)}


def test_data_capture_writes_where_the_bucket_counts_and_the_dashboard_reads(synthesized: Synthesized) -> None:
    # GIVEN prod's platform and inference templates
    platform, inference = synthesized.template("prod", "Platform"), synthesized.template("prod", "Inference")
    # WHEN the capture destination, the bucket's request-metrics filters and the dashboard are read
    filters = [m for b in _resources(platform, "AWS::S3::Bucket") for m in b.get("MetricsConfigurations", [])]
    (config,) = _resources(inference, "AWS::SageMaker::EndpointConfig")
    destination = json.dumps(config["DataCaptureConfig"]["DestinationS3Uri"])
    (dashboard,) = _resources(inference, "AWS::CloudWatch::Dashboard")
    body = "".join(part for part in dashboard["DashboardBody"]["Fn::Join"][1] if isinstance(part, str))
    # THEN all three use the contract's prefix and filter name
    assert filters == [{"Id": DATA_CAPTURE_METRICS_FILTER, "Prefix": DATA_CAPTURE_PREFIX}]
    assert destination.endswith(f'/{DATA_CAPTURE_PREFIX}"]]}}')
    assert f'"FilterId","{DATA_CAPTURE_METRICS_FILTER}"' in body
    assert body.count('"FilterId",') == body.count(f'"FilterId","{DATA_CAPTURE_METRICS_FILTER}"') > 0


# ----- reading the interface file: its worst values --------------------------------------------------------


def _write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "interface.json"
    path.write_text(json.dumps(document) if not isinstance(document, str) else document, encoding="utf-8")
    return path


def _changed(section: str, key: str, value: Any) -> dict[str, Any]:
    document: dict[str, Any] = copy.deepcopy(RAW)
    document[section][key] = value
    return document


def _without(section: str, key: str) -> dict[str, Any]:
    document: dict[str, Any] = copy.deepcopy(RAW)
    del document[section][key]
    return document


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", r"interface\.json is not valid JSON"),
        ([], r"the document must be a JSON object, got list"),
        (
            {k: v for k, v in RAW.items() if k != "metrics"},
            r"the document must have exactly the keys .*missing \['metrics'\]",
        ),
        ({**RAW, "extra": {}}, r"unknown \['extra'\]"),
        (_without("metrics", "model_errors"), r"metrics must have exactly the keys .*missing \['model_errors'\]"),
        (
            _changed("metrics", "request_errors", "RequestErrors"),
            r"metrics must have exactly .*unknown \['request_errors'\]",
        ),
        (
            _changed("environment", "metrics_namespace", ""),
            r"environment\.metrics_namespace must be a non-empty string",
        ),
        (_changed("files", "failure", 3), r"files\.failure must be a non-empty string, got 3"),
        (_changed("metrics", "requests", None), r"metrics\.requests must be a non-empty string, got None"),
        (_changed("limits", "max_payload_mb", "100"), r"limits\.max_payload_mb must be a positive integer, got '100'"),
        (_changed("limits", "max_payload_mb", 0), r"limits\.max_payload_mb must be a positive integer, got 0"),
        (
            _changed("limits", "max_server_timeout_seconds", True),
            r"max_server_timeout_seconds must be a positive integer",
        ),
        (_changed("metrics", "dimensions", []), r"metrics\.dimensions must be a non-empty list of lists of names"),
        (_changed("metrics", "dimensions", [[]]), r"metrics\.dimensions must be a non-empty list"),
        (_changed("metrics", "dimensions", ["EndpointName"]), r"metrics\.dimensions must be a non-empty list"),
        (_without("drift", "metrics"), r"drift must have exactly the keys .*missing \['metrics'\]"),
        (_changed("drift", "bins", 0), r"drift\.bins must be a number above 0, got 0"),
        (
            _changed("drift", "defaults", {"min_rows": "500", "psi_threshold": 0.2}),
            r"drift\.defaults\.min_rows must be a number",
        ),
        (
            _changed("drift", "paths", {"baseline": "", "capture": "c", "output": "o"}),
            r"drift\.paths\.baseline must be a non-empty",
        ),
        (
            _changed("environment", "server_timeout", {"name": "X"}),
            r"environment\.server_timeout must be a non-empty string",
        ),
    ],
)
def test_a_broken_interface_file_is_refused_naming_the_file_and_the_key(
    tmp_path: Path, document: Any, message: str
) -> None:
    # GIVEN an interface file with one thing wrong WHEN it is loaded THEN the error names the file and what is wrong
    path = _write(tmp_path, document)
    with pytest.raises(ValueError, match=message) as raised:
        load_container_interface(path)
    assert str(path) in str(raised.value)


def test_a_missing_interface_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"cannot read the container's interface .*missing\.json"):
        load_container_interface(tmp_path / "missing.json")


def test_the_interface_file_on_disk_loads_as_the_contract_s_constants() -> None:
    assert load_container_interface() == CONTAINER


# ----- the checks both the configuration and the constructs apply ------------------------------------------


@pytest.mark.parametrize(
    ("payload", "concurrency", "ok"),
    [(100, 1, True), (50, 2, True), (1, 100, True), (101, 1, False), (34, 3, False), (1, 101, False)],
)
def test_the_transform_payload_limit_holds_at_its_edges(payload: int, concurrency: int, ok: bool) -> None:
    problem = transform_payload_problem(payload, concurrency)
    assert (problem is None) == ok
    if problem:
        assert f"({concurrency} x {payload} = {payload * concurrency}) must not exceed 100 MB" in problem


@pytest.mark.parametrize(
    ("runtime", "wait", "ok"),
    [
        (3600, 3601, True),
        (3600, MAX_JOB_SECONDS, True),
        (3600, 3600, False),
        (3600, 60, False),
        (3600, MAX_JOB_SECONDS + 1, False),
    ],
)
def test_the_spot_wait_must_exceed_the_runtime_and_stay_within_28_days(runtime: int, wait: int, ok: bool) -> None:
    problem = spot_wait_problem(runtime, wait, runtime_name="max_runtime", wait_name="max_wait", unit=" s")
    assert (problem is None) == ok
    if problem:
        assert problem.startswith(f"max_wait ({wait:g} s) must exceed max_runtime ({runtime} s)")
