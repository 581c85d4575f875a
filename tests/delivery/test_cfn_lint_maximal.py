"""cfn-lint finds no error in the maximal configuration's templates (dev asynchronous, every option on)."""

from __future__ import annotations

from tests.helpers import Synthesized, cfn_lint_problems


def test_cfn_lint_reports_no_errors_with_every_option_on(maximal_synthesized: Synthesized) -> None:
    # GIVEN the app synthesized with every optional feature on WHEN cfn-lint checks its templates THEN no problem
    assert not cfn_lint_problems(maximal_synthesized.outdir)
