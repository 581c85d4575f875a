"""The adaptations of the test's template copies: listed once, documented as listed, never touching the original."""

from __future__ import annotations

import copy

from local_sagemaker.adaptations import (
    ADAPTATIONS,
    GAP,
    READINESS,
    REFERENCES_DIGEST,
    SKIPPED_BY_MOTO,
    Adaptation,
    adapt,
    markdown_table,
)
from tests.conftest import ROOT, Synthesized

README = (ROOT / "README.md").read_text()
TESTING = (ROOT / "docs" / "testing.md").read_text()


def test_the_readme_lists_exactly_the_adaptations_of_the_code() -> None:
    # GIVEN the table generated from adaptations.py WHEN docs/testing.md is read THEN it holds it verbatim
    assert markdown_table() in TESTING, "update docs/testing.md from local_sagemaker/adaptations.markdown_table()"


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


def _unaccounted(rows: tuple[Adaptation, ...]) -> list[str]:
    """Rows with neither a reason moto needs them nor, where they hide a requirement, an existing covering test."""
    problems = []
    for row in rows:
        if not row.why.strip():
            problems.append(f"{row.subject}: no reason moto needs it")
        if row.hides and not row.covered_by:
            problems.append(f"{row.subject}: hides {row.hides!r}, covered by no deploy-readiness check")
        for test in row.covered_by:
            path, name = test.split("::")
            if f"def {name}(" not in (ROOT / path).read_text():
                problems.append(f"{row.subject}: covering test {test} does not exist")
    return problems


def test_every_row_hiding_a_requirement_names_the_readiness_check_that_covers_it() -> None:
    # GIVEN the adaptations THEN each has moto's reason, and each that hides a requirement AWS checks
    # names existing deploy-readiness tests
    assert _unaccounted(ADAPTATIONS) == []
    # The rows that hide IAM or KMS requirements say so (the list: stack outputs, alarms, the gaps).
    hiding = {row.subject for row in ADAPTATIONS if row.hides}
    assert any("Fn::GetStackOutput" in subject for subject in hiding)
    assert any("alarm" in subject for subject in hiding)
    assert all(row.hides for row in ADAPTATIONS if row.handling == GAP and "polic" in row.subject)


def test_a_row_without_a_reason_or_hiding_a_requirement_nothing_covers_fails() -> None:
    rows = (
        Adaptation("`Fn::Example`", GAP, "", hides="iam:Example"),
        Adaptation("`AWS::Example`", GAP, "moto lacks it", hides="x", covered_by=(f"{READINESS}test_nothing",)),
    )
    assert _unaccounted(rows) == [
        "`Fn::Example`: no reason moto needs it",
        "`Fn::Example`: hides 'iam:Example', covered by no deploy-readiness check",
        f"`AWS::Example`: covering test {READINESS}test_nothing does not exist",
    ]
