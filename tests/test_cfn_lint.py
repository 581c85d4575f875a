"""cfn-lint finds no error in the shipped configuration's synthesized templates (the maximal one: tests/delivery/)."""

from __future__ import annotations

from tests.helpers import Synthesized, cfn_lint_problems


def test_cfn_lint_reports_no_errors(synthesized: Synthesized) -> None:
    assert not cfn_lint_problems(synthesized.outdir)
