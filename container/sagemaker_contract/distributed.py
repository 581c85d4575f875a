"""Training on several hosts: settings, host addresses, this host's rows, and a deadline for reaching the others.

SageMaker names the hosts of a job algo-1, algo-2, ... in resourceconfig.json; they resolve through DNS
inside the job's network. The algorithm's distributed learner wants "ip:port" per host, all on one port.

SM_HOST_ADDRESSES (TEST ONLY) maps host names to "ip:port", e.g. {"algo-1": "127.0.0.1:12400",
"algo-2": "127.0.0.1:12401"}, so that several training processes on one machine, each with its own
port, play the hosts of one job. SageMaker never sets it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hyperschema import param

from sagemaker_contract import hyperparameters
from sagemaker_contract.channels import Resources
from sagemaker_contract.errors import UserError
from sagemaker_contract.protocol import Cluster, Dataset

HOST_ADDRESSES_VARIABLE = "SM_HOST_ADDRESSES"
DEFAULT_TIMEOUT_SECONDS = 300.0
DEFAULT_PORT = 12400
MAX_TIMEOUT_SECONDS = 3600.0


@dataclass(frozen=True)
class DistributedHyperparameters:
    """The contract layer's own hyperparameters, for jobs with several instances (README: Distributed training)."""

    distributed_timeout_seconds: float = param(
        default=DEFAULT_TIMEOUT_SECONDS,
        minimum=1.0,
        maximum=MAX_TIMEOUT_SECONDS,
        doc="seconds a host waits for the other hosts to resolve and connect",
    )
    distributed_port: int = param(
        default=DEFAULT_PORT, minimum=1024, maximum=65535, doc="TCP port of the distributed learner on every host"
    )


@dataclass(frozen=True)
class DistributedSettings:
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    port: int = DEFAULT_PORT


def pop_settings(raw: Mapping[str, Any]) -> tuple[DistributedSettings, dict[str, Any]]:
    """The contract layer's own hyperparameters (`distributed_*`), and the rest for the algorithm's schema."""
    names = {field.name for field in dataclasses.fields(DistributedHyperparameters)}
    parsed = hyperparameters.parse(DistributedHyperparameters, {k: v for k, v in raw.items() if k in names})
    rest = {k: v for k, v in raw.items() if k not in names}
    return DistributedSettings(parsed.distributed_timeout_seconds, parsed.distributed_port), rest


def _override(environ: Mapping[str, str], hosts: tuple[str, ...]) -> dict[str, str] | None:
    text = environ.get(HOST_ADDRESSES_VARIABLE)
    if not text:
        return None
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(f"{HOST_ADDRESSES_VARIABLE} is not valid JSON: {error}") from None
    if not isinstance(loaded, dict) or any(host not in loaded for host in hosts):
        raise UserError(f"{HOST_ADDRESSES_VARIABLE} must map every host ({', '.join(hosts)}) to 'ip:port'")
    return {host: str(loaded[host]) for host in hosts}


def resolve_cluster(
    resources: Resources,
    settings: DistributedSettings,
    environ: Mapping[str, str] = os.environ,
    lookup: Callable[[str], str] = socket.gethostbyname,
    sleep: Callable[[float], None] = time.sleep,
) -> Cluster:
    """Every host's "ip:port", retrying DNS until the deadline (hosts start at slightly different times)."""
    hosts = resources.hosts
    override = _override(environ, hosts)
    if override is not None:
        return Cluster(hosts, tuple(override[h] for h in hosts), resources.rank, settings.timeout_seconds)
    deadline = time.monotonic() + settings.timeout_seconds
    addresses = []
    for host in hosts:
        while True:
            try:
                addresses.append(f"{lookup(host)}:{settings.port}")
                break
            except OSError as error:
                if time.monotonic() >= deadline:
                    raise UserError(
                        f"cannot resolve host {host} within {settings.timeout_seconds:g} s ({error}); every host "
                        "of a distributed training job must be reachable by its name"
                    ) from None
                sleep(1.0)
    return Cluster(hosts, tuple(addresses), resources.rank, settings.timeout_seconds)


def own_rows(train: Dataset, rank: int, num_hosts: int) -> tuple[Dataset, int, int]:
    """This host's contiguous block of a FullyReplicated train channel (the learner needs disjoint rows)."""
    start, stop = train.num_rows * rank // num_hosts, train.num_rows * (rank + 1) // num_hosts
    return Dataset(train.channel, train.labels[start:stop], train.features[start:stop]), start, stop


def unreachable_reason(cluster: Cluster, waited: float) -> str:
    missing = cluster.unreachable()
    noun = "host" if missing.count("(") == 1 else "hosts"
    return (
        f"cannot reach {noun} {missing} within {waited:g} s (this host: {cluster.hosts[cluster.rank]} at "
        f"{cluster.addresses[cluster.rank]}): distributed training needs every host of the job; check that every "
        f"host started and that the hosts may connect to each other on TCP port {cluster.listen_port} "
        f"(VPC security groups), or raise distributed_timeout_seconds"
    )
