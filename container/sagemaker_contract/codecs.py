"""Request bodies to feature matrices and predictions to response bodies, strictly.

Every rejection says what is wrong and where (row and column, 1-based) and carries a second message
for the log without the offending values.
"""

from __future__ import annotations

import io
import re

import msgspec
import numpy as np
import orjson

from sagemaker_contract.errors import BadRequestError
from sagemaker_contract.protocol import Matrix

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
NPY = "application/x-npy"
INPUT_TYPES = (CSV, JSON, JSONLINES, NPY)
OUTPUT_TYPES = (CSV, JSON, JSONLINES)
_ALIASES = {"application/x-jsonlines": JSONLINES, "application/jsonl": JSONLINES, "text/x-csv": CSV}
_WILDCARDS = {"*/*": None, "text/*": CSV, "application/*": JSON}
_ROW_PATH = re.compile(r"\$\[(\d+)\](?:\.features)?(?:\[(\d+)\])?|\$\.instances\[(\d+)\](?:\[(\d+)\])?")


class _Instances(msgspec.Struct, forbid_unknown_fields=True):
    instances: list[list[float | None]]


class _Features(msgspec.Struct, forbid_unknown_fields=True):
    features: list[float | None]


_json_decoder = msgspec.json.Decoder(_Instances)
_jsonlines_decoder = msgspec.json.Decoder(list[list[float | None] | _Features])
_NUMPY = orjson.OPT_SERIALIZE_NUMPY


def media_type(header: str) -> str:
    """`text/csv; charset=utf-8` -> `text/csv` (aliases normalized)."""
    kind = header.split(";", 1)[0].strip().lower()
    return _ALIASES.get(kind, kind)


def input_type(content_type: str | None) -> str:
    kind = media_type(content_type or "")
    if kind not in INPUT_TYPES:
        shown = repr(content_type) if content_type else "none"
        raise BadRequestError(415, f"Content-Type {shown} is not supported; send one of {', '.join(INPUT_TYPES)}")
    return kind


def output_type(accept: str | None, request_type: str) -> str:
    """The first type of `accept` we can produce; no Accept or */* answers in the request's format (CSV for npy)."""
    default = request_type if request_type in OUTPUT_TYPES else CSV
    if not accept:
        return default
    for item in accept.split(","):
        kind = media_type(item)
        if kind in OUTPUT_TYPES:
            return kind
        if kind in _WILDCARDS:
            return _WILDCARDS[kind] or default
    raise BadRequestError(406, f"Accept {accept!r} is not supported; accept one of {', '.join(OUTPUT_TYPES)}")


def _check_width(widths: list[int], num_features: int) -> None:
    for row, width in enumerate(widths, start=1):
        if width != num_features:
            raise BadRequestError(400, f"row {row} has {width} features; the model expects {num_features}")


def _csv_problem(lines: list[str], num_features: int) -> BadRequestError:
    """Exact diagnosis of a CSV body the fast parser refused (error path only)."""
    for row, line in enumerate(lines, start=1):
        if not line.strip():
            return BadRequestError(400, f"row {row} is empty")
        fields = line.split(",")
        if len(fields) != num_features:
            return BadRequestError(400, f"row {row} has {len(fields)} features; the model expects {num_features}")
        for column, text in enumerate(fields, start=1):
            try:
                float(text)
            except ValueError:
                where = f"row {row}, column {column}"
                return BadRequestError(400, f"{where}: {text.strip()[:40]!r} is not a number", f"{where}: not a number")
    return BadRequestError(400, "the body is not CSV of numbers")


