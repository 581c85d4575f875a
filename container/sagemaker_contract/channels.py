"""Reading the job's configuration files and its data channels into `Dataset`s, strictly.

CSV: no header, label in the first column, numbers only (`nan` marks a missing feature value).
Parquet: numeric columns, label first. Every file of a channel must have the same columns.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from sagemaker_contract.errors import UserError
from sagemaker_contract.protocol import Dataset

CSV_TYPES = frozenset({"text/csv", "csv", "text/x-csv"})
PARQUET_TYPES = frozenset({"application/x-parquet", "application/parquet", "parquet"})
SUPPORTED_MODES = frozenset({"File", "FastFile"})


@dataclass(frozen=True)
class ChannelConfig:
    name: str
    content_type: str
    input_mode: str
    # S3DataDistributionType: FullyReplicated (every host gets every file) or ShardedByS3Key (each host a share)
    distribution: str = "FullyReplicated"


@dataclass(frozen=True)
class Resources:
    current_host: str
    hosts: tuple[str, ...]
    network_interface_name: str = "eth0"

    @property
    def rank(self) -> int:
        """This host's position in `hosts`; the first host (rank 0) writes the model."""
        return self.hosts.index(self.current_host)


_ABSENT = object()


def _read_json(path: Path) -> Any:
    """The file's JSON, or `_ABSENT` when there is no file; any other failure to read it is the `OSError`."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return _ABSENT
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path.name} is not valid JSON: {error}") from None


def read_resources(path: Path) -> Resources:
    """resourceconfig.json; absent (a local run) means one host."""
    loaded = _read_json(path)
    if loaded is _ABSENT:
        return Resources("algo-1", ("algo-1",))
    hosts = loaded.get("hosts") if isinstance(loaded, dict) else None
    if not isinstance(hosts, list) or not hosts:
        raise UserError(f"{path.name} has no 'hosts' list")
    names = tuple(str(h) for h in hosts)
    current = str(loaded.get("current_host", names[0]))
    if current not in names:
        raise UserError(f"{path.name}: current_host {current!r} is not one of the hosts ({', '.join(names)})")
    if len(set(names)) != len(names):
        raise UserError(f"{path.name}: the hosts list names a host twice ({', '.join(names)})")
    return Resources(current, names, str(loaded.get("network_interface_name") or "eth0"))


def read_channel_configs(path: Path, data_dir: Path) -> dict[str, ChannelConfig]:
    """inputdataconfig.json by channel; absent (a local run) means every folder under data/, as CSV, File mode."""
    loaded = _read_json(path)
    if loaded is _ABSENT:
        found = sorted(p.name for p in data_dir.iterdir() if p.is_dir()) if data_dir.is_dir() else []
        return {name: ChannelConfig(name, "text/csv", "File") for name in found}
    if not isinstance(loaded, dict):
        raise UserError(f"{path.name} must hold a JSON object of channels")
    configs = {}
    for name, given in loaded.items():
        settings = given if isinstance(given, dict) else {}
        content_type = str(settings.get("ContentType") or "text/csv").split(";")[0].strip().lower()
        mode = str(settings.get("TrainingInputMode") or "File")
        distribution = str(settings.get("S3DistributionType") or "FullyReplicated")
        configs[name] = ChannelConfig(name, content_type, mode, distribution)
    return configs


def check_channels(configs: dict[str, ChannelConfig], required: set[str], optional: set[str]) -> None:
    missing = sorted(required - set(configs))
    if missing:
        present = ", ".join(sorted(configs)) or "none"
        raise UserError(f"required channel(s) {', '.join(missing)} missing (channels given: {present})")
    unknown = sorted(set(configs) - required - optional)
    if unknown:
        known = ", ".join(sorted(required | optional))
        raise UserError(f"unknown channel(s) {', '.join(unknown)}; this algorithm reads: {known}")
    for config in configs.values():
        if config.input_mode == "Pipe":
            raise UserError(f"channel {config.name}: Pipe input mode is not supported; use File or FastFile input mode")
        if config.input_mode not in SUPPORTED_MODES:
            raise UserError(f"channel {config.name}: unknown TrainingInputMode {config.input_mode!r}")
        if config.content_type not in CSV_TYPES | PARQUET_TYPES:
            raise UserError(
                f"channel {config.name}: ContentType {config.content_type!r} is not supported; "
                "use text/csv or application/x-parquet"
            )


def _files(directory: Path) -> list[Path]:
    """Every data file under the channel folder (S3 prefixes keep their sub-folders), hidden files skipped.

    A symbolic link that leads nowhere (broken, or a loop) raises the `OSError` naming it: skipping it would
    train on part of the data without a word.
    """
    found = []
    for path in directory.rglob("*"):
        if any(part.startswith(".") for part in path.relative_to(directory).parts):
            continue
        if path.is_symlink():
            path.stat()
        if path.is_file():
            found.append(path)
    return sorted(found)


def _csv_problem(path: Path, channel: str, expected_columns: int) -> str:
    """The first bad line of a CSV file, found by a slow exact scan (only on the error path)."""
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        for line_number, row in enumerate(csv.reader(handle), start=1):
            where = f"channel {channel}, file {path.name}, line {line_number}"
            if not row:
                return f"{where} is empty"
            if len(row) != expected_columns:
                return f"{where} has {len(row)} columns, expected {expected_columns} (label + features) like line 1"
            for column, text in enumerate(row, start=1):
                try:
                    float(text)
                except ValueError:
                    return f"{where}, column {column}: {text[:40]!r} is not a number"
    return f"channel {channel}, file {path.name} could not be parsed as CSV"


# The training matrix has the algorithm's `feature_dtype` (float32 halves the memory of float64). CSV is parsed
# in blocks of this size straight into it, so the file's text and a float64 copy of the whole matrix are never
# held at once (peak memory about the matrix itself).
FEATURE_DTYPES = ("float32", "float64")
_CSV_BLOCK_BYTES = 4 * 1024 * 1024
Block = tuple[np.ndarray[Any, np.dtype[np.float64]], np.ndarray[Any, Any]]


def _count_lines(path: Path) -> int:
    """Records in the file at most (every record but the last ends at a newline); one C pass, no parsing."""
    count, last = 0, b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(_CSV_BLOCK_BYTES):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def _to_features(
    values: np.ndarray[Any, np.dtype[np.float64]], channel: str, path: Path, first_row: int, column: int, *, dtype: str
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """`values` checked to fit `dtype` (beyond float32's +-3.4e38 a finite number would become infinite)."""
    largest = float(np.finfo(dtype).max)
    too_large = np.flatnonzero(np.isfinite(values) & (np.abs(values) > largest))
    if too_large.size:
        raise UserError(
            f"channel {channel}, file {path.name}, row {first_row + int(too_large[0]) + 1}, feature {column}: "
            f"{values[too_large[0]]:g} is beyond +-{largest:.4g}, the largest magnitude training handles"
        )
    return values


def _read_csv(path: Path, channel: str, dtype: str) -> Block:
    with path.open("rb") as handle:
        first = handle.readline()
    if not first.strip():
        if path.stat().st_size == 0:
            return np.empty(0), np.empty((0, 0), dtype=dtype)
        raise UserError(f"channel {channel}, file {path.name}, line 1 is empty")
    try:
        columns = len(next(csv.reader([first.decode("utf-8", errors="replace")])))
    except csv.Error as error:  # a bare \r inside the line: the caller's data, not an internal error
        raise UserError(f"channel {channel}, file {path.name}, line 1: {error}") from None
    names = [f"c{i}" for i in range(columns)]
    capacity = _count_lines(path)
    labels = np.empty(capacity)
    features = np.empty((capacity, max(columns - 1, 0)), dtype=dtype)
    rows = 0
    try:
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(column_names=names, block_size=_CSV_BLOCK_BYTES),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.float64()), null_values=[], strings_can_be_null=False
            ),
        )
        for batch in reader:
            stop = rows + batch.num_rows
            labels[rows:stop] = batch.column(0).to_numpy()
            for index in range(1, columns):
                values = batch.column(index).to_numpy()
                features[rows:stop, index - 1] = _to_features(values, channel, path, rows, index, dtype=dtype)
            rows = stop
    except (pa.ArrowInvalid, UnicodeDecodeError):
        raise UserError(_csv_problem(path, channel, columns)) from None
    # Blank lines (skipped) leave unused rows at the end: a view of the rows read, no copy.
    return labels[:rows], features[:rows]


