"""`serve` tried as an attacker and a careless caller: every mistake a 4xx, HTTP per RFC 9110, logs without content."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.container.conftest import Trained
from tests.container.harness import LOG_INTERVAL_VARIABLE, METRICS_ON, Server, serving

MARKER = "ZQXMARKER"


def _npy(header: str, data: bytes = b"", version: bytes = b"\x01\x00") -> bytes:
    """A .npy body with a hand-written header (padded as numpy pads it)."""
    text = header.encode("latin-1")
    size = 10 + len(text) + 1
    padded = text + b" " * ((64 - size % 64) % 64) + b"\n"
    length = len(padded).to_bytes(2 if version == b"\x01\x00" else 4, "little")
    return b"\x93NUMPY" + version + length + padded + data


def _npy_of(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _typed(types: dict[str, dict[str, tuple[bytes, str]]]) -> list[tuple[str, bytes, str, str]]:
    """Cases by content type, each `name: (body, the message it must give)`."""
    return [
        (name, body, content_type, message)
        for content_type, cases in types.items()
        for name, (body, message) in cases.items()
    ]


FIVE = np.arange(5.0).tobytes()
# Bodies by content type, each with what its 400 must say (rows alike in shape: duplicates pairs two groups, each
# row another input). Record framing (the CSV records and JSON lines below): batch transform joins outputs to
# inputs by position (test_container_records.py), so a body whose lines and records disagree is a 400 naming the
# line, never a 200 with another number of predictions.
HOSTILE: list[tuple[str, bytes, str, str]] = _typed(
    {
        "application/x-npy": {
            "npy shape of 10**12 rows, 40 bytes of data": (
                _npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000, 5), }", FIVE),
                "declares shape (1000000000000, 5)",
            ),
            "npy shape whose product overflows int64": (
                _npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 5), }", FIVE),
                "must be 1-D (one row) or 2-D",
            ),
            "npy 2-D shape overflowing int64": (
                _npy("{'descr': '<f8', 'fortran_order': False, 'shape': (9223372036854775807, 5), }", FIVE),
                "declares shape",
            ),
            "npy header length of 4 GB (version 2.0)": (b"\x93NUMPY\x02\x00\xff\xff\xff\xff{", "not a .npy array"),
            "npy header nested 5000 deep": (
                _npy("{'descr': '<f8', 'fortran_order': False, 'shape': " + "(" * 4000 + ")" * 4000 + "}"),
                "not a .npy array",
            ),
            "npy header that is code": (
                _npy("{'descr': '<f8', 'fortran_order': False, 'shape': (__import__('os').getpid(), 5), }", FIVE),
                "not a .npy array",
            ),
            "npy object dtype (pickles)": (
                _npy("{'descr': '|O', 'fortran_order': False, 'shape': (1, 5), }", FIVE),
                "must hold numbers",
            ),
            "npy structured dtype": (
                _npy("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (5,), }", FIVE),
                "must hold numbers",
            ),
            "npy complex dtype": (_npy_of(np.zeros((1, 5), dtype=np.complex128)), "must hold numbers"),
            "npy 3-D": (_npy_of(np.zeros((1, 1, 5))), "must be 1-D (one row) or 2-D"),
            "npy no rows": (_npy_of(np.zeros((0, 5))), "at least one value"),
            "npy truncated data": (_npy_of(np.zeros((2, 5)))[:-8], "declares shape (2, 5)"),
            "npy zip archive (npz)": (b"PK\x03\x04" + b"\x00" * 100, "not a .npy array"),
            "npy infinite value": (_npy_of(np.array([[1, 2, np.inf, 4, 5.0]])), "row 1, column 3 is inf"),
            "npy wrong width": (_npy_of(np.zeros((2, 4))), "row 1 has 4 features; the model expects 5"),
        },
        "text/csv": {
            "csv inf": (b"1,2,3,4,5\n1,2,inf,4,5\n", "row 2, column 3 is inf"),
            "csv -Infinity": (b"1,2,3,4,-Infinity\n", "row 1, column 5 is -inf"),
            "csv 1e999": (b"1,1e999,3,4,5\n", "row 1, column 2 is inf"),
            "csv python-only number syntax": (b"1,2,3,4,1_000\n", "row 1, column 5: '1_000' is not a number"),
            "csv not UTF-8": (b"1,2,3,4,\xff\n", "not UTF-8"),
            # Characters str.splitlines() breaks at, inside one CSV record: never a second record (framing, above).
            **{
                f"csv {name} inside a record": (b"1,2,3,4,5\n1,2" + char + b",4,5\n", "row 2")
                for name, char in (("bare CR", b"\r3"), ("VT", b"\x0b3\x0b3"), ("FF", b"3\x0c3"))
            },
            **{
                f"csv {name} inside a record": (b"1,2,3,4,5\n1,2,3" + char.encode() + b"3,4,5\n", "row 2")
                for name, char in (("U+2028", "\u2028"), ("U+0085", "\x85"), ("FS", "\x1c"))
            },
        },
        "application/json": {
            "json 1e999": (b"[[1, 2, 3, 4, 1e999]]", "row 1, column 5: Number out of range"),
            "json -1e999 one row": (b"[1, 2, -1e999, 4, 5]", "row 1, column 3: Number out of range"),
            "json NaN literal": (b"[[1, 2, NaN, 4, 5]]", "malformed JSON"),
            "json nested 100 000 deep": (b"[" * 100_000 + b"]" * 100_000, "row 1, column 1"),
            "json a string": (b'"1,2,3,4,5"', "not a JSON array or object"),
            "json empty array": (b"[]", "no rows"),
            "json ragged rows": (b"[[1,2,3,4,5],[1,2,3]]", "row 2 has 3 features"),
            "json unknown key": (b'{"instances": [[1,2,3,4,5]], "extra": 1}', "unknown field `extra`"),
        },
        "application/jsonlines": {
            "jsonlines 1e999": (b"[1,2,3,4,5]\n[1,2,3,4,1e999]\n", "line 2, column 5"),
            "jsonlines inf via features": (b'{"features": [1,2,3,4,1e400]}\n', "line 1, column 5"),
            "jsonlines two values on one line": (b"[1,2,3,4,5]\n[1,2,3,4,5] [1,2,3,4,5]\n", "line 2"),
            "jsonlines two arrays joined by a comma": (b"[1,2,3,4,5],[1,2,3,4,5]\n", "line 1"),
            "jsonlines a record split over lines": (b"[1,2,3,4,5]\n[1,2,\n3,4,5]\n", "line 2"),
            # two values on line 1 and a split record: the count of values matches the count of lines
            "jsonlines two defects that cancel out": (b"[1,2,3,4,5],[1,2\n3,4,5]\n", "line 1"),
            "jsonlines an empty line between records": (b"[1,2,3,4,5]\n\n[1,2,3,4,5]\n", "line 2"),
            "jsonlines a JSON array of records": (b"[[1,2,3,4,5],[1,2,3,4,5]]\n", "line 1"),
        },
    }
)


@pytest.mark.parametrize(
    ("body", "content_type", "message"), [case[1:] for case in HOSTILE], ids=[case[0] for case in HOSTILE]
)
def test_every_hostile_body_is_a_400_naming_the_problem(
    servers: dict[str, Server], body: bytes, content_type: str, message: str
) -> None:
    """GIVEN a body crafted to exhaust memory, smuggle code, or carry non-finite numbers THEN 400 saying what."""
    server = servers["binary"]
    response = server.invoke(body, content_type)
    assert response.status == 400, response.text
    assert message in response.text
    assert server.invoke(b"1,2,3,4,5\n").status == 200


def test_missing_values_are_nan_or_null_as_in_training(servers: dict[str, Server]) -> None:
    """GIVEN nan (CSV, .npy) or null (JSON) THEN a prediction for a missing value, the same in every format."""
    row = [1.0, float("nan"), 3.0, 4.0, 5.0]
    bodies = {
        "text/csv": b"1,nan,3,4,5\n",
        "application/json": b"[[1, null, 3, 4, 5]]",
        "application/jsonlines": b"[1, null, 3, 4, 5]\n",
        "application/x-npy": _npy_of(np.array([row])),
    }
    answers = {kind: servers["binary"].invoke(body, kind, "text/csv") for kind, body in bodies.items()}
    assert {response.status for response in answers.values()} == {200}
    assert len({response.body for response in answers.values()}) == 1


NEGOTIATION: list[tuple[str, dict[str, str], int, str]] = [
    ("accept xml", {"Accept": "application/xml"}, 406, "text/csv, application/json, application/jsonlines"),
    ("accept excludes every type", {"Accept": "text/csv;q=0, */*;q=0"}, 406, "matches none"),
    ("content-encoding gzip", {"Content-Encoding": "gzip"}, 415, "Content-Encoding 'gzip' is not supported"),
    ("charset utf-16", {"Content-Type": "text/csv; charset=utf-16"}, 415, "charset 'utf-16' is not supported"),
    ("no content type", {"Content-Type": ""}, 415, "Content-Type none is not supported"),
]


@pytest.mark.parametrize(
    ("headers", "status", "message"), [case[1:] for case in NEGOTIATION], ids=[case[0] for case in NEGOTIATION]
)
def test_content_negotiation_per_rfc_9110(
    servers: dict[str, Server], headers: dict[str, str], status: int, message: str
) -> None:
    """GIVEN an Accept nothing matches, or a coding or charset the server does not decode THEN 406 or 415."""
    response = servers["binary"].request(
        "POST", "/invocations", b"1,2,3,4,5\n", {"Content-Type": "text/csv", **headers}
    )
    assert response.status == status
    assert message in response.text
    if "Content-Encoding" in headers:
        assert response.headers["accept-encoding"] == "identity"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("text/csv;q=0.5, application/json", "application/json"),
        ("*/*;q=0.1, text/csv;q=0", "application/json"),
        ("application/x-npy", "application/x-npy"),
        ("text/csv;q=0.2, application/*;q=0.3", "application/json"),
    ],
)
def test_accept_weights_choose_the_type(servers: dict[str, Server], accept: str, expected: str) -> None:
    """GIVEN weighted Accept ranges THEN the acceptable type with the highest weight."""
    response = servers["binary"].invoke(b"1,2,3,4,5\n", "text/csv", accept)
    assert response.status == 200
    assert response.headers["content-type"] == expected


# Each route: what it allows, and methods it does not serve.
ROUTES = {
    "/execution-parameters": ("GET, HEAD", ["DELETE", "POST"]),
    "/ping": ("GET, HEAD", ["PUT"]),
    "/invocations": ("POST", ["GET", "DELETE"]),
}


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [(method, path, allow) for path, (allow, methods) in ROUTES.items() for method in methods],
)
def test_a_method_a_route_does_not_serve_is_405_with_allow(
    servers: dict[str, Server], method: str, path: str, allow: str
) -> None:
    """GIVEN a method the path does not serve THEN 405 and Allow listing the methods it does."""
    response = servers["binary"].request(method, path)
    assert response.status == 405
    assert response.headers["allow"] == allow


def test_head_ping_is_200(servers: dict[str, Server]) -> None:
    """GIVEN HEAD /ping THEN 200 (RFC 9110: a server that serves GET serves HEAD)."""
    assert servers["binary"].request("HEAD", "/ping").status == 200


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(data)
        chunks = []
        for _ in range(100):
            chunk = connection.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def test_logs_carry_ids_sizes_statuses_and_positions_never_content(servers: dict[str, Server]) -> None:
    """GIVEN requests whose every caller-controlled part holds a marker THEN the marker never reaches the log,
    while the response may quote it back; each request line has id, sizes, status, error kind and position."""
    server = servers["multiclass"]
    m = MARKER
    requests = [
        (f"1,2,3,4,5\n1,2,{m},4,5\n", "text/csv", None),
        (f'{{"instances": [[1,2,3,4,5]], "{m}": 1}}', "application/json", None),
        (f'{{"{m}": [[1,2,3,4,5]]}}', "application/json", None),
        (f'[[1,2,"{m}",4,5]]', "application/json", None),
        (f'[1,2,3,4,5]\n{{"features": [1,2,3,4,5], "{m}": 0}}\n', "application/jsonlines", None),
        (f"[1,2,3,4,5]\n[1,2,{m}]\n", "application/jsonlines", None),
        ("1,2,3,4,5\n", f"text/csv; charset={m}", None),
        ("1,2,3,4,5\n", f"application/{m}", None),
        ("1,2,3,4,5\n", "text/csv", f"application/{m}"),
    ]
    responses = [server.invoke(body.encode(), content_type, accept) for body, content_type, accept in requests]
    npy = _npy(f"{{'descr': '{m}', 'fortran_order': False, 'shape': (1, 5), }}", FIVE)
    responses.append(server.invoke(npy, "application/x-npy"))
    responses.append(server.invoke(_npy_of(np.zeros((1, 5)))[:-1] + m.encode(), "application/x-npy"))
    responses.append(server.request("POST", f"/{m}", b"1,2,3,4,5\n", {"Content-Type": "text/csv"}))
    responses.append(
        server.request("POST", "/invocations", b"1,2,3\n", {"Content-Type": "text/csv", "X-Amzn-RequestId": f"<{m}>"})
    )
    responses.append(server.request("POST", "/invocations", b"1\n", {"Content-Encoding": m}))
    assert all(400 <= response.status < 500 for response in responses), str([r.status for r in responses])
    assert sum(m in response.text for response in responses) >= 8  # the caller is told what was wrong
    raw = _raw(server.port, f"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: {m}\r\n\r\n".encode())
    assert raw.startswith(b"HTTP/1.1 400")
    assert server.request("GET", "/ping").status == 200

    logged = server.logged_requests([response.headers["x-request-id"] for response in responses])
    assert m not in server.log_path.read_text()
    for index, response in enumerate(responses):
        line = logged[response.headers["x-request-id"]]
        assert line["status"] == response.status
        assert line["response_bytes"] == len(response.body)
        if index < len(requests):  # a rejected request's log line still says how large it was
            assert line["request_bytes"] == len(requests[index][0].encode())
        assert line["error"] and line["error_kind"] in {"client", "model"}
    assert logged[responses[0].headers["x-request-id"]]["error"] == "row 2, column 3: not a number"


@pytest.fixture(scope="module")
def metrics_server(trained: dict[str, Trained], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(
        trained["regression"].root,
        tmp_path_factory.mktemp("metrics"),
        workers=1,
        **METRICS_ON,
        **{LOG_INTERVAL_VARIABLE: "1"},
    ) as server:
        yield server


def test_the_emf_records_count_each_request_and_who_got_it_wrong(metrics_server: Server) -> None:
    """GIVEN the metrics variables WHEN good, malformed, misdirected and mis-sized requests arrive THEN the workers'
    summaries are CloudWatch EMF records with interface.json's names whose sums count them: Requests, RequestRows,
    and ClientErrors (the caller's mistake) or ModelErrors (a feature count the model does not expect)."""
    contract = json.loads((Path(__file__).resolve().parents[2] / "container" / "interface.json").read_text())
    names = contract["metrics"]
    server = metrics_server
    since = len(server.log_lines())
    cases = {
        "good": (server.invoke(b"1,2,3,4,5\n1,2,3,4,5\n1,2,3,4,5\n"), {"rows": 3}),
        "malformed": (server.invoke(b"1,2,x,4,5\n"), {"client_errors": 1}),
        "ragged": (server.invoke(b"1,2,3,4,5\n1,2,3\n"), {"client_errors": 1}),
        "unsupported type": (server.invoke(b"<x/>", "application/xml"), {"client_errors": 1}),
        "wrong method": (server.request("GET", "/invocations"), {"client_errors": 1}),
        "wrong feature count": (server.invoke(b"1,2,3,4\n1,2,3,4\n"), {"model_errors": 1}),
        "wrong feature count npy": (server.invoke(_npy_of(np.zeros((2, 7))), "application/x-npy"), {"model_errors": 1}),
    }
    records = server.counted(len(cases), since)
    metric_keys = ("requests", "rows", "client_errors", "model_errors", "server_errors")
    for record in records:
        (directive,) = record["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "sagemaker-gbdt"
        assert directive["Dimensions"] == names["dimensions"]
        assert [metric["Name"] for metric in directive["Metrics"]] == [names[key] for key in metric_keys]
        assert {metric["Unit"] for metric in directive["Metrics"]} == {"Count"}
        assert isinstance(record["_aws"]["Timestamp"], int)
        assert (record["EndpointName"], record["ModelVersion"]) == ("gbdt-prod", "model-7")
    want = {key: sum(expected.get(key, 0) for _, expected in cases.values()) for key in metric_keys}
    want["requests"] = len(cases)
    assert {key: sum(record[names[key]] for record in records) for key in metric_keys} == want
