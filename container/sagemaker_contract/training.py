"""`train`: read the job, hand validated data to the algorithm, write the model, or write the failure file."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import platform
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

from sagemaker_contract import baseline, channels, distributed, hyperparameters
from sagemaker_contract.errors import UserError
from sagemaker_contract.failure import write_failure
from sagemaker_contract.paths import METADATA_FILE, OptMl, available_cpus
from sagemaker_contract.protocol import (
    Algorithm,
    Checkpoints,
    Cluster,
    Dataset,
    FitContext,
    MetricsLog,
    StopRequested,
    TrainedModel,
)

SUMMARY_FILE = "training_summary.json"
# Printed once at the end, then written to output/data/training_summary.json: the machine-readable record of
# the run. With several hosts every host prints its own summary line ("rank", "num_machines", its own rows);
# only the first host writes the file (and the model).
SUMMARY_PREFIX = "#summary"
SUMMARY_SCHEMA_VERSION = 1
EXIT_FAILURE = 1
EXIT_STOPPED = 143


def _os_problem(error: OSError, stage: str) -> str:
    """An operating-system error as a reason naming the path and the problem (no traceback needed)."""
    where = f"{error.filename}: " if error.filename is not None else ""
    problem = error.strerror or type(error).__name__
    hint = ""
    if error.errno in {errno.EACCES, errno.EPERM}:
        hint = f" (training runs as uid {os.getuid()}, gid {os.getgid()})"
    elif error.errno == errno.ELOOP:
        hint = " (a symbolic link that points back to itself, directly or through others)"
    return f"cannot finish {stage}: {where}{problem}{hint}"


def _check_model_dir(model_dir: Path) -> None:
    """Fail before reading any data when the model could not be written at the end."""
    if model_dir.exists() and not model_dir.is_dir():
        raise UserError(f"the model directory {model_dir} is not a directory")
    existing = model_dir if model_dir.exists() else next(p for p in model_dir.parents if p.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(
            f"the model directory {existing} is not writable by uid {os.getuid()}: "
            "training could not save the model there"
        )


def file_digests(directory: Path) -> dict[str, dict[str, Any]]:
    """{path relative to `directory`: {"sha256": hex digest, "bytes": size}} of every file under it."""
    digests = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        with path.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        digests[path.relative_to(directory).as_posix()] = {"sha256": digest, "bytes": path.stat().st_size}
    return digests


def _save_model(trained: TrainedModel, model_dir: Path, metadata: dict[str, Any]) -> None:
    """Write the model beside its final place, then move it in; metadata.json last marks it complete.

    metadata["files"] gets the sha256 and size of every model file, so that serving can tell a complete
    model from a truncated or altered one before it loads it.
    """
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / METADATA_FILE).unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(dir=model_dir, prefix=".partial-") as partial:
        trained.save(Path(partial))
        metadata["files"] = file_digests(Path(partial))
        for item in Path(partial).iterdir():
            item.replace(model_dir / item.name)
    partial_metadata = model_dir / f".{METADATA_FILE}.partial"
    partial_metadata.write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    partial_metadata.replace(model_dir / METADATA_FILE)


def _library_versions() -> dict[str, str]:
    return {"python": platform.python_version(), "numpy": np.__version__}


def _publish_summary(summary: dict[str, Any], paths: OptMl, resources: channels.Resources) -> None:
    """Every host prints its summary line; the first host alone writes output/data (as it writes the model)."""
    print(f"{SUMMARY_PREFIX} {json.dumps(summary, sort_keys=True)}", flush=True)
    if resources.rank == 0:
        paths.output_data.mkdir(parents=True, exist_ok=True)
        (paths.output_data / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    else:
        print(f"host {resources.current_host} done; the first host ({resources.hosts[0]}) writes the model")


def _read_data(
    algorithm: Algorithm[Any], params: Any, paths: OptMl, resources: channels.Resources
) -> tuple[Dataset, Dataset | None]:
    """`_read_channels`; with several hosts, a problem names the host (each host reads its own files)."""
    try:
        return _read_channels(algorithm, params, paths, resources)
    except UserError as error:
        if len(resources.hosts) > 1:
            raise UserError(f"host {resources.current_host}: {error}") from None
        raise


def _read_channels(
    algorithm: Algorithm[Any], params: Any, paths: OptMl, resources: channels.Resources
) -> tuple[Dataset, Dataset | None]:
    """The train channel and the optional validation channel, checked against each other and the algorithm.

    With several hosts, train holds this host's rows only: its shard (ShardedByS3Key), or its block of the
    whole channel (FullyReplicated). Validation must be the same on every host (FullyReplicated): every host
    evaluates it with the same model, so all take the same early-stopping decision.
    """
    configs = channels.read_channel_configs(paths.input_data_config, paths.data)
    channels.check_channels(configs, required={"train"}, optional={"validation"})
    several = len(resources.hosts) > 1
    if several and "validation" in configs and configs["validation"].distribution != "FullyReplicated":
        raise UserError(
            "channel validation must use S3DataDistributionType FullyReplicated when training on several hosts: "
            "every host evaluates the whole validation set so that all stop early at the same round"
        )
    dtype = algorithm.declaration.feature_dtype
    train = channels.read_channel(paths.channel("train"), configs["train"], dtype)
    if several and configs["train"].distribution == "FullyReplicated":
        whole = train.num_rows
        train, start, stop = distributed.own_rows(train, resources.rank, len(resources.hosts))
        print(f"train: FullyReplicated, this host trains on rows {start + 1}-{stop} of {whole}", flush=True)
        if train.num_rows == 0:
            raise UserError(f"channel train has {whole} rows, fewer than the {len(resources.hosts)} hosts")
    algorithm.check(params, train)
    if "validation" not in configs:
        return train, None
    validation = channels.read_channel(paths.channel("validation"), configs["validation"], dtype)
    if validation.num_features != train.num_features:
        raise UserError(f"channel validation has {validation.num_features} features but train has {train.num_features}")
    algorithm.check(params, validation)
    return train, validation


def _read_hyperparameters(algorithm: Algorithm[Any], paths: OptMl) -> tuple[distributed.DistributedSettings, Any]:
    """The contract layer's settings and the algorithm's parsed schema; SageMaker's reserved names are ignored."""
    reserved, given = hyperparameters.split_reserved(hyperparameters.read(paths.hyperparameters))
    if reserved:
        print(f"hyperparameters reserved by SageMaker, ignored: {', '.join(sorted(reserved))}", flush=True)
    settings, raw = distributed.pop_settings(given)
    return settings, hyperparameters.parse(algorithm.hyperparameters, raw)


