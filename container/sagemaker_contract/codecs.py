"""Request bodies to feature matrices and predictions to response bodies, strictly.

One prediction per record: a CSV record ends at `\\n` (or `\\r\\n`) and nowhere else; a JSON Lines record
is one JSON value on one `\\n`-terminated line. Every rejection says what is wrong and where (row, line and
column, 1-based) and carries a second message for the log with positions and kinds only, never the
caller's values, key names or header text. Features are numbers; `nan` (CSV, .npy) and `null` (JSON)
mark a missing value, as in training; infinite values are rejected, as training rejects them.
"""

from __future__ import annotations

import functools
import io
import math
import re

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from sagemaker_contract.errors import BadRequestError
from sagemaker_contract.media import (
    CSV,
    INPUT_TYPES,
    JSON,
    JSONLINES,
    NPY,
    OUTPUT_TYPES,
    input_type,
    media_type,
    output_type,
)
from sagemaker_contract.protocol import Matrix
from sagemaker_contract.responses import decode_predictions, encode

# Serving (app.py) negotiates and encodes through this module: those names stay importable from here.
__all__ = ["CSV", "INPUT_TYPES", "JSON", "JSONLINES", "NPY", "OUTPUT_TYPES", "FeatureCountError"]
__all__ += ["decode", "decode_predictions", "encode", "input_type", "media_type", "output_type"]

_ROW_PATH = re.compile(r"\$(?:\.instances)?\[(\d+)\](?:\.features)?(?:\[(\d+)\])?")
_COLUMN_PATH = re.compile(r"\$(?:\.features)?\[(\d+)\]")
_WHITESPACE = re.compile(rb"[ \t\r\n]*")
_NPY_HEADER_LIMIT = 10_000  # numpy's own default for untrusted files
# From this size on, CSV goes through Arrow's C++ parser (no Python string per line): about 2x loadtxt's
# speed at 10 000 rows, but a fixed ~150 us set-up that loses to loadtxt below ~1 000 rows (measured).
_ARROW_CSV_BYTES = 64 * 1024
_ARROW_PARSE = pa_csv.ParseOptions(quote_char=False, ignore_empty_lines=False)
_BOM = b"\xef\xbb\xbf"


class _Features(msgspec.Struct, forbid_unknown_fields=True):
    features: list[float | None]


_Row = list[float | None] | _Features


class _Instances(msgspec.Struct, forbid_unknown_fields=True):
    instances: list[_Row]


_instances_decoder = msgspec.json.Decoder(_Instances)
_rows_decoder = msgspec.json.Decoder(list[_Row])
_row_decoder = msgspec.json.Decoder(list[float | None])
_line_decoder = msgspec.json.Decoder(_Row)
_wrapped_lines_decoder = msgspec.json.Decoder(list[tuple[_Row]])


class FeatureCountError(BadRequestError):
    """Rows of a width the model does not expect; `width` is the rows' (the monitor counts these apart)."""

    def __init__(self, width: int, message: str, *, ragged: bool) -> None:
        super().__init__(400, message, kind="client" if ragged else "model")
        self.width = width


def _check_width(widths: list[int], num_features: int, unit: str = "row") -> None:
    """A uniform width the model does not expect is the model's rejection; ragged rows are the caller's."""
    for index, width in enumerate(widths, start=1):
        if width != num_features:
            ragged = width == 0 or any(other != width for other in widths)
            message = f"{unit} {index} has {width} features; the model expects {num_features}"
            raise FeatureCountError(width, message, ragged=ragged)


def _check_finite(matrix: Matrix, unit: str = "row") -> None:
    # A finite sum proves every value finite at a third of isinf's cost; nan (missing) or overflow looks closer.
    if math.isfinite(np.add.reduce(matrix, axis=None)) or not np.isinf(matrix).any():
        return
    row, column = (int(v) for v in np.argwhere(np.isinf(matrix))[0])
    where = f"{unit} {row + 1}, column {column + 1}"
    raise BadRequestError(
        400,
        f"{where} is {matrix[row, column]}: features must be finite numbers (nan or null = missing)",
        f"{where}: not finite",
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return "_" not in text  # Python accepts 1_000; the fast parser (and training) do not


def _csv_problem(lines: list[str], num_features: int) -> BadRequestError:
    """Exact diagnosis of a CSV body the fast parser refused (error path only)."""
    widths = [line.count(",") + 1 for line in lines]
    for row, line in enumerate(lines, start=1):
        if not line.strip():
            return BadRequestError(400, f"row {row} is empty")
    try:
        _check_width(widths, num_features)
    except BadRequestError as error:
        return error
    for row, line in enumerate(lines, start=1):
        for column, text in enumerate(line.split(","), start=1):
            if not _is_number(text):
                where = f"row {row}, column {column}"
                return BadRequestError(400, f"{where}: {text.strip()[:40]!r} is not a number", f"{where}: not a number")
    return BadRequestError(400, "the body is not CSV of numbers")


def _lines(text: str) -> list[str]:
    """Records end at \\n or \\r\\n only (not at the other breaks str.splitlines() knows); trailing blanks dropped."""
    lines = text.split("\n")
    if "\r" in text:
        lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


@functools.lru_cache(maxsize=4)  # one width per model: its number of features
def _arrow_options(columns: int) -> tuple[pa_csv.ReadOptions, pa_csv.ConvertOptions]:
    names = [str(i) for i in range(columns)]
    return pa_csv.ReadOptions(column_names=names, use_threads=False), pa_csv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.float64()),
        null_values=[],
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )


