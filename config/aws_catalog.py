"""What AWS offers, read from the service data botocore ships: regions, SageMaker instance types and API bounds.

These are the sources of truth the configuration is checked against, so that a new region or
instance type needs a botocore upgrade, not an edit of a hand-written list. Loaded once, lazily,
from files inside the botocore package: no network, no credentials, and no botocore session (a session
resolves AWS_PROFILE first, so a profile that does not exist would stop the configuration from loading).
"""

from __future__ import annotations

import difflib
import re
from functools import cache
from typing import Any

from botocore.loaders import Loader, create_loader
from botocore.model import NoShapeFoundError, ServiceModel


@cache
def _loader() -> Loader:
    return create_loader()


@cache
def _service(name: str) -> ServiceModel:
    return ServiceModel(_loader().load_service_model(name, "service-2"), service_name=name)


def _sagemaker() -> ServiceModel:
    return _service("sagemaker")


@cache
def regions() -> frozenset[str]:
    """Every region of every partition (aws, aws-cn, aws-us-gov, ...), without the `*-global` pseudo-regions."""
    partitions: dict[str, Any] = _loader().load_data("partitions")
    return frozenset(
        region
        for partition in partitions["partitions"]
        for region in partition["regions"]
        if not region.endswith("-global")
    )


def partition_of(region: str) -> str:
    """The partition (aws, aws-cn, aws-us-gov, ...) whose regions include `region`, as an ARN spells it."""
    partitions: dict[str, Any] = _loader().load_data("partitions")
    for partition in partitions["partitions"]:
        if region in partition["regions"] or re.fullmatch(partition["regionRegex"], region):
            return str(partition["id"])
    raise LookupError(f"no partition of botocore's data has the region {region!r}")


@cache
def sagemaker_enum(shape: str) -> frozenset[str]:
    """The values of an enum shape of the SageMaker API, e.g. `TrainingInstanceType`."""
    try:
        values = _sagemaker().shape_for(shape).enum
    except NoShapeFoundError:
        values = []
    if not values:
        raise LookupError(f"the SageMaker service model has no enum shape {shape!r}")
    return frozenset(values)


def sagemaker_shape(shape: str) -> dict[str, Any]:
    """The metadata (min, max, pattern) the SageMaker API documents for a shape, e.g. `CustomerMetadataKey`."""
    metadata: dict[str, Any] = _sagemaker().shape_for(shape).metadata
    return metadata


def sagemaker_range(shape: str, member: str, service: str = "sagemaker") -> tuple[int, int]:
    """The (min, max) the SageMaker API (or `service`, e.g. "sagemaker-runtime") documents for `shape.member`, e.g. a
    timeout's bounds."""
    metadata = _service(service).shape_for(shape).members[member].metadata
    return int(metadata["min"]), int(metadata["max"])


def sagemaker_minimum(shape: str, member: str) -> float:
    """The least value the SageMaker API documents for `shape.member` (a shape with a minimum and no maximum)."""
    return float(_sagemaker().shape_for(shape).members[member].metadata["min"])


@cache
def model_package_version_digits() -> int:
    """The most digits a model package version may have where CreateModel takes one (VersionedArnOrName).

    ListModelPackages' ModelPackageVersion has no upper bound, but a Model is created from `<group>/<n>` with at
    most this many digits in n: a longer version could be registered and never served.
    """
    pattern = sagemaker_shape("VersionedArnOrName")["pattern"]
    found = re.search(r"\\/\[0-9\]\{1,([0-9]+)\}\)\?$", pattern)
    if found is None:
        raise LookupError(f"the SageMaker shape VersionedArnOrName has no version part: {pattern!r}")
    return int(found[1])


def did_you_mean(value: str, choices: frozenset[str]) -> str:
    """'; did you mean X or Y?' when choices are close to `value`, else ''."""
    close = difflib.get_close_matches(value, sorted(choices), n=2, cutoff=0.75)
    return f"; did you mean {' or '.join(close)}?" if close else ""