def run(algorithm: Algorithm[Any], paths: OptMl) -> int:
    """The whole training job; returns the process exit code."""
    started = time.monotonic()
    stop = {"requested": False}

    def on_sigterm(_signum: int, _frame: FrameType | None) -> None:
        stop["requested"] = True

    signal.signal(signal.SIGTERM, on_sigterm)
    stage = "reading the job configuration"
    try:
        resources = channels.read_resources(paths.resource_config)
        stage = "checking the model directory"
        if resources.rank == 0:
            _check_model_dir(paths.model)
        stage = "reading hyperparameters"
        settings, params = _read_hyperparameters(algorithm, paths)
        stage = "reading the data channels"
        train, validation = _read_data(algorithm, params, paths, resources)
        loaded = time.monotonic()
        stage = "finding the other hosts"
        cluster = _start_cluster(resources, settings, paths, lambda: stop["requested"])
        print(
            f"data: train {train.num_rows} rows x {train.num_features} features"
            + (f", validation {validation.num_rows} rows" if validation else ", no validation channel"),
            flush=True,
        )
        stage = "training"
        checkpoints = Checkpoints(paths.checkpoints if paths.checkpoints.is_dir() and cluster is None else None)
        if cluster is not None and paths.checkpoints.is_dir():
            print("checkpoints are off when training on several hosts", flush=True)
        metrics = MetricsLog(lambda line: print(line, flush=True))
        context = FitContext(metrics, checkpoints, lambda: stop["requested"], available_cpus(), cluster=cluster)
        trained = algorithm.fit(params, train, validation, context)
        fitted = time.monotonic()
        stage = "saving the model"
        facts = trained.summary()
        metadata = {
            "format_version": 1,
            "algorithm": algorithm.name,
            "num_features": train.num_features,
            "num_machines": len(resources.hosts),
            "library_versions": _library_versions() | facts.pop("library_versions", {}),
            **facts,
        }
        if resources.rank == 0:
            _save_model(trained, paths.model, metadata)
            baseline.write(trained, paths.model, validation or train)
        summary = {
            "schema_version": SUMMARY_SCHEMA_VERSION,
            "status": "completed",
            "algorithm": algorithm.name,
            "current_host": resources.current_host,
            "hosts": list(resources.hosts),
            "rank": resources.rank,
            "num_machines": len(resources.hosts),
            "rows": {"train": train.num_rows, "validation": validation.num_rows if validation else 0},
            "num_features": train.num_features,
            "final_metrics": metrics.last,
            "seconds": {
                "read_data": round(loaded - started, 3),
                "fit": round(fitted - loaded, 3),
                "total": round(time.monotonic() - started, 3),
            },
            "model": metadata,
        }
        _publish_summary(summary, paths, resources)
    except UserError as error:
        write_failure(paths.failure, str(error))
        return EXIT_FAILURE
    except StopRequested as error:
        write_failure(paths.failure, f"training stopped by SIGTERM: {error}")
        return EXIT_STOPPED
    except OSError as error:
        write_failure(paths.failure, _os_problem(error, stage))
        return EXIT_FAILURE
    except MemoryError:
        write_failure(
            paths.failure,
            f"out of memory while {stage}: use an instance type with more memory, or fewer rows or features "
            f"(this host has {available_cpus()} CPUs and {channels.describe_size(_memory_bytes())} of memory)",
        )
        return EXIT_FAILURE
    except Exception as error:
        traceback.print_exc()
        write_failure(paths.failure, f"internal error while {stage}: {type(error).__name__}: {error}")
        return EXIT_FAILURE
    return 0


