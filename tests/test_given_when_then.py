"""The README's promise about the construct and stack tests: each reads GIVEN / WHEN / THEN."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import ROOT

STORY_DIRECTORIES = ("tests/sagemaker_constructs", "tests/stacks")


def _tests(directory: str) -> list[tuple[Path, ast.FunctionDef]]:
    return [
        (path, node)
        for path in sorted((ROOT / directory).glob("test_*.py"))
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    ]


def _tells_the_story(path: Path, test: ast.FunctionDef) -> bool:
    """GIVEN, WHEN and THEN in the docstring, or as comments in the body, in that order."""
    text = ast.get_docstring(test) or ""
    if not text:
        lines = path.read_text().splitlines()[test.lineno - 1 : test.end_lineno]
        text = "\n".join(line.strip() for line in lines if line.strip().startswith("#"))
    positions = [text.find(word) for word in ("GIVEN", "WHEN", "THEN")]
    return -1 not in positions and positions == sorted(positions)


@pytest.mark.parametrize("directory", STORY_DIRECTORIES)
def test_every_construct_and_stack_test_reads_given_when_then(directory: str) -> None:
    """GIVEN the construct and stack test modules
    WHEN each test function is read
    THEN its docstring (or its comments) says GIVEN, WHEN and THEN, in that order."""
    tests = _tests(directory)
    assert tests, directory
    untold = [f"{path.relative_to(ROOT)}::{test.name}" for path, test in tests if not _tells_the_story(path, test)]
    assert untold == []
