"""`serve` through the real entry point: the endpoints, every content type, every bad-input rule, drain, concurrency."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from lightgbm_gbdt.algorithm import ALGORITHM
from sagemaker_contract import balance

from tests.container.conftest import OBJECTIVES, Trained
from tests.container.harness import Server, csv_bytes, make_data, parse_predictions, request_body, serving, start_server


def _expected(job: Trained, features: np.ndarray) -> np.ndarray:
    prediction: np.ndarray = ALGORITHM.load(job.root / "model").predict(features)
    return prediction


def test_ping_is_200_with_an_emptyrequest_body(servers: dict[str, Server]) -> None:
    """GIVEN a started server WHEN /ping THEN 200 and no body."""
    response = servers["binary"].request("GET", "/ping")
    assert (response.status, response.body) == (200, b"")


def test_execution_parameters_for_batch_transform(servers: dict[str, Server]) -> None:
    """GIVEN a server with 2 workers WHEN /execution-parameters THEN batch settings as JSON."""
    response = servers["binary"].request("GET", "/execution-parameters")
    assert response.status == 200
    assert json.loads(response.body) == {
        "MaxConcurrentTransforms": 2,
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": 6,
    }


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("content_type", ["text/csv", "application/json", "application/jsonlines", "application/x-npy"])
@pytest.mark.parametrize("accept", ["text/csv", "application/json", "application/jsonlines", "application/x-npy"])
def test_every_input_and_output_type_gives_the_models_predictions(
    servers: dict[str, Server], trained: dict[str, Trained], objective: str, content_type: str, accept: str
) -> None:
    """GIVEN rows in any input type WHEN invoked with any Accept THEN one output per row, equal to the model's."""
    features = trained[objective].test_features[:7]
    response = servers[objective].invoke(request_body(content_type, features), content_type, accept)
    assert response.status == 200, response.text
    assert response.headers["content-type"] == accept
    expected = _expected(trained[objective], features)
    assert np.allclose(parse_predictions(accept, response.body), expected, atol=1e-9)
    if accept == "text/csv":
        lines = response.text.splitlines()
        assert len(lines) == 7
        assert all(len(line.split(",")) == (3 if objective == "multiclass" else 1) for line in lines)


@pytest.mark.parametrize(
    ("content_type", "accept", "expected"),
    [
        ("text/csv", None, "text/csv"),
        ("application/json", "*/*", "application/json"),
        ("application/x-npy", None, "text/csv"),
        ("text/csv; charset=utf-8", "application/xml, application/jsonlines;q=0.9", "application/jsonlines"),
    ],
)
def test_accept_negotiation(servers: dict[str, Server], content_type: str, accept: str | None, expected: str) -> None:
    """GIVEN no, a wildcard or a list Accept THEN the first supported type, else the request's own format."""
    features = np.zeros((2, 5))
    response = servers["regression"].invoke(
        request_body(content_type.split(";", maxsplit=1)[0], features), content_type, accept
    )
    assert response.status == 200
    assert response.headers["content-type"] == expected