def _start_cluster(
    resources: channels.Resources,
    settings: distributed.DistributedSettings,
    paths: OptMl,
    stop_requested: Callable[[], bool],
) -> Cluster | None:
    """None for one host; else every host's address, with the watchdog on the network set-up started."""
    if len(resources.hosts) == 1:
        return None
    cluster = distributed.resolve_cluster(resources, settings)
    listing = ", ".join(f"{host}={address}" for host, address in zip(cluster.hosts, cluster.addresses, strict=True))
    print(
        f"distributed: host {resources.current_host} (rank {cluster.rank} of {cluster.num_machines}), hosts {listing}",
        flush=True,
    )
    _watch_network(cluster, paths, stop_requested)
    return cluster


def _watch_network(cluster: Cluster, paths: OptMl, stop_requested: Callable[[], bool]) -> None:
    """Fail the job, naming the hosts never reached, when the algorithm's network is not up within the timeout.

    The algorithm's own connection retries may outlast the timeout (and the other side waits to be called),
    so a daemon thread ends the process itself: no hang, and a failure reason naming the unreachable hosts.
    """
    started = time.monotonic()

    def watch() -> None:
        while not cluster.wait_ready(0.2):
            if stop_requested():
                write_failure(paths.failure, "training stopped by SIGTERM while waiting for the other hosts")
                _exit_now(EXIT_STOPPED)
            if time.monotonic() - started >= cluster.timeout_seconds:
                write_failure(paths.failure, distributed.unreachable_reason(cluster, cluster.timeout_seconds))
                _exit_now(EXIT_FAILURE)

    threading.Thread(target=watch, name="network-watchdog", daemon=True).start()


def _exit_now(code: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _memory_bytes() -> float:
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError):
        return float("nan")
