"""The project's one exit-code table: both tools return it, their help and docs/operations.md show it."""

from __future__ import annotations

import pytest

import review.__main__ as review_cli
from config.exit_codes import MEANINGS, OPS, REVIEW, ExitCode, codes_of, markdown_table
from sagemaker_ops import cli as ops_cli
from tests.conftest import ROOT


def test_docs_show_exactly_the_table_of_the_code() -> None:
    # GIVEN the table generated from config/exit_codes.py WHEN docs/operations.md is read THEN it holds it verbatim
    docs = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    assert markdown_table() in docs, "update docs/operations.md's table from config.exit_codes.markdown_table()"


def test_every_code_has_one_meaning_and_a_tool_that_returns_it() -> None:
    assert set(MEANINGS) == set(ExitCode)
    assert all(meaning.returned_by for meaning in MEANINGS.values())


def test_both_tools_mean_the_same_by_the_same_number() -> None:
    # GIVEN the names each tool returns WHEN compared THEN a number means one outcome, whichever tool returns it
    assert ops_cli.OK == review_cli.OK == 0
    assert ops_cli.FAILED == review_cli.VIOLATION == 1
    assert ops_cli.USAGE == review_cli.USAGE == 2
    assert review_cli.SYNTH_FAILED not in {ops_cli.AWS_ERROR, ops_cli.TIMED_OUT}
    assert codes_of(OPS) == ops_cli.EXIT_CODES


def test_the_ops_help_lists_the_codes_it_returns() -> None:
    helped = ops_cli.build_parser().format_help()
    for code, meaning in codes_of(OPS).items():
        assert f"  {code}  {meaning[:40]}" in helped
    assert f"  {int(ExitCode.SYNTH_FAILED)}  " not in helped


def test_the_review_help_lists_the_codes_it_returns(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        review_cli.main(["--help"])
    assert exited.value.code == 0
    helped = " ".join(capsys.readouterr().out.split())
    for code, meaning in codes_of(REVIEW).items():
        assert f"{code} {' '.join(meaning.split())[:40]}" in helped
