"""The payload limit an asynchronous endpoint raises (up to 1 GB), lowered to what the instance's memory decodes."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

# Whole-module imports: mypy (with container/ on mypy_path) does not resolve `from package import module` here.
import sagemaker_contract.app as app  # noqa: PLR0402
import sagemaker_contract.codecs as codecs  # noqa: PLR0402
import sagemaker_contract.interface as interface  # noqa: PLR0402
import sagemaker_contract.server as server  # noqa: PLR0402
from sagemaker_contract.request_log import RequestLogSettings
from sagemaker_contract.variables import SettingError

from tests.container.harness import Server, csv_bytes, make_data, serving

MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("memory_mb", "workers", "limit_mb"),
    [
        (8192, 2, 204),  # ml.m5.large: 8 GiB, 2 vCPUs
        (16384, 4, 204),  # ml.m5.xlarge: twice the memory, twice the workers
        (32768, 2, 819),  # ml.r5.large: memory-optimized
        (262144, 8, 1638),  # ml.r5.4xlarge: more than async's 1 GB holds
        (512, 64, 1),  # never below 1 MB, however many workers
    ],
)
def test_the_limit_lets_each_worker_decode_one_body_in_its_share_of_memory(
    memory_mb: int, workers: int, limit_mb: int
) -> None:
    """GIVEN an instance's memory and its workers WHEN the limit for memory is computed
    THEN one body per worker, decoded, fits in half the memory (at least 1 MB)."""
    assert server.payload_limit_for_memory(memory_mb, workers) == limit_mb


def test_decoding_the_costliest_type_stays_within_the_memory_the_limit_assumes() -> None:
    """GIVEN a CSV body (the costliest type to decode: a string per value, then float64)
    WHEN it is decoded
    THEN the memory it takes, with the body itself, stays below the DECODE_BYTES_PER_BODY_BYTE the limit assumes."""
    body = csv_bytes(None, make_data("binary", 20_000, features=20)[1])
    tracemalloc.start()
    try:
        codecs.decode(body, codecs.input_type("text/csv"), 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(body) + peak < interface.DECODE_BYTES_PER_BODY_BYTE * len(body)


def test_an_asynchronous_endpoints_limit_is_lowered_to_the_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN SAGEMAKER_MAX_PAYLOAD_IN_MB=1024 (async's 1 GB) on an 8 GiB instance with 2 workers
    WHEN the server reads its settings
    THEN it serves bodies up to 204 MB, stating what was asked and the memory; a limit the memory holds stays."""
    monkeypatch.setattr(server, "available_memory_bytes", lambda: 8192 * MIB)
    monkeypatch.setenv(interface.SERVER_WORKERS, "2")
    monkeypatch.setenv(interface.MAX_PAYLOAD_MB, "1024")
    settings = server.ServeSettings.from_environment()
    assert (settings.max_payload_mb, settings.requested_max_payload_mb, settings.memory_mb) == (204, 1024, 8192)
    monkeypatch.setenv(interface.MAX_PAYLOAD_MB, "100")
    assert server.ServeSettings.from_environment().max_payload_mb == 100


def test_above_async_s_1_gb_the_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN SAGEMAKER_MAX_PAYLOAD_IN_MB=1025 WHEN the server reads its settings THEN it refuses, naming the range."""
    monkeypatch.setenv(interface.MAX_PAYLOAD_MB, "1025")
    with pytest.raises(SettingError, match="SAGEMAKER_MAX_PAYLOAD_IN_MB must be a whole number from 1 to 1024"):
        server.ServeSettings.from_environment()


@pytest.fixture(scope="module")
def async_server(trained: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(
        trained["binary"].root, tmp_path_factory.mktemp("async"), workers=2, SAGEMAKER_MAX_PAYLOAD_IN_MB="1024"
    ) as running:
        yield running


def test_the_real_server_states_its_limit_and_batch_transform_still_gets_at_most_100_mb(async_server: Server) -> None:
    """GIVEN the real entry point serving with SAGEMAKER_MAX_PAYLOAD_IN_MB=1024 and 2 workers
    WHEN it starts
    THEN its starting line states the limit it enforces (the request or what its memory holds, the lower), what was
    asked and the memory; /execution-parameters never offers batch transform more than its 100 MB; rows still score."""
    (starting,) = [line for line in async_server.log_lines() if line["event"] == "starting"]
    expected = min(1024, server.payload_limit_for_memory(starting["memory_mb"], 2))
    assert (starting["max_payload_mb"], starting["requested_max_payload_mb"]) == (expected, 1024)
    parameters = json.loads(async_server.request("GET", "/execution-parameters").body)
    assert parameters["MaxPayloadInMB"] == min(expected, interface.BATCH_MAX_PAYLOAD_MB)
    rows = make_data("binary", 3)[1]
    response = async_server.invoke(csv_bytes(None, rows))
    assert response.status == 200
    assert len(np.atleast_1d(np.loadtxt(response.text.splitlines()))) == 3


def test_a_body_over_a_lowered_limit_says_the_memory_lowered_it(tmp_path: Path) -> None:
    """GIVEN an application whose limit was lowered from 1024 MB to 1 MB to fit memory
    WHEN a 1.5 MB body arrives THEN 413 says the limit and that memory lowered it from what was asked."""
    options = app.ServeOptions(1, 1, tmp_path, RequestLogSettings.from_environment(), 1024)
    inference = app.InferenceApp(cast(Any, None), tmp_path, options)  # the algorithm is loaded only on a request
    error = inference._too_large(1_500_000)  # the message the 413 carries
    assert "over the limit of 1 MB" in error.message
    assert "SAGEMAKER_MAX_PAYLOAD_IN_MB=1024, lowered to what this instance's memory decodes" in error.message