BAD_REQUESTS: list[tuple[str, bytes, str, str | None, int, str]] = [
    (
        "csv wrong feature count",
        b"1,2,3,4,5\n1,2,3,4\n",
        "text/csv",
        None,
        400,
        "row 2 has 4 features; the model expects 5",
    ),
    ("csv too many features", b"1,2,3,4,5,6\n", "text/csv", None, 400, "row 1 has 6 features; the model expects 5"),
    ("csv non-numeric", b"1,2,3,4,5\n1,2,x,4,5\n", "text/csv", None, 400, "row 2, column 3: 'x' is not a number"),
    ("csv empty row", b"1,2,3,4,5\n\n1,2,3,4,5\n", "text/csv", None, 400, "row 2 is empty"),
    ("empty body", b"", "text/csv", None, 400, "the body is empty"),
    ("json malformed", b'{"instances": [[1,2', "application/json", None, 400, "malformed JSON"),
    (
        "json wrong shape",
        b'{"rows": [[1,2,3,4,5]]}',
        "application/json",
        None,
        400,
        "Object contains unknown field `rows`",
    ),
    (
        "json non-numeric",
        b'{"instances": [[1,2,3,4,5],[1,"a",3,4,5]]}',
        "application/json",
        None,
        400,
        "row 2, column 2: Expected a number or null, got `str`",
    ),
    (
        "json wrong feature count",
        b'{"instances": [[1,2,3]]}',
        "application/json",
        None,
        400,
        "row 1 has 3 features; the model expects 5",
    ),
    ("json no rows", b'{"instances": []}', "application/json", None, 400, "no rows"),
    (
        "jsonlines malformed line",
        b"[1,2,3,4,5]\n[1,2,\n",
        "application/jsonlines",
        None,
        400,
        "line 2 is not one complete JSON value",
    ),
    (
        "jsonlines wrong feature count",
        b"[1,2,3,4,5]\n[1,2,3,4,5,6]\n",
        "application/jsonlines",
        None,
        400,
        "line 2 has 6 features",
    ),
    ("npy not an array", b"\x93NUMPY garbage", "application/x-npy", None, 400, "the body is not a .npy array"),
    (
        "unsupported content type",
        b"<rows/>",
        "application/xml",
        None,
        415,
        "Content-Type 'application/xml' is not supported",
    ),
    (
        "unsupported accept",
        b"1,2,3,4,5\n",
        "text/csv",
        "application/xml",
        406,
        "Accept 'application/xml' matches none of the types available",
    ),
]


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status", "message"),
    [b[1:] for b in BAD_REQUESTS],
    ids=[b[0] for b in BAD_REQUESTS],
)
def test_bad_input_is_a_clear_4xx_and_the_server_keeps_answering(
    servers: dict[str, Server], body: bytes, content_type: str, accept: str | None, status: int, message: str
) -> None:
    """GIVEN a bad request WHEN invoked THEN a 4xx naming the problem, and the next good request still works."""
    server = servers["binary"]
    response = server.invoke(body, content_type, accept)
    assert response.status == status
    assert message in response.text
    assert server.request("GET", "/ping").status == 200
    assert server.invoke(b"1,2,3,4,5\n").status == 200


def test_unknown_path_and_wrong_method(servers: dict[str, Server]) -> None:
    """GIVEN requests the contract does not define THEN 404 and 405."""
    assert servers["binary"].request("GET", "/predict").status == 404
    assert servers["binary"].request("GET", "/invocations").status == 405


def test_logs_are_json_with_request_id_status_latency_and_no_payload(servers: dict[str, Server]) -> None:
    """GIVEN requests carrying a recognizable value WHEN logged THEN JSON lines with ids and timing, no payload."""
    server = servers["multiclass"]
    bad = server.invoke(b"1,2,3,4,5\n1,2,SECRETVALUE,4,5\n")
    good = server.invoke(b"1.234567,2,3,4,5\n")
    assert (bad.status, good.status) == (400, 200)
    log_text = server.log_path.read_text()
    assert "SECRETVALUE" not in log_text
    assert "1.234567" not in log_text
    requests = server.logged_requests([bad.headers["x-request-id"], good.headers["x-request-id"]])
    logged_bad, logged_good = requests[bad.headers["x-request-id"]], requests[good.headers["x-request-id"]]
    assert (logged_bad["status"], logged_bad["error"]) == (400, "row 2, column 3: not a number")
    assert (logged_good["status"], logged_good["rows"]) == (200, 1)
    assert logged_good["latency_ms"] > 0