def _arrow_csv(body: bytes, num_features: int) -> Matrix | None:
    """The body parsed by Arrow, or None where Arrow's rules are looser than the records' (the exact path decides).

    Arrow also ends a record at a lone \\r and skips a byte-order mark; those bodies take the exact path, as
    does any body Arrow refuses (quotes, blank lines, ragged rows, non-numbers), so the errors stay the same.
    """
    # `in` finds no \r at memchr speed; counting both (a tenth of Arrow's parse time) only when there is one.
    if body.startswith(_BOM) or (b"\r" in body and body.count(b"\r") != body.count(b"\r\n")):
        return None
    if body.count(b",", 0, body.find(b"\n")) + 1 != num_features:
        return None  # a width the exact path reports
    read_options, convert_options = _arrow_options(num_features)
    try:
        table = pa_csv.read_csv(
            pa.BufferReader(body),
            read_options=read_options,
            parse_options=_ARROW_PARSE,
            convert_options=convert_options,
            memory_pool=pa.system_memory_pool(),  # malloc: freed buffers go back, no allocator cache per worker
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    records = body.count(b"\n") + (0 if body.endswith(b"\n") else 1)
    if table.num_rows != records:
        return None  # trailing blank lines, dropped by the exact path
    matrix: Matrix = np.empty((table.num_rows, num_features), dtype=np.float64)
    for index in range(num_features):
        matrix[:, index] = table.column(index).to_numpy()
    return matrix


def _decode_csv(body: bytes, num_features: int) -> Matrix:
    fast = _arrow_csv(body, num_features) if len(body) >= _ARROW_CSV_BYTES else None
    if fast is not None:
        _check_finite(fast)
        return fast
    try:
        lines = _lines(body.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise BadRequestError(400, f"the body is not UTF-8 text (byte {error.start})") from None
    try:
        matrix: Matrix = np.loadtxt(lines, delimiter=",", dtype=np.float64, ndmin=2, comments=None)
    except ValueError:
        raise _csv_problem(lines, num_features) from None
    if matrix.shape[0] != len(lines):  # loadtxt skips blank lines, which would shift rows against outputs
        raise _csv_problem(lines, num_features)
    _check_width([matrix.shape[1]], num_features)
    _check_finite(matrix)
    return matrix


def _schema_problem(
    error: msgspec.ValidationError, what: str, unit: str = "row", line: int | None = None
) -> BadRequestError:
    """The caller sees msgspec's reason (it may name their keys); the log sees the position only.

    `line` is set when the value decoded was one row (a JSON Lines line, a bare one-row array): msgspec's
    path then points at a column of that row.
    """
    message = str(error)
    reason = message.split(" - at ", 1)[0].replace("`float | null`", "a number or null")
    if line is not None:
        found = _COLUMN_PATH.search(message)
        where = f"{unit} {line}" + (f", column {int(found.group(1)) + 1}" if found else "")
    else:
        found = _ROW_PATH.search(message)
        if found is None:
            return BadRequestError(400, f"{reason}; {what}", "the body does not match the expected shape")
        numbers = [int(n) for n in found.groups() if n is not None]
        where = f"{unit} {numbers[0] + 1}" + (f", column {numbers[1] + 1}" if len(numbers) > 1 else "")
    if "out of range" in reason:
        return BadRequestError(400, f"{where}: {reason}: features must be finite numbers", f"{where}: not finite")
    return BadRequestError(400, f"{where}: {reason}; {what}", f"{where}: does not match the expected shape")


_JSON_SHAPES = 'send [[number, ...], ...] (rows), [number, ...] (one row) or {"instances": [[number, ...], ...]}'


def _rows_matrix(rows: list[list[float | None] | _Features], num_features: int, unit: str = "row") -> Matrix:
    values = [row.features if isinstance(row, _Features) else row for row in rows]
    _check_width([len(row) for row in values], num_features, unit)
    matrix = np.array(values, dtype=np.float64)
    return matrix.reshape(len(values), num_features)


def _skip_whitespace(body: bytes, position: int) -> int:
    found = _WHITESPACE.match(body, position)
    return found.end() if found else position


def _decode_json(body: bytes, num_features: int) -> Matrix:
    # The first two characters choose the schema (no copy of the body to find them).
    first = _skip_whitespace(body, 0)
    second = _skip_whitespace(body, first + 1)
    start = body[first : first + 1]
    one_row = start == b"[" and body[second : second + 1] not in (b"[", b"{")
    try:
        if start == b"{":
            rows = _instances_decoder.decode(body).instances
        elif one_row:
            rows = [_row_decoder.decode(body)]
        elif start == b"[":
            rows = _rows_decoder.decode(body)
        else:
            raise BadRequestError(400, f"the body is not a JSON array or object; {_JSON_SHAPES}", "not JSON rows")
    except msgspec.ValidationError as error:
        raise _schema_problem(error, _JSON_SHAPES, line=1 if one_row else None) from None
    except msgspec.DecodeError as error:
        raise BadRequestError(400, f"malformed JSON: {error}", "malformed JSON") from None
    if not rows or (one_row and not rows[0]):
        raise BadRequestError(400, f"no rows: {_JSON_SHAPES}")
    matrix = _rows_matrix(rows, num_features)
    _check_finite(matrix)
    return matrix


def _jsonlines_problem(lines: list[bytes]) -> BadRequestError:
    """Which line is not exactly one JSON row (error path only)."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            return BadRequestError(400, f"line {number} is empty: every line holds one record")
        try:
            _line_decoder.decode(line)
        except msgspec.ValidationError as error:
            return _schema_problem(
                error, 'each line must be [number, ...] or {"features": [number, ...]}', "line", number
            )
        except msgspec.DecodeError as error:
            detail = (
                "holds more than one JSON value"
                if "trailing characters" in str(error)
                else f"is not one complete JSON value ({error}); a record may not span lines"
            )
            return BadRequestError(400, f"line {number} {detail}", f"line {number}: malformed JSON")
    return BadRequestError(400, "malformed JSON Lines", "malformed JSON Lines")


def _decode_jsonlines(body: bytes, num_features: int) -> Matrix:
    lines = body.split(b"\n")
    while lines and not lines[-1].strip():
        lines.pop()
    try:
        # One decode of all lines as a JSON array: a C loop instead of one Python call per line. Each line is
        # wrapped in its own one-item array, so a line that holds two values or part of one breaks the array
        # or its shape even when the two cancel out in the count (`[1,2],[3` then `4]`): re-check then.
        wrapped = _wrapped_lines_decoder.decode(b"[[" + b"],[".join(lines) + b"]]")
    except (msgspec.ValidationError, msgspec.DecodeError):
        raise _jsonlines_problem(lines) from None
    if len(wrapped) != len(lines):  # an empty line cannot pass: it leaves "[]" in the array
        raise _jsonlines_problem(lines)
    items = [item for (item,) in wrapped]
    matrix = _rows_matrix(items, num_features, "line")
    _check_finite(matrix, "line")
    return matrix


def _npy_header(body: bytes) -> tuple[tuple[int, ...], bool, np.dtype[np.generic], int]:
    stream = io.BytesIO(body)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream, _NPY_HEADER_LIMIT)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream, _NPY_HEADER_LIMIT)
        else:
            raise ValueError(f"format version {version} is not supported; use version 1.0 or 2.0")
    except Exception as error:  # numpy parses the caller's header: every failure there is the caller's
        raise BadRequestError(400, f"the body is not a .npy array: {error}", "not a .npy array") from None
    return shape, fortran_order, dtype, stream.tell()


def _decode_npy(body: bytes, num_features: int) -> Matrix:
    # The header is checked against the body before anything is allocated: a declared shape the body does not
    # hold (10**12 rows) is the caller's mistake, not a MemoryError.
    shape, fortran_order, dtype, offset = _npy_header(body)
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in "biuf":
        raise BadRequestError(400, f"the .npy array must hold numbers, not {dtype}", "the .npy array is not numbers")
    if len(shape) not in (1, 2) or math.prod(shape) == 0:
        raise BadRequestError(
            400,
            f"the .npy array must be 1-D (one row) or 2-D (rows x features) with at least one value, got shape {shape}",
            f".npy shape has {len(shape)} dimensions or no values",
        )
    count = math.prod(shape)
    if count * dtype.itemsize != len(body) - offset:
        raise BadRequestError(
            400,
            f"the .npy header declares shape {shape} of {dtype} ({count * dtype.itemsize} bytes of data), "
            f"but the body holds {len(body) - offset} bytes after the header",
            ".npy data size does not match its header",
        )
    flat = np.frombuffer(body, dtype=dtype, count=count, offset=offset)
    array = flat.reshape(shape, order="F" if fortran_order else "C").reshape(
        -1, shape[-1] if len(shape) == 2 else shape[0]
    )
    _check_width([array.shape[1]], num_features)
    matrix: Matrix = np.ascontiguousarray(array, dtype=np.float64)
    _check_finite(matrix)
    return matrix


_DECODERS = {CSV: _decode_csv, JSON: _decode_json, JSONLINES: _decode_jsonlines, NPY: _decode_npy}


def decode(body: bytes, kind: str, num_features: int) -> Matrix:
    """Rows x features float64 from a request body of type `kind` (one of INPUT_TYPES)."""
    if not body.strip():
        raise BadRequestError(400, "the body is empty: send at least one row of features")
    try:
        return _DECODERS[kind](body, num_features)
    except MemoryError:
        # Within the payload limit, but more values than this instance can hold at once.
        raise BadRequestError(
            413, "the body holds more values than the server can decode at once; send fewer rows per request"
        ) from None
