"""Hyperparameters a model package version's metadata cannot hold are refused, with AWS's limits from botocore."""

from __future__ import annotations

import copy
import tomllib

import pytest
from botocore.loaders import create_loader
from botocore.model import ServiceModel

from config import ConfigError, parse_config, registry_metadata
from config.contract import REGISTRY_METADATA_KEYS
from config.registry_metadata import (
    data_prefix_problem,
    max_registered_hyperparameters,
    metadata_problems,
    tuned_metadata_problems,
)
from config.settings import DEFAULT_CONFIG_FILE
from tests.declared import EXAMPLE, OBJECTIVE

# Read here from botocore on its own, so a mistake in reading the shapes is not repeated by the test.
_SHAPES = ServiceModel(create_loader().load_service_model("sagemaker", "service-2")).shape_for
MOST = _SHAPES("CustomerMetadataMap").metadata["max"] - len(REGISTRY_METADATA_KEYS)
LONGEST_KEY = _SHAPES("CustomerMetadataKey").metadata["max"]
LONGEST_VALUE = _SHAPES("CustomerMetadataValue").metadata["max"]


def test_the_lineage_entries_leave_the_rest_of_the_map_to_hyperparameters() -> None:
    assert max_registered_hyperparameters() == MOST == 45


@pytest.mark.parametrize(
    "hyperparameters",
    [
        {f"h{i}": "1" for i in range(MOST)},
        {"k" * LONGEST_KEY: "v" * LONGEST_VALUE},
        # Letters, numbers and spaces of any script, and the punctuation the pattern names.
        {"größe": "é ² Ⅻ", "_tuning_objective_metric": "validation:score", "a": "_.:/=+-@"},
    ],
    ids=["most-entries", "longest-key-and-value", "unicode-and-punctuation"],
)
def test_what_aws_accepts_passes(hyperparameters: dict[str, str]) -> None:
    assert metadata_problems(hyperparameters) == []


@pytest.mark.parametrize(
    ("hyperparameters", "message"),
    [
        (
            {f"h{i}": "1" for i in range(MOST + 1)},
            f"{MOST + 1} hyperparameters: a model package version records at most {MOST}",
        ),
        ({"k" * (LONGEST_KEY + 1): "1"}, f"the name has {LONGEST_KEY + 1} characters, 1 to {LONGEST_KEY} are allowed"),
        (
            {"eta": "1" * (LONGEST_VALUE + 1)},
            f"eta: the value has {LONGEST_VALUE + 1} characters, 1 to {LONGEST_VALUE}",
        ),
        ({"eta": ""}, "eta: the value has 0 characters"),
        ({"eta": "0,1"}, "eta: the value holds ','"),
        ({"eta": '"0.1"'}, "eta: the value holds '\"'"),
        ({"eta": "0.1\n"}, "eta: the value holds '\\n'"),
        ({"a,b": "1"}, "a,b: the name holds ','"),
    ],
    ids=[
        "one-entry-too-many",
        "key-too-long",
        "value-too-long",
        "empty-value",
        "comma",
        "quote",
        "newline",
        "key-comma",
    ],
)
def test_what_aws_refuses_is_named_with_the_limit(hyperparameters: dict[str, str], message: str) -> None:
    problems = metadata_problems(hyperparameters)
    assert len(problems) == 1
    assert message in problems[0]


def test_a_data_prefix_fits_beside_the_longest_bucket_name() -> None:
    # s3:// + 63 + / + prefix + / in a 256-character value leaves 186 for the prefix; letters of any script pass
    assert data_prefix_problem("d" * 186) is None
    assert data_prefix_problem("datasets/größe_2026-11") is None
    assert "has 187 characters" in (data_prefix_problem("d" * 187) or "")
    assert "holds '!'" in (data_prefix_problem("datasets/daily!") or "")


@pytest.mark.parametrize(
    ("section", "setting"),
    [
        ("transform", {"schedule": {"expression": "cron(0 3 * * ? *)", "data_prefix": "daily(1)"}}),
        ("drift", {"retrain_on_drift": True, "retrain_data_prefix": "daily(1)"}),
    ],
    ids=["schedule", "retraining"],
)
def test_a_configured_data_prefix_a_version_cannot_record_is_refused(section: str, setting: dict[str, object]) -> None:
    # GIVEN prod starting the pipeline (on a schedule, or on drift) on a prefix with characters a metadata value lacks
    raw = copy.deepcopy(tomllib.loads(DEFAULT_CONFIG_FILE.read_text()))
    raw["environments"]["prod"].setdefault(section, {}).update(setting)
    # WHEN loaded THEN it stops, before any run trains a model Register would refuse
    with pytest.raises(ConfigError, match=r"environment 'prod': .*data_prefix: .*holds '\(\)'"):
        parse_config(raw)


@pytest.mark.parametrize(("static", "problems"), [(MOST - 2, 0), (MOST - 1, 1)], ids=["fits", "one-too-many"])
def test_a_tuned_version_records_the_static_the_tuned_and_the_objective(static: int, problems: int) -> None:
    # GIVEN static hyperparameters and one tuned range: the best job's HyperParameters add its name and the objective
    found = tuned_metadata_problems({f"h{i}": "1" for i in range(static)}, {"width": ()}, "validation:score")
    # THEN they count with the static ones against what a version records
    assert len(found) == problems
    assert all(f"{MOST + 1} hyperparameters with the static ones, the tuned ones and" in p for p in found)


def test_a_categorical_value_a_version_cannot_record_is_named() -> None:
    found = tuned_metadata_problems({}, {"variant": ("plain", "a,b")}, "validation:score")
    assert found == ["ranges.variant.values: 'a,b' holds ',': only letters, numbers, spaces, + - . / : = @ _ are "
                     "allowed in a model package version's metadata value"]  # fmt: skip


def test_tuning_a_version_could_not_record_is_refused_at_load(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a version recording as many hyperparameters as staging sets statically, and staging tuning one more
    raw = copy.deepcopy(tomllib.loads(DEFAULT_CONFIG_FILE.read_text()))
    raw["environments"]["staging"]["training"]["hyperparameters"] = dict(EXAMPLE)
    raw["environments"]["staging"]["tuning"] = {"objective": OBJECTIVE}
    _, key, value = registry_metadata._limits()
    monkeypatch.setattr(registry_metadata, "_limits", lambda: (len(EXAMPLE), key, value))
    # WHEN loaded THEN the tuning section is refused: the best job's version would not be registered
    with pytest.raises(ConfigError, match=r"environment 'staging': .*tuning\.ranges: [0-9]+ hyperparameters with"):
        parse_config(raw)
