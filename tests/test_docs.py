"""The Markdown files tell the truth about the repository: links resolve inside it, the layout names every folder."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.helpers import ROOT

# [text](target) and [text]: target; the target ends at whitespace or the closing parenthesis.
_INLINE = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_CODE = re.compile(r"`[^`\n]*`")


def _tracked(pattern: str) -> list[Path]:
    names = subprocess.run(["git", "ls-files", pattern], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / name for name in names.split()]


def _relative_links(markdown: str) -> list[str]:
    text = _CODE.sub("", _FENCE.sub("", markdown))  # code shows link syntax, it does not link
    targets = _INLINE.findall(text) + _REFERENCE.findall(text)
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t, re.IGNORECASE) and not t.startswith("#")]


MARKDOWN = _tracked("*.md")


def test_there_are_markdown_files_to_check() -> None:
    assert ROOT / "README.md" in MARKDOWN
    assert _relative_links("[a](docs/x.md) `[b](c.md)` [c](https://example.com) [d](#e)\n\n[f]: ../g.md") == [
        "docs/x.md",
        "../g.md",
    ]


@pytest.mark.parametrize("document", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_repository(document: Path) -> None:
    # GIVEN a Markdown file of the repository WHEN its relative links are followed
    problems = []
    for target in _relative_links(document.read_text(encoding="utf-8")):
        path = (document.parent / unquote(target.split("#", 1)[0])).resolve()
        # THEN each lands on a file or folder of the repository, never outside it
        if not path.is_relative_to(ROOT):
            problems.append(f"{target}: outside the repository")
        elif not path.exists():
            problems.append(f"{target}: no such file")
    assert not problems, f"{document.relative_to(ROOT)}: {problems}"


def test_the_readme_layout_names_every_top_level_folder() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme.split("### Layout", 1)[1].split("```", 2)[1]
    named = {line.split()[0].rstrip("/") for line in layout.splitlines() if line.strip()}
    folders = {path.relative_to(ROOT).parts[0] for path in _tracked("*/*")}
    assert folders - named == set()


def test_the_readme_lists_every_stack() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    deployed = readme.split("## What gets deployed", 1)[1].split("\n## ", 1)[0]
    # every stack id: the stages' (`PlatformStack(self, "Platform", ...)`) and the account's (STACK_ID)
    source = "\n".join(path.read_text(encoding="utf-8") for path in (ROOT / "stacks").glob("*.py"))
    stacks = set(re.findall(r'\w+Stack\(\s*self,\s*"(\w+)"', source)) | set(
        re.findall(r'^STACK_ID = "(\w+)"', source, re.M)
    )
    assert {"Platform", "Training", "Inference", "Drift", "DeploymentAccess"} <= stacks
    missing = sorted(name for name in stacks if f"`{name}`" not in deployed)
    assert not missing, f"README 'What gets deployed' does not list {missing}"
