"""Where SageMaker puts things inside the container, relocatable with OPT_ML_DIR for runs without Docker."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from sagemaker_contract.interface import FAILURE_FILE, METADATA_FILE

DEFAULT_OPT_ML = "/opt/ml"
# METADATA_FILE is written last into the model directory by training (it marks a complete model) and read
# first by serving.
__all__ = ["DEFAULT_OPT_ML", "METADATA_FILE", "OptMl", "available_cpus", "available_memory_bytes"]
# cgroup limits: v2's one file, v1's (a huge number there means no limit).
_CGROUP_MEMORY_LIMITS = (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))


def available_memory_bytes() -> int:
    """The memory this process may use: its container's cgroup limit if it has one, else the machine's."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in _CGROUP_MEMORY_LIMITS:
        try:
            text = limit_file.read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            return min(int(text), physical)
    return physical


def available_cpus() -> int:
    """The CPUs this process may run on (the affinity mask: a container's CPU limit), not the host's count."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class OptMl:
    """The /opt/ml tree of CONTRACT.md, rooted at `root`: SageMaker's layout at a glance, one attribute a path."""

    def __init__(self, root: Path) -> None:
        self.root: Final = root
        self.config: Final = root / "input" / "config"
        self.hyperparameters: Final = self.config / "hyperparameters.json"
        self.resource_config: Final = self.config / "resourceconfig.json"
        self.input_data_config: Final = self.config / "inputdataconfig.json"
        self.data: Final = root / "input" / "data"
        self.model: Final = root / "model"
        self.metadata: Final = self.model / METADATA_FILE
        self.output: Final = root / "output"
        self.failure: Final = self.output / FAILURE_FILE
        self.output_data: Final = self.output / "data"
        self.checkpoints: Final = root / "checkpoints"

    @classmethod
    def from_environment(cls) -> OptMl:
        return cls(Path(os.environ.get("OPT_ML_DIR", DEFAULT_OPT_ML)))

    def channel(self, name: str) -> Path:
        return self.data / name