def _decode_csv(body: bytes, num_features: int) -> Matrix:
    try:
        lines = body.decode("utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise BadRequestError(400, f"the body is not UTF-8 text (byte {error.start})") from None
    while lines and not lines[-1].strip():
        lines.pop()
    try:
        matrix: Matrix = np.loadtxt(lines, delimiter=",", dtype=np.float64, ndmin=2, comments=None)
    except ValueError:
        raise _csv_problem(lines, num_features) from None
    if matrix.shape[0] != len(lines):  # loadtxt skips blank lines, which would shift rows against outputs
        raise _csv_problem(lines, num_features)
    _check_width([matrix.shape[1]], num_features)
    return matrix


def _json_problem(error: msgspec.ValidationError, what: str) -> BadRequestError:
    message = str(error)
    found = _ROW_PATH.search(message)
    if found is None:
        return BadRequestError(400, f"{what}: {message}")
    numbers = [int(n) for n in found.groups() if n is not None]
    where = f"row {numbers[0] + 1}" + (f", column {numbers[1] + 1}" if len(numbers) > 1 else "")
    reason = message.split(" - at ", 1)[0].replace("`float | null`", "a number or null")
    return BadRequestError(400, f"{where}: {reason}")


def _decode_json(body: bytes, num_features: int) -> Matrix:
    try:
        rows = _json_decoder.decode(body).instances
    except msgspec.ValidationError as error:
        raise _json_problem(error, 'expected {"instances": [[number, ...], ...]}') from None
    except msgspec.DecodeError as error:
        raise BadRequestError(400, f"malformed JSON: {error}") from None
    if not rows:
        raise BadRequestError(400, '"instances" is empty: send at least one row')
    _check_width([len(row) for row in rows], num_features)
    return np.array(rows, dtype=np.float64)


def _decode_jsonlines(body: bytes, num_features: int) -> Matrix:
    lines = body.rstrip().splitlines()
    for row, line in enumerate(lines, start=1):
        if not line.strip():
            raise BadRequestError(400, f"row {row} is empty")
    try:
        # One decode of all lines as a JSON array: a C loop instead of one Python call per row.
        items = _jsonlines_decoder.decode(b"[" + b",".join(lines) + b"]")
    except msgspec.ValidationError as error:
        raise _json_problem(error, 'each line must be [number, ...] or {"features": [number, ...]}') from None
    except msgspec.DecodeError:
        for row, line in enumerate(lines, start=1):
            try:
                msgspec.json.decode(line)
            except msgspec.DecodeError as error:
                raise BadRequestError(400, f"row {row}: malformed JSON: {error}") from None
        raise BadRequestError(400, "malformed JSON Lines") from None
    rows = [item.features if isinstance(item, _Features) else item for item in items]
    _check_width([len(row) for row in rows], num_features)
    return np.array(rows, dtype=np.float64)


def _decode_npy(body: bytes, num_features: int) -> Matrix:
    try:
        array = np.load(io.BytesIO(body), allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise BadRequestError(400, f"the body is not a .npy array: {error}") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
        raise BadRequestError(400, f"the .npy array must hold numbers, not {getattr(array, 'dtype', type(array))}")
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.shape[0] == 0:
        raise BadRequestError(
            400, f"the .npy array must be 1-D (one row) or 2-D (rows x features), got shape {array.shape}"
        )
    _check_width([array.shape[1]], num_features)
    return np.ascontiguousarray(array, dtype=np.float64)


_DECODERS = {CSV: _decode_csv, JSON: _decode_json, JSONLINES: _decode_jsonlines, NPY: _decode_npy}


def decode(body: bytes, kind: str, num_features: int) -> Matrix:
    """Rows x features float64 from a request body of type `kind` (one of INPUT_TYPES)."""
    if not body.strip():
        raise BadRequestError(400, "the body is empty: send at least one row of features")
    return _DECODERS[kind](body, num_features)


def encode(predictions: Matrix, kind: str) -> bytes:
    """One output per row: a number (regression, binary) or a list of class probabilities (multiclass).

    orjson writes the float64 array straight from NumPy (shortest round-trip form, twice as fast as going
    through Python lists); CSV and JSON Lines are cut from that JSON text, which holds numbers only.
    """
    array = np.ascontiguousarray(predictions, dtype=np.float64)
    if kind == JSON:
        return b'{"predictions":' + orjson.dumps(array, option=_NUMPY) + b"}"
    text = orjson.dumps(array, option=_NUMPY)
    if kind == JSONLINES:
        if array.ndim == 1:
            return b'{"prediction":' + text[1:-1].replace(b",", b'}\n{"prediction":') + b"}\n"
        return b'{"prediction":[' + text[2:-2].replace(b"],[", b']}\n{"prediction":[') + b"]}\n"
    if array.ndim == 1:
        return text[1:-1].replace(b",", b"\n") + b"\n"
    return text[2:-2].replace(b"],[", b"\n") + b"\n"
