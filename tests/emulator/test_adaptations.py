"""The adaptations of the test's template copies: listed once, documented as listed, never touching the original."""

from __future__ import annotations

import copy

from tests.conftest import ROOT, Synthesized
from tests.emulator.adaptations import REFERENCES_DIGEST, SKIPPED_BY_MOTO, adapt, markdown_table

README = (ROOT / "README.md").read_text()
TESTING = (ROOT / "docs" / "testing.md").read_text()


def test_the_readme_lists_exactly_the_adaptations_of_the_code() -> None:
    # GIVEN the table generated from adaptations.py WHEN docs/testing.md is read THEN it holds it verbatim
    assert markdown_table() in TESTING, "update docs/testing.md from tests/emulator/adaptations.markdown_table()"


def test_adapt_leaves_the_synthesized_template_unchanged_and_removes_what_moto_cannot_deploy(
    synthesized: Synthesized,
) -> None:
    # GIVEN prod's synthesized Inference template
    template = synthesized.template("prod", "Inference")
    original = copy.deepcopy(template)
    # WHEN the test copy is made
    adapted = adapt(
        template,
        stack_name="Prod-Inference",
        region="us-east-1",
        account="123456789012",
        stack_outputs=lambda _name: {o: f"value-of-{o}" for o in _outputs(synthesized)},
    )
    # THEN the original is untouched, alarms and autoscaling wait for boto3, nothing refers to them,
    # and the endpoint config changes whenever the model it refers to does
    assert template == original
    assert set(adapted.removed.values()) <= set(SKIPPED_BY_MOTO)
    assert "Fn::GetStackOutput" not in str(adapted.template)
    resources = adapted.template["Resources"]
    assert not set(adapted.removed) & set(resources)
    assert REFERENCES_DIGEST in resources["EndpointConfig24AD0A28"]["Metadata"]


def _outputs(synthesized: Synthesized) -> list[str]:
    return list(synthesized.template("prod", "Platform")["Outputs"])