def test_concurrent_requests_each_get_their_own_answer(servers: dict[str, Server], trained: dict[str, Trained]) -> None:
    """GIVEN 8 clients sending different rows at once THEN every response is the model's answer to its own rows."""
    server, job = servers["regression"], trained["regression"]
    expected = _expected(job, job.test_features)

    def client(index: int) -> list[bool]:
        connection = server.connection()  # keep-alive: many requests per connection
        results = []
        for j in range(30):
            start = (index * 37 + j * 11) % 400
            rows = slice(start, start + 1 + (j % 50))
            response = server.request(
                "POST",
                "/invocations",
                csv_bytes(None, job.test_features[rows]),
                {"Content-Type": "text/csv"},
                connection,
            )
            got = np.array([float(v) for v in response.text.split()])
            results.append(response.status == 200 and np.allclose(got, expected[rows]))
        return results

    with ThreadPoolExecutor(8) as pool:
        outcomes = [ok for results in pool.map(client, range(8)) for ok in results]
    assert len(outcomes) == 240
    assert all(outcomes)


@pytest.fixture
def small_limit_server(trained: dict[str, Trained], tmp_path: Path) -> Iterator[Server]:
    with serving(trained["binary"].root, tmp_path, workers=3, SAGEMAKER_MAX_PAYLOAD_IN_MB="1") as server:
        yield server


def test_body_over_the_limit_is_413_and_the_limit_is_configurable(small_limit_server: Server) -> None:
    """GIVEN SAGEMAKER_MAX_PAYLOAD_IN_MB=1 WHEN 1.5 MB arrive (sized or chunked) THEN 413, and the server answers on."""
    server = small_limit_server
    body = b"1,2,3,4,5\n" * 150_000
    assert json.loads(server.request("GET", "/execution-parameters").body)["MaxPayloadInMB"] == 1
    response = server.invoke(body)
    assert response.status == 413
    assert "over the limit of 1 MB" in response.text
    connection = server.connection()
    connection.request(
        "POST",
        "/invocations",
        body=iter([body[:600_000], body[600_000:]]),
        headers={"Content-Type": "text/csv"},
        encode_chunked=True,
    )
    chunked = connection.getresponse()
    assert chunked.status == 413
    assert server.invoke(b"1,2,3,4,5\n" * 1000).status == 200


def test_worker_count_follows_the_environment(small_limit_server: Server) -> None:
    """GIVEN SAGEMAKER_MODEL_SERVER_WORKERS=3 THEN three workers each load the model, and no more; the starting line
    states every setting the server runs with."""
    (starting,) = [line for line in small_limit_server.log_lines() if line["event"] == "starting"]
    settings = {"port", "workers", "timeout_seconds", "idle_seconds", "max_payload_mb", "accept_defer_milliseconds"}
    settings |= {f"request_log_{name}" for name in ("interval_seconds", "successes", "errors")}
    assert settings <= starting.keys()
    assert (starting["workers"], starting["max_payload_mb"]) == (3, 1)
    pids: set[int] = set()
    for _ in range(300):  # /ping turns 200 with the first worker; the others follow
        pids = {line["pid"] for line in small_limit_server.log_lines() if line["event"] == "model_loaded"}
        if len(pids) >= 3:
            break
        time.sleep(0.1)
    time.sleep(0.5)
    assert len({line["pid"] for line in small_limit_server.log_lines() if line["event"] == "model_loaded"}) == 3


