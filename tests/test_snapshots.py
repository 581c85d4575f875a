"""Every environment's templates, reviewed in pull requests as a JSON snapshot.

Asset hashes and account ids are masked: they change with unrelated edits or the machine, and
would bury the CloudFormation change a reviewer needs to see. Update deliberately, after reading
the diff: `pytest tests/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.helpers import TEST_ACCOUNT, Synthesized

ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")


def mask(template: dict[str, Any]) -> Any:
    """The template with asset hashes and the account id replaced by placeholders."""
    text = json.dumps(template, sort_keys=True)
    text = ASSET_HASH.sub("<asset-hash>", text).replace(TEST_ACCOUNT, "<account>")
    return json.loads(text)


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_templates_match_the_reviewed_snapshot(
    synthesized: Synthesized, snapshot_json: SnapshotAssertion, environment: str
) -> None:
    for stack, template in sorted(synthesized.templates[environment].items()):
        assert mask(template) == snapshot_json(name=f"{environment}-{stack}")


def test_masking_hides_hashes_and_accounts_only() -> None:
    template = {"Image": f"{TEST_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/repo:{'ab' * 32}", "Count": 3}
    assert mask(template) == {"Image": "<account>.dkr.ecr.us-east-1.amazonaws.com/repo:<asset-hash>", "Count": 3}
