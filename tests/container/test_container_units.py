"""The contract layer's pieces in-process: hyperparameter schema, content negotiation, the failure paths."""

from __future__ import annotations

import io
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

# Whole-module imports: mypy (with container/ on mypy_path) does not resolve `from package import module` here.
import sagemaker_contract.balance as balance  # noqa: PLR0402
import sagemaker_contract.codecs as codecs  # noqa: PLR0402
import sagemaker_contract.hyperparameters as hyperparameters  # noqa: PLR0402
import sagemaker_contract.seam as seam  # noqa: PLR0402
import sagemaker_contract.training as training  # noqa: PLR0402
from hyperschema import param, schema_of
from sagemaker_contract.errors import BadRequestError, UserError
from sagemaker_contract.failure import FAILURE_LIMIT, write_failure
from sagemaker_contract.paths import OptMl
from sagemaker_contract.protocol import Declaration

from tests.container.harness import csv_bytes, make_data, write_tree


@dataclass(frozen=True)
class Example:
    mode: str = param(choices=("fast", "slow"))
    rounds: int = param(default=10, minimum=1, maximum=100)
    rate: float = param(default=0.5, exclusive_minimum=0.0, maximum=1.0)
    verbose: bool = param(default=False)
    limit: int | None = param(default=None, minimum=0)


def test_strings_become_typed_values_and_defaults_fill_the_rest() -> None:
    """GIVEN SageMaker's string values THEN typed fields, defaults for the missing ones."""
    parsed = hyperparameters.parse(Example, {"mode": "fast", "rounds": "20", "verbose": "true", "limit": "none"})
    assert parsed == Example(mode="fast", rounds=20, rate=0.5, verbose=True, limit=None)


def test_every_problem_is_reported_at_once() -> None:
    """GIVEN several bad values THEN one error naming each of them."""
    with pytest.raises(UserError) as caught:
        hyperparameters.parse(Example, {"rounds": "0", "rate": "0", "verbose": "maybe", "colour": "red"})
    message = str(caught.value)
    for part in (
        "unknown hyperparameter(s) colour; known: limit, mode, rate, rounds, verbose",
        "mode is required",
        "rounds must be >= 1, got 0",
        "rate must be > 0.0, got 0.0",
        "verbose must be true or false, got 'maybe'",
    ):
        assert part in message


def test_schema_of_lists_the_declaration() -> None:
    """GIVEN a declaring dataclass THEN its schema gives names, types, defaults and ranges (for the exports)."""
    specs = schema_of(Example).hyperparameters
    assert specs["mode"].required is True
    assert (specs["rounds"].type, specs["rounds"].default, specs["rounds"].maximum) == ("integer", 10, 100)
    assert (specs["limit"].type, specs["limit"].nullable) == ("integer", True)


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("lightgbm_gbdt", "must look like module:attribute"),
        (":ALGORITHM", "must look like module:attribute"),
        ("no_such_algorithm:ALGORITHM", "no module 'no_such_algorithm'"),
        ("sagemaker_contract.failure:ALGORITHM", "has no attribute 'ALGORITHM'"),
        ("sagemaker_contract.failure:write_failure", "is not an algorithm: it lacks name, hyperparameters"),
    ],
)
def test_the_seam_names_what_is_wrong_with_a_reference(reference: str, message: str) -> None:
    """GIVEN a bad ALGORITHM_MODULE THEN one error naming the variable and the problem."""
    with pytest.raises(UserError, match=f"ALGORITHM_MODULE.*{message}"):
        seam.load(reference)


def test_the_seam_takes_the_variable_else_the_default() -> None:
    assert seam.reference({"ALGORITHM_MODULE": "mine:ALGO"}) == "mine:ALGO"
    assert seam.reference({}) == seam.dockerfile_choice()
    assert (seam.DOCKERFILE.parent / seam.dockerfile_choice().partition(":")[0] / "__init__.py").is_file()


def test_without_a_variable_or_a_dockerfile_choice_the_seam_says_which(tmp_path: Path) -> None:
    """GIVEN no ALGORITHM_MODULE and a Dockerfile without `ARG ALGORITHM=` (or none) THEN an error naming both."""
    (tmp_path / "Dockerfile").write_text("FROM python:3.13-slim-trixie\nARG ALGORITHM\n")
    for dockerfile in (tmp_path / "Dockerfile", tmp_path / "missing"):
        with pytest.raises(UserError, match=f"ALGORITHM_MODULE is not set and {dockerfile} has no `ARG ALGORITHM="):
            seam.dockerfile_choice(dockerfile)


@pytest.mark.parametrize(
    ("accept", "request_type", "expected"),
    [
        (None, "application/json", "application/json"),
        ("", "application/x-npy", "text/csv"),
        ("text/*", "application/json", "text/csv"),
        ("application/*", "text/csv", "application/json"),
        ("application/x-jsonlines", "text/csv", "application/jsonlines"),
    ],
)
def test_output_type_negotiation(accept: str | None, request_type: str, expected: str) -> None:
    """GIVEN an Accept header THEN the response type the server picks."""
    assert codecs.output_type(accept, request_type) == expected


def test_csv_encoding_of_each_prediction_shape() -> None:
    """GIVEN 1-D and 2-D predictions THEN one CSV line per row."""
    assert codecs.encode(np.array([0.5, 1.0]), codecs.CSV) == b"0.5\n1.0\n"
    assert codecs.encode(np.array([[0.25, 0.75], [1.0, 0.0]]), codecs.CSV) == b"0.25,0.75\n1.0,0.0\n"
    assert codecs.encode(np.array([[0.25, 0.75]]), codecs.JSONLINES) == b'{"prediction":[0.25,0.75]}\n'


