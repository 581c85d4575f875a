"""What a model package version's CustomerMetadataProperties accept, for the hyperparameters the pipeline puts there.

The training pipeline registers every model with the hyperparameters it trained with as the version's metadata,
next to the lineage entries (`config.contract.REGISTRY_METADATA_KEYS`). AWS limits that map (botocore's sagemaker
model, CustomerMetadataMap: a number of entries, and each key and value a length and a character class); a run
that breaks it would train for nothing and fail at Register. The configuration and `sagemaker_ops train -p`
refuse such hyperparameters first, with the limits read from the same model; likewise a data prefix whose
location (`pipeline/data`, `s3://<data bucket>/<prefix>/`) a metadata value cannot hold.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from functools import cache
from typing import NamedTuple

from config.aws_catalog import sagemaker_shape
from config.contract import REGISTRY_METADATA_KEYS


class _Text(NamedTuple):
    """A metadata key's or value's limits: length, the Unicode categories and the other characters it may hold."""

    min_length: int
    max_length: int
    categories: frozenset[str]
    characters: frozenset[str]
    described: str

    def problem(self, text: str) -> str | None:
        if not self.min_length <= len(text) <= self.max_length:
            return f"has {len(text)} characters, {self.min_length} to {self.max_length} are allowed"
        bad = sorted(
            {c for c in text if unicodedata.category(c)[0] not in self.categories and c not in self.characters}
        )
        if bad:
            return f"holds {''.join(bad)!r}: only {self.described} are allowed"
        return None


def _text(shape: str) -> _Text:
    """The limits of a string shape whose pattern is one character class of `\\p{X}` categories and characters."""
    metadata = sagemaker_shape(shape)
    match = re.search(r"\[(.*?)\]", metadata["pattern"])
    if match is None:
        raise LookupError(f"the SageMaker model's {shape} pattern is not a character class: {metadata['pattern']!r}")
    members = match.group(1)
    categories = frozenset(re.findall(r"\\p\{(\w)\}", members))
    characters = frozenset(re.sub(r"\\(.)", r"\1", re.sub(r"\\p\{\w\}", "", members)))
    names = {"L": "letters", "N": "numbers", "Z": "spaces"}
    described = ", ".join([*(names.get(c, f"\\p{{{c}}}") for c in sorted(categories)), " ".join(sorted(characters))])
    return _Text(int(metadata["min"]), int(metadata["max"]), categories, characters, described)


@cache
def _limits() -> tuple[int, _Text, _Text]:
    entries = int(sagemaker_shape("CustomerMetadataMap")["max"])
    return entries - len(REGISTRY_METADATA_KEYS), _text("CustomerMetadataKey"), _text("CustomerMetadataValue")


def max_registered_hyperparameters() -> int:
    """How many hyperparameters a version's metadata holds besides the lineage entries."""
    return _limits()[0]


def metadata_problems(hyperparameters: Mapping[str, str]) -> list[str]:
    """Why `hyperparameters` cannot be a registered version's metadata: one line per name, and their number."""
    most, key_limits, value_limits = _limits()
    problems = []
    if len(hyperparameters) > most:
        problems.append(
            f"{len(hyperparameters)} hyperparameters: a model package version records at most {most} "
            "(CustomerMetadataProperties, besides the pipeline's lineage entries)"
        )
    for name, value in hyperparameters.items():
        if problem := key_limits.problem(name):
            problems.append(f"{name}: the name {problem} in a model package version's metadata key")
        if problem := value_limits.problem(value):
            problems.append(f"{name}: the value {problem} in a model package version's metadata value")
    return problems


# SageMaker adds the tuning job's objective metric to each of its training jobs' HyperParameters under this name
# (as DescribeTrainingJob gives them; the container's schema reserves it): the best job's version records it too.
TUNING_OBJECTIVE_HYPERPARAMETER = "_tuning_objective_metric"


def tuned_metadata_problems(
    hyperparameters: Mapping[str, str], ranges: Mapping[str, Sequence[str]], objective: str
) -> list[str]:
    """Why the best job of a tuning job cannot be registered: its HyperParameters, the version's metadata, hold
    the static `hyperparameters`, every tuned range's name (`ranges`: a categorical range's values, else none:
    a number fits any value) with the value chosen, and the `objective` metric's name.
    """
    most, key_limits, value_limits = _limits()
    problems = []
    count = len({*hyperparameters, *ranges, TUNING_OBJECTIVE_HYPERPARAMETER})
    if count > most:
        problems.append(
            f"ranges: {count} hyperparameters with the static ones, the tuned ones and "
            f"{TUNING_OBJECTIVE_HYPERPARAMETER}: a model package version records at most {most} "
            "(CustomerMetadataProperties, besides the pipeline's lineage entries)"
        )
    for name, values in ranges.items():
        if problem := key_limits.problem(name):
            problems.append(f"ranges.{name}: the name {problem} in a model package version's metadata key")
        for value in values:
            if problem := value_limits.problem(value):
                problems.append(
                    f"ranges.{name}.values: {value!r} {problem} in a model package version's metadata value"
                )
    if problem := value_limits.problem(objective):
        problems.append(f"objective: {objective!r} {problem} in a model package version's metadata value")
    return problems


# S3 bucket names have at most 63 characters (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html);
# the data bucket's is generated, so a data prefix must fit beside the longest one.
LONGEST_BUCKET_NAME = 63


def data_prefix_problem(prefix: str) -> str | None:
    """Why a run's data, `s3://<data bucket>/<prefix>/` (the version's `pipeline/data`), cannot be a metadata value."""
    _, _, value_limits = _limits()
    room = value_limits.max_length - len("s3:///") - LONGEST_BUCKET_NAME - len("/")
    if len(prefix) > room:
        return (
            f"has {len(prefix)} characters: the model package version records its data as s3://<data bucket>/<prefix>/ "
            f"in a metadata value of at most {value_limits.max_length}, which leaves {room} for the prefix"
        )
    problem = value_limits.problem(prefix)
    return f"{problem} in the model package version's record of its data" if problem else None
