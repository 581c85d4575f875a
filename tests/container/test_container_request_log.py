"""Request logs that cost in proportion to what they tell: budgets per interval, summaries that are the metrics.

In-process: the decisions and sums of `request_log.RequestLog` on a clock the test moves. Through the entry
point: a saturated 1-row load beside a malformed flood, with the default settings, then SIGTERM: the EMF sums
equal the requests sent, each error kind is in the log as soon as it happens, and the log holds at most one byte
per request.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Whole-module import: mypy (with container/ on mypy_path) does not resolve `from package import module` here.
import sagemaker_contract.request_log as request_log  # noqa: PLR0402
from sagemaker_contract.logs import MetricsTarget
from sagemaker_contract.variables import SettingError

from tests.container.conftest import Trained
from tests.container.harness import LOG_EVERY_REQUEST, METRICS_ON, Server, serve_to_exit, serving

METRIC_NAMES = ("Requests", "RequestRows", "ClientErrors", "ModelErrors", "ServerErrors")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _log(
    successes: int = 1, errors: int = 2, interval: int = 10, namespace: str | None = "ns", now: float = 1000.0
) -> tuple[request_log.RequestLog, list[dict[str, Any]], Clock]:
    lines: list[dict[str, Any]] = []
    clock = Clock(now)
    settings = request_log.RequestLogSettings(interval, successes, errors, MetricsTarget(namespace, "endpoint"))
    log = request_log.RequestLog(
        settings, lambda level, event, **fields: lines.append(fields | {"event": event}), clock
    )
    return log, lines, clock


def test_a_5xx_counts_as_a_server_error_and_an_unset_model_version_is_unknown() -> None:
    """GIVEN no METRICS_MODEL_VERSION WHEN requests fail with 500 or 503 THEN ServerErrors 2, ModelVersion unknown;
    without a namespace the summary is no EMF record.

    (A 5xx cannot be provoked through the entry point without a fault in the program, hence in-process.)
    """
    log, lines, _ = _log()
    for status in (500, 503):
        log.request(status, "boom", 1.0, (0, None))
    log.flush()
    (summary,) = lines
    assert (summary["Requests"], summary["ServerErrors"], summary["ClientErrors"], summary["ModelErrors"]) == (
        2,
        2,
        0,
        0,
    )
    assert summary["ModelVersion"] == "unknown"
    log, lines, _ = _log(namespace=None)
    log.request(200, None, 1.0, (3, None))
    log.flush()
    assert "_aws" not in lines[0] and "Requests" not in lines[0] and lines[0]["count"] == 1


def test_lines_are_budgeted_per_interval_but_every_error_kind_is_written_once() -> None:
    """GIVEN 1 success line and 2 error lines per interval WHEN 5 successes, 3 errors of one kind and 2 of another
    arrive THEN the first success, the first two errors and the other kind's first are written; the summary
    counts all ten; in the next interval the same kinds are written again."""
    log, lines, clock = _log(successes=1, errors=2)
    decisions = [log.request(200, None, 0.5, (1, None)) for _ in range(5)]
    assert decisions == [True, False, False, False, False]
    parsing = [log.request(400, f"row {n}, column 3: not a number", 0.5, (0, "client")) for n in range(3)]
    assert parsing == [True, True, False]
    width = [log.request(400, f"row {n} has 4 features; the model expects 5", 0.5, (0, "model")) for n in (1, 2)]
    assert width == [True, False]
    clock.now += 10
    assert log.request(400, "row 9, column 1: not a number", 0.5, (0, "client"))
    (summary,) = lines
    assert summary["count"] == 10 and summary["statuses"] == {"200": 5, "400": 5}
    assert summary["errors"] == {
        "400 row N, column N: not a number": 3,
        "400 row N has N features; the model expects N": 2,
    }
    assert summary["lines_left_out"] == 6
    assert (summary["Requests"], summary["RequestRows"], summary["ClientErrors"], summary["ModelErrors"]) == (
        10,
        5,
        3,
        2,
    )


def test_intervals_are_aligned_to_the_clock_and_their_sums_are_every_request() -> None:
    """GIVEN 10-second intervals WHEN requests arrive over 95 s of a clock starting mid-interval, some intervals
    empty THEN each summary's Timestamp is the start of its interval (a multiple of 10 s, so no record straddles a
    minute), empty intervals write nothing, and the Requests summed over the records are the requests made."""
    log, lines, clock = _log(now=1003.7)
    made = 0
    for step in range(95):
        clock.now = 1003.7 + step
        if step % 30 < 20:
            log.request(200 if step % 3 else 400, None if step % 3 else "bad", 1.0, (1, None))
            made += 1
    log.close()
    stamps = [line["_aws"]["Timestamp"] for line in lines]
    assert all(stamp % 10_000 == 0 for stamp in stamps)
    assert stamps == sorted(set(stamps))
    assert sum(line["Requests"] for line in lines) == sum(line["count"] for line in lines) == made


def test_kinds_past_the_cap_count_as_other() -> None:
    """GIVEN error messages that (against the rule) differ in text WHEN 200 different ones arrive in one interval
    THEN at most MAX_KINDS + 1 kinds are told apart and at most that many lines written: the worst a caller can do."""
    log, lines, _ = _log(errors=0)
    written = sum(log.request(400, f"kind {chr(65 + n % 26)}{chr(65 + n // 26)}", 0.5, None) for n in range(200))
    log.flush()
    assert written == request_log.MAX_KINDS + 1
    assert len(lines[0]["errors"]) == request_log.MAX_KINDS + 1 and lines[0]["errors"]["400 other"] == 200 - 32


def test_latency_percentiles_are_within_five_percent() -> None:
    """GIVEN latencies 1..1000 ms WHEN summarised THEN p50, p90, p99 within 5 % of the exact values, max exact."""
    log, lines, _ = _log()
    for ms in range(1, 1001):
        log.request(200, None, float(ms), None)
    log.flush()
    percentiles = lines[0]["latency_ms"]
    for name, exact in (("p50", 500), ("p90", 900), ("p99", 990)):
        assert exact <= percentiles[name] <= exact * 1.05, (name, percentiles)
    assert percentiles["max"] == 1000


# Each request log variable: values out of its range, and what the error says after the variable's name.
OUT_OF_RANGE = {
    "REQUEST_LOG_INTERVAL_SECONDS": {
        "7": "must divide 60",
        "0": "must be a whole number from 1 to 60",
        "61": "must be a whole number from 1 to 60",
    },
    "REQUEST_LOG_SUCCESSES": {"-1": "must be a whole number from 0 to 1000000"},
    "REQUEST_LOG_ERRORS": {
        "1e3": "must be a whole number from 0 to 1000000, got '1e3'",
        "9" * 50: "must be a whole number from 0 to 1000000, got '9999999999999999999999999999999999999999...'",
    },
}


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [(variable, value, message) for variable, cases in OUT_OF_RANGE.items() for value, message in cases.items()],
)
def test_a_bad_setting_is_refused_naming_the_variable(
    variable: str, value: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a request log variable out of its range WHEN read THEN SettingError names it, its range and the value."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingError, match=re.escape(f"{variable} {message}")):
        request_log.RequestLogSettings.from_environment()


def test_serve_stops_with_the_setting_named(tmp_path: Path) -> None:
    """GIVEN REQUEST_LOG_INTERVAL_SECONDS=7 WHEN `serve` starts THEN exit 2 and one line naming it, no traceback."""
    result = serve_to_exit(tmp_path, {"REQUEST_LOG_INTERVAL_SECONDS": "7"})
    assert result.returncode == 2
    (line,) = [json.loads(text) for text in result.stdout.splitlines()]
    assert line["event"] == "bad_settings" and "REQUEST_LOG_INTERVAL_SECONDS must divide 60" in line["error"]
    assert "Traceback" not in result.stderr


# ----- through the entry point, with the default settings ------------------------------------------------------

GOOD = b"1,2,3,4,5\n"
FLOOD = b"1,2,x,4,5\n"
# Error kinds sent once each while the flood runs: each must be in the log as soon as it is answered.
RARE = {
    "row 1 has 4 features; the model expects 5": (b"1,2,3,4\n", "text/csv"),
    "Content-Type not supported": (b"<x/>", "application/xml"),
    "malformed JSON": (b"{not json", "application/json"),
}
PER_CLIENT = 3000


def _request(body: bytes, content_type: str = "text/csv") -> bytes:
    return (
        f"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


def _hammer(port: int, request: bytes, count: int, statuses: list[int]) -> None:
    """`count` requests on one keep-alive connection, as fast as the server answers; each status is kept."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:
        pending = b""
        for _ in range(count):
            connection.sendall(request)
            while True:
                head_end = pending.find(b"\r\n\r\n")
                if head_end >= 0:
                    head = pending[:head_end].lower()
                    length = int(head.split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
                    if len(pending) >= head_end + 4 + length:
                        statuses.append(int(pending[9:12]))
                        pending = pending[head_end + 4 + length :]
                        break
                chunk = connection.recv(65536)
                if not chunk:
                    raise ConnectionError("the server closed the connection")
                pending += chunk


@pytest.fixture
def default_server(trained: dict[str, Trained], tmp_path: Path) -> Iterator[Server]:
    """GIVEN the container with the request log's defaults, metrics on, 2 workers."""
    defaults = dict.fromkeys(LOG_EVERY_REQUEST, "")
    with serving(trained["regression"].root, tmp_path, workers=2, **METRICS_ON, **defaults) as server:
        yield server


def test_a_malformed_flood_beside_a_saturated_load_costs_at_most_a_byte_a_request(default_server: Server) -> None:
    """GIVEN the default settings WHEN 1-row requests and malformed ones arrive on 4 connections as fast as the
    server answers, then SIGTERM THEN
    - each rare error kind sent during the flood is in the log right after its answer;
    - the EMF records, the last ones written at shutdown, sum to exactly the requests sent, by who got it wrong;
    - the log grew by at most 1 byte per request (a count of bytes and requests, not a timing)."""
    server = default_server
    size_before = server.log_path.stat().st_size
    good, bad = _request(GOOD), _request(FLOOD)
    statuses: list[list[int]] = [[] for _ in range(4)]
    clients = [
        threading.Thread(target=_hammer, args=(server.port, request, PER_CLIENT, statuses[index]))
        for index, request in enumerate((good, good, bad, bad))
    ]
    for client in clients:
        client.start()
    late = []
    for message, (body, content_type) in RARE.items():
        response = server.invoke(body, content_type)
        assert 400 <= response.status < 500
        answered = time.monotonic()
        while not any(line.get("error") == message for line in server.log_lines()):
            if time.monotonic() - answered > 1:
                late.append(message)
                break
            time.sleep(0.01)
    for client in clients:
        client.join()
    server.stop()
    sent = 4 * PER_CLIENT + len(RARE)
    assert not late, f"not in the log within 1 s of being answered: {late}"
    assert [len(s) for s in statuses] == [PER_CLIENT] * 4
    assert set(statuses[0] + statuses[1]) == {200} and set(statuses[2] + statuses[3]) == {400}

    records = server.summaries()
    sums = {name: sum(record.get(name, 0) for record in records) for name in METRIC_NAMES}
    expected = {"Requests": sent, "RequestRows": 2 * PER_CLIENT, "ClientErrors": 2 * PER_CLIENT + 2}
    assert sums == expected | {"ModelErrors": 1, "ServerErrors": 0}
    written = server.log_path.stat().st_size - size_before
    assert written <= sent, f"{written} bytes of log for {sent} requests: {written / sent:.2f} a request"