def test_missing_values_are_nan() -> None:
    """GIVEN `nan` in CSV and null in JSON THEN NaN features (LightGBM's missing values)."""
    assert np.isnan(codecs.decode(b"1,nan\n", codecs.CSV, 2)[0, 1])
    assert np.isnan(codecs.decode(b'{"instances": [[1, null]]}', codecs.JSON, 2)[0, 1])


def test_npy_of_strings_is_rejected() -> None:
    """GIVEN a .npy array of strings THEN 400 naming the dtype."""
    buffer = io.BytesIO()
    np.save(buffer, np.array([["a", "b"]]))
    with pytest.raises(BadRequestError, match="must hold numbers"):
        codecs.decode(buffer.getvalue(), codecs.NPY, 2)


class _ExhaustingAlgorithm:
    """An algorithm whose fit runs out of memory, to reach training's MemoryError path deterministically."""

    name = "exhausting"
    hyperparameters = Example
    declaration = Declaration(metrics=())

    def check(self, hyperparameters: Any, dataset: Any) -> None:
        return None

    def fit(self, *args: Any) -> Any:
        raise MemoryError

    def load(self, directory: Path) -> Any:
        raise NotImplementedError


@pytest.fixture
def restore_sigterm() -> Iterator[None]:
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


@pytest.mark.usefixtures("restore_sigterm")
def test_memory_error_becomes_an_out_of_memory_reason(tmp_path: Path) -> None:
    """GIVEN fit raising MemoryError WHEN training runs THEN the failure file says out of memory while training."""
    labels, features = make_data("binary", 50)
    write_tree(tmp_path, {"mode": "fast"}, {"train": {"a.csv": csv_bytes(labels, features)}})
    assert training.run(_ExhaustingAlgorithm(), OptMl(tmp_path)) == 1
    assert (tmp_path / "output" / "failure").read_text().startswith("out of memory while training:")


def test_the_failure_writer_keeps_one_line_within_sagemakers_limit(tmp_path: Path) -> None:
    """GIVEN a long multi-line reason, then a short one WHEN written THEN one line of at most 1024 characters,
    the second replacing the first (SageMaker shows the file's first 1024 characters as FailureReason)."""
    failure = tmp_path / "output" / "failure"
    write_failure(failure, "first line\nsecond\tline " + "x" * 2000)
    written = failure.read_text()
    assert written.startswith("first line second line x")
    assert written.endswith("\n")
    assert "\n" not in written[:-1]
    assert len(written) == FAILURE_LIMIT + 1
    write_failure(failure, "short")
    assert failure.read_text() == "short\n"


_ROWS = b"0.5,1.25,-3,4e-3\n" * 4000  # 68 000 bytes: the Arrow path (64 KiB and more)
_LINES = {
    "plain": b"1,2,3,4",
    "crlf": b"1,2,3,4\r",
    "bare cr": b"1,2\r3,4",
    "bare cr between two full records": b"1,2,3,4\r5,6,7,8",
    "blank": b"",
    "narrow": b"1,2,3",
    "wide": b"1,2,3,4,5",
    "quoted": b'"1",2,3,4',
    "word": b"1,2,x,4",
    "nan": b"nan,2,3,4",
    "inf": b"-inf,2,3,4",
    "overflow": b"1e400,2,3,4",
    "spaces": b" 1, 2 ,3,4",
    "hex float": b"0x1p3,2,3,4",
    "underscore": b"1_000,2,3,4",
    "signs and dots": b"+1,.5,1.,-0",
    "empty field": b"1,,3,4",
    "tab": b"1\t,2,3,4",
    "nul": b"1\x00,2,3,4",
    "latin-1": b"1\xe9,2,3,4",
    "bom": b"\xef\xbb\xbf1,2,3,4",
}


def _outcome(body: bytes) -> tuple[Any, ...]:
    try:
        matrix = codecs.decode(body, codecs.CSV, 4)
    except BadRequestError as error:
        return ("rejected", error.status, error.message)
    return ("decoded", matrix.shape, matrix.tobytes())


@pytest.mark.parametrize("where", ["first", "middle", "last"])
@pytest.mark.parametrize("line", list(_LINES.values()), ids=list(_LINES))
def test_large_csv_bodies_decode_as_the_exact_parser_decides(
    line: bytes, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a CSV body of 64 KiB or more with one unusual line WHEN Arrow parses it THEN the same matrix, or the
    same rejection, as the exact parser that small bodies take."""
    body = {"first": line + b"\n" + _ROWS, "middle": _ROWS + line + b"\n" + _ROWS, "last": _ROWS + line}[where]
    fast = _outcome(body)
    monkeypatch.setattr(codecs, "_ARROW_CSV_BYTES", len(body) + 1)
    assert fast == _outcome(body)


# The child only writes the shared memory and a pipe, then waits to be killed: no lock it could inherit held.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_worker_defers_to_a_live_worker_holding_fewer_connections() -> None:
    """GIVEN the connection board shared by forked workers THEN a worker holding more connections than another
    live worker defers to it, and a dead worker's slot counts for nothing (its replacement gets the slot)."""
    board = balance.ConnectionBoard(3)
    assert (board.free_slot(set()), board.free_slot({0, 2}), board.free_slot({0, 1, 2})) == (0, 1, None)
    board.claim(0)
    board.opened()
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # another worker: slot 1, no connection yet
        board.claim(1)
        os.write(write_end, b"x")
        signal.pause()
        os._exit(0)
    try:
        os.read(read_end, 1)
        assert board.open_connections() == {os.getpid(): 1, child: 0}
        assert board.should_defer()
        board.closed()
        assert not board.should_defer()  # equal counts: both may accept
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    board.opened()
    assert board.open_connections() == {os.getpid(): 1}
    assert not board.should_defer()
