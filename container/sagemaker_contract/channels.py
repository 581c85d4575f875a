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


def _read_csv(path: Path, channel: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    with path.open("rb") as handle:
        first = handle.readline()
    if not first.strip():
        if path.stat().st_size == 0:
            return np.empty((0, 0))
        raise UserError(f"channel {channel}, file {path.name}, line 1 is empty")
    try:
        columns = len(next(csv.reader([first.decode("utf-8", errors="replace")])))
    except csv.Error as error:  # a bare \r inside the line: the caller's data, not an internal error
        raise UserError(f"channel {channel}, file {path.name}, line 1: {error}") from None
    names = [f"c{i}" for i in range(columns)]
    try:
        table = pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(column_names=names),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.float64()), null_values=[], strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        raise UserError(_csv_problem(path, channel, columns)) from None
    return np.column_stack([table.column(i).to_numpy() for i in range(columns)])


def _read_parquet(path: Path, channel: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise UserError(f"channel {channel}, file {path.name} is not a readable Parquet file: {error}") from None
    for name, kind in zip(table.column_names, table.schema.types, strict=True):
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)):
            raise UserError(f"channel {channel}, file {path.name}: column {name!r} is {kind}, not numeric")
    columns = [table.column(i).cast(pa.float64()).to_numpy(zero_copy_only=False) for i in range(table.num_columns)]
    return np.column_stack(columns) if columns else np.empty((0, 0))


def read_channel(directory: Path, config: ChannelConfig) -> Dataset:
    """All files of a channel as one Dataset (label = first column); `UserError` on anything malformed."""
    name = config.name
    if not directory.is_dir():
        raise UserError(f"channel {name}: no data folder at {directory}")
    files = _files(directory)
    if not files:
        raise UserError(f"channel {name} has no files in {directory}")
    reader = _read_parquet if config.content_type in PARQUET_TYPES else _read_csv
    blocks: list[tuple[Path, np.ndarray[Any, np.dtype[np.float64]]]] = []
    for path in files:
        block = reader(path, name)
        if block.shape[0] == 0:
            continue
        if block.shape[1] < 2:
            raise UserError(f"channel {name}, file {path.name} has {block.shape[1]} column(s); need label + features")
        if blocks and block.shape[1] != blocks[0][1].shape[1]:
            raise UserError(
                f"channel {name}: file {path.name} has {block.shape[1]} columns but "
                f"{blocks[0][0].name} has {blocks[0][1].shape[1]}; every file needs the same columns"
            )
        blocks.append((path, block))
    if not blocks:
        raise UserError(f"channel {name} has no rows: its {len(files)} file(s) are empty")
    data = np.concatenate([block for _, block in blocks]) if len(blocks) > 1 else blocks[0][1]
    labels = np.ascontiguousarray(data[:, 0])
    bad = np.flatnonzero(~np.isfinite(labels))
    if bad.size:
        raise UserError(
            f"channel {name}: row {int(bad[0]) + 1} has a missing or infinite label; labels must be numbers"
        )
    features = np.ascontiguousarray(data[:, 1:])
    infinite = np.argwhere(np.isinf(features))
    if infinite.size:
        row, column = (int(v) for v in infinite[0])
        raise UserError(f"channel {name}: row {row + 1}, feature {column + 1} is infinite")
    return Dataset(channel=name, labels=labels, features=features)


def describe_size(value: float) -> str:
    """Bytes as a short human-readable size."""
    exponent = min(int(math.log(max(value, 1), 1024)), 4)
    return f"{value / 1024**exponent:.1f} {['B', 'KiB', 'MiB', 'GiB', 'TiB'][exponent]}"