def test_connections_opened_together_go_to_different_workers(trained: dict[str, Trained], tmp_path: Path) -> None:
    """GIVEN 2 workers WHEN two keep-alive connections open at once (batch transform with MaxConcurrentTransforms
    = workers) THEN each is served by its own worker, every time (not both by whichever worker woke first)."""
    # The deferral is the test's hang bound, not a race: with the default 20 ms a busy machine may not schedule the
    # idle worker in time (the deferring worker then accepts anyway, by design). Every connection stays open, so
    # each trial starts from equal counts without waiting for the workers to see a close.
    server = start_server(
        trained["binary"].root,
        tmp_path / "serve.log",
        SAGEMAKER_MODEL_SERVER_WORKERS="2",
        SERVER_ACCEPT_DEFER_MILLISECONDS=str(balance.MAX_DEFER_MILLISECONDS),
    )
    opened = []
    try:
        _wait_for_workers(server, 2)
        body = csv_bytes(None, trained["binary"].test_features[:5])
        for trial in range(10):
            connections = [server.connection() for _ in range(2)]
            opened += connections
            for connection in connections:
                connection.connect()
            ids = [f"trial-{trial}-connection-{index}" for index in range(2)]
            for connection, request_id in zip(connections, ids, strict=True):
                response = server.request(
                    "POST",
                    "/invocations",
                    body,
                    {"Content-Type": "text/csv", "X-Amzn-RequestId": request_id},
                    connection,
                )
                assert response.status == 200
            logged = server.logged_requests(ids)
            assert len({logged[request_id]["pid"] for request_id in ids}) == 2, f"trial {trial}"
    finally:
        for connection in opened:
            connection.close()
        server.stop()


def _wait_for_workers(server: Server, count: int) -> None:
    for _ in range(300):
        if len({line["pid"] for line in server.log_lines() if line["event"] == "model_loaded"}) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} workers loaded the model")


def test_compiled_trees_can_be_switched_off(small_limit_server: Server, trained: dict[str, Trained]) -> None:
    """GIVEN GBDT_COMPILE_TREES=off THEN workers say so, and predict LightGBM's values."""
    features = trained["binary"].test_features[:20]
    response = small_limit_server.invoke(csv_bytes(None, features), accept="application/json")
    assert np.allclose(json.loads(response.body)["predictions"], _expected(trained["binary"], features), atol=1e-12)
    messages = [line.get("message", "") for line in small_limit_server.log_lines() if line.get("logger") == "algorithm"]
    assert messages
    assert all(message.startswith("compiled inference off") for message in messages)


def test_sigterm_drains_in_flight_requests_then_exits(trained: dict[str, Trained], tmp_path: Path) -> None:
    """GIVEN a request half sent WHEN SIGTERM arrives THEN it still completes, and the server exits 0 in 30 s."""
    server = start_server(trained["multiclass"].root, tmp_path / "serve.log", SAGEMAKER_MODEL_SERVER_WORKERS="1")
    try:
        _, features = make_data("multiclass", 20_000, seed=9)
        body = csv_bytes(None, features)
        first_half_sent, sigterm_sent = threading.Event(), threading.Event()

        def chunks() -> Iterator[bytes]:
            yield body[: len(body) // 2]
            first_half_sent.set()
            sigterm_sent.wait(10)
            yield body[len(body) // 2 :]

        connection = server.connection()
        result: dict[str, Any] = {}

        def send() -> None:
            connection.request(
                "POST",
                "/invocations",
                body=chunks(),
                headers={"Content-Type": "text/csv", "Accept": "application/json"},
                encode_chunked=True,
            )
            response = connection.getresponse()
            result["status"], result["rows"] = response.status, len(json.loads(response.read())["predictions"])

        client = threading.Thread(target=send)
        client.start()
        assert first_half_sent.wait(10)
        # Give the server time to read the headers and the first half, so that the request is in
        # flight (not an idle connection, which a draining server may close) when SIGTERM arrives.
        time.sleep(1.0)
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # the server is shutting down while the request is still arriving
        sigterm_sent.set()
        client.join(30)
        assert result == {"status": 200, "rows": 20_000}
        assert server.process.wait(timeout=30) == 0
    finally:
        server.stop()


def test_serve_without_a_model_exits_with_a_reason(tmp_path: Path) -> None:
    """GIVEN an empty model folder WHEN serve starts THEN it exits non-zero, logging that the model is missing."""
    (tmp_path / "model").mkdir()
    with pytest.raises(RuntimeError, match="no complete model"):
        start_server(tmp_path, tmp_path / "serve.log")
