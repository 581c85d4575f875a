"""Reading a window of SageMaker data-capture files: each captured request decoded as serving decodes it.

A capture line is `{"captureData": {"endpointInput": {...}, "endpointOutput": {...}}, ...}`; each part holds
the body (`data`, with `encoding` CSV, JSON or BASE64) and the `observedContentType` the client sent. The
request goes through serving's own negotiation and decoder (`media.input_type`, `codecs.decode`), so a body
the endpoint answered is a body the monitor reads, and one serving rejects is counted as corrupt; the
response goes through the inverse of serving's encoder (`responses.decode_predictions`).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from sagemaker_contract import baseline as baselines
from sagemaker_contract import codecs
from sagemaker_contract.errors import BadRequestError
from sagemaker_contract.protocol import Matrix

PROBLEMS_KEPT = 20
BATCH_ROWS = 65_536


class RecordError(Exception):
    """A captured line the monitor cannot use; the message names the problem, never payload values."""


class MismatchError(RecordError):
    """A readable request whose rows are of another width than the baseline's."""

    def __init__(self, width: int, expected: int) -> None:
        super().__init__(f"{width} features, the baseline has {expected}")
        self.width = width


def _payload(part: Any, what: str) -> tuple[str, bytes]:
    """(Content-Type as observed, bytes) of captureData.endpointInput or endpointOutput."""
    if not isinstance(part, dict) or "data" not in part:
        raise RecordError(f"captureData.{what} has no data")
    data, encoding = part["data"], str(part.get("encoding", "")).upper()
    if not isinstance(data, str):
        raise RecordError(f"captureData.{what}.data is not a string")
    content_type = str(part.get("observedContentType") or "")
    if encoding == "BASE64":
        try:
            return content_type, base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise RecordError(f"captureData.{what}.data is not valid base64") from None
    if encoding in {"CSV", "JSON"}:
        return content_type, data.encode()
    raise RecordError(f"captureData.{what}.encoding {encoding or 'missing'!r} is not CSV, JSON or BASE64")


def decode_features(content_type: str, body: bytes, num_features: int) -> Matrix:
    """Rows x features of a captured request, as serving decodes it; NaN marks a missing value.

    `MismatchError` for rows of one other width (another model's traffic), `RecordError` for anything else
    serving would refuse, with serving's log message (positions and kinds, never payload values).
    """
    try:
        return codecs.decode(body, codecs.input_type(content_type), num_features)
    except codecs.FeatureCountError as error:
        if error.kind == "model":
            raise MismatchError(error.width, num_features) from None
        raise RecordError(error.log_message) from None
    except BadRequestError as error:
        raise RecordError(error.log_message) from None


def decode_predictions(content_type: str, body: bytes) -> Matrix:
    """Rows x outputs of a captured response; `RecordError` when serving could not have written it."""
    try:
        return codecs.decode_predictions(body, codecs.media_type(content_type))
    except (ValueError, TypeError, OSError, EOFError):
        raise RecordError("response is not predictions serving writes") from None


def parse_record(line: bytes, num_features: int) -> tuple[Matrix, Matrix | None]:
    """(features, predictions or None) of one data-capture line; `RecordError` when it is unusable.

    The predictions are as the response held them: whether they pair with the rows is the caller's to check.
    """
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise RecordError("line is not JSON") from None
    capture = record.get("captureData") if isinstance(record, dict) else None
    if not isinstance(capture, dict) or "endpointInput" not in capture:
        raise RecordError("line is not a data-capture record (no captureData.endpointInput)")
    features = decode_features(*_payload(capture["endpointInput"], "endpointInput"), num_features)
    predictions = None
    if "endpointOutput" in capture:
        try:
            predictions = decode_predictions(*_payload(capture["endpointOutput"], "endpointOutput"))
        except RecordError:
            predictions = None  # e.g. an error answer: the request still tells about the inputs
    return features, predictions


class Tally:
    """Per-column counts of a window's values against baseline columns, added batch by batch.

    Memory stays proportional to the columns, not to the window: rows are buffered up to BATCH_ROWS, then
    counted (missing, outside the baseline's range, per baseline bin) and dropped.
    """

    def __init__(self, columns: tuple[baselines.Column, ...]) -> None:
        self.columns = columns
        self.rows = 0
        self.missing = np.zeros(len(columns), dtype=np.int64)
        self.outside = np.zeros(len(columns), dtype=np.int64)
        self.counts = [np.zeros(len(c.counts) or 1, dtype=np.int64) for c in columns]
        self._pending: list[Matrix] = []
        self._pending_rows = 0

    def add(self, matrix: Matrix) -> None:
        self._pending.append(matrix)
        self._pending_rows += int(matrix.shape[0])
        if self._pending_rows >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        batch = np.concatenate(self._pending)
        self._pending, self._pending_rows = [], 0
        self.rows += int(batch.shape[0])
        for j, column in enumerate(self.columns):
            values = batch[:, j]
            present = values[~np.isnan(values)]
            self.missing[j] += values.size - present.size
            if column.minimum is None or column.maximum is None:  # every baseline value was missing
                self.outside[j] += present.size
            else:
                self.outside[j] += np.count_nonzero((present < column.minimum) | (present > column.maximum))
            bins = np.searchsorted(np.asarray(column.edges), present, side="left")
            self.counts[j] += np.bincount(bins, minlength=self.counts[j].size)[: self.counts[j].size]


@dataclass
class Window:
    """What the capture files of one window held."""

    features: Tally
    predictions: Tally
    files: int = 0
    lines: int = 0
    corrupt: int = 0
    mismatched: int = 0
    # Responses whose predictions do not pair with their request's rows: the request counts, its predictions not.
    unmatched_predictions: int = 0
    widths: dict[int, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def note(self, problem: str) -> None:
        if len(self.problems) < PROBLEMS_KEPT:
            self.problems.append(problem)

    @property
    def valid(self) -> int:
        return self.lines - self.corrupt - self.mismatched


def _capture_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(
        p
        for p in directory.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )


def read_window(directory: Path, baseline: baselines.Baseline) -> Window:
    window = Window(Tally(baseline.features), Tally(baseline.predictions))
    num_features, num_outputs = baseline.num_features, len(baseline.predictions)
    for path in _capture_files(directory):
        window.files += 1
        with path.open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                window.lines += 1
                where = f"{path.relative_to(directory)}:{number}"
                try:
                    features, predictions = parse_record(line, num_features)
                except MismatchError as error:
                    window.mismatched += 1
                    window.widths[error.width] = window.widths.get(error.width, 0) + 1
                    window.note(f"{where}: {error}")
                    continue
                except RecordError as error:
                    window.corrupt += 1
                    window.note(f"{where}: {error}")
                    continue
                window.features.add(features)
                if predictions is None:
                    continue
                if predictions.shape != (features.shape[0], num_outputs):
                    window.unmatched_predictions += 1
                    window.note(
                        f"{where}: response of {predictions.shape[0]} x {predictions.shape[1]} predictions for "
                        f"{features.shape[0]} rows; the baseline has {num_outputs} output(s) per row"
                    )
                    continue
                window.predictions.add(predictions)
    window.features.flush()
    window.predictions.flush()
    return window