def _read_parquet(path: Path, channel: str, dtype: str) -> Block:
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise UserError(f"channel {channel}, file {path.name} is not a readable Parquet file: {error}") from None
    for name, kind in zip(table.column_names, table.schema.types, strict=True):
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)):
            raise UserError(f"channel {channel}, file {path.name}: column {name!r} is {kind}, not numeric")
    if table.num_columns == 0:
        return np.empty(0), np.empty((0, 0), dtype=dtype)
    labels = table.column(0).cast(pa.float64()).to_numpy(zero_copy_only=False)
    features = np.empty((table.num_rows, table.num_columns - 1), dtype=dtype)
    for index in range(1, table.num_columns):
        values = table.column(index).cast(pa.float64()).to_numpy(zero_copy_only=False)
        features[:, index - 1] = _to_features(values, channel, path, 0, index, dtype=dtype)
    return labels, features


def read_channel(directory: Path, config: ChannelConfig, dtype: str = "float64") -> Dataset:
    """All files of a channel as one Dataset (label = first column, features of `dtype`); `UserError` on anything
    malformed."""
    if dtype not in FEATURE_DTYPES:
        raise ValueError(f"feature_dtype must be one of {', '.join(FEATURE_DTYPES)}, got {dtype!r}")
    name = config.name
    if not directory.is_dir():
        raise UserError(f"channel {name}: no data folder at {directory}")
    files = _files(directory)
    if not files:
        raise UserError(f"channel {name} has no files in {directory}")
    reader = _read_parquet if config.content_type in PARQUET_TYPES else _read_csv
    blocks: list[tuple[Path, Block]] = []
    for path in files:
        block_labels, block_features = block = reader(path, name, dtype)
        if block_labels.shape[0] == 0:
            continue
        width = block_features.shape[1] + 1
        if width < 2:
            raise UserError(f"channel {name}, file {path.name} has {width} column(s); need label + features")
        first_width = blocks[0][1][1].shape[1] + 1 if blocks else width
        if width != first_width:
            raise UserError(
                f"channel {name}: file {path.name} has {width} columns but "
                f"{blocks[0][0].name} has {first_width}; every file needs the same columns"
            )
        blocks.append((path, block))
    if not blocks:
        raise UserError(f"channel {name} has no rows: its {len(files)} file(s) are empty")
    if len(blocks) > 1:
        labels = np.concatenate([block[0] for _, block in blocks])
        features = np.concatenate([block[1] for _, block in blocks])
    else:
        labels, features = blocks[0][1]
    bad = np.flatnonzero(~np.isfinite(labels))
    if bad.size:
        raise UserError(
            f"channel {name}: row {int(bad[0]) + 1} has a missing or infinite label; labels must be numbers"
        )
    infinite = np.flatnonzero(np.isinf(features).any(axis=1))
    if infinite.size:
        row = int(infinite[0])
        column = int(np.flatnonzero(np.isinf(features[row]))[0])
        raise UserError(f"channel {name}: row {row + 1}, feature {column + 1} is infinite")
    return Dataset(channel=name, labels=labels, features=features)


def describe_size(value: float) -> str:
    """Bytes as a short human-readable size."""
    exponent = min(int(math.log(max(value, 1), 1024)), 4)
    return f"{value / 1024**exponent:.1f} {['B', 'KiB', 'MiB', 'GiB', 'TiB'][exponent]}"
