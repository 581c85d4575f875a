"""checkov over every synthesized template: no finding beyond the reviewed skips in checkov-skips.toml."""

from __future__ import annotations

import fnmatch
import json
import subprocess
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

import pytest

from tests.helpers import ROOT, Synthesized

CHECKOV = ROOT / ".checkov-venv" / "bin" / "checkov"
SKIPS_FILE = ROOT / "checkov-skips.toml"


@dataclass(frozen=True)
class Skip:
    """One reviewed entry of checkov-skips.toml: the check, where it may fail (stages: every one when None), why."""

    check: str
    resources: tuple[str, ...]
    reason: str
    stages: tuple[str, ...] | None = None

    def covers(self, finding: Finding) -> bool:
        return (
            self.check == finding.check
            and (self.stages is None or finding.stage in self.stages)
            and any(fnmatch.fnmatchcase(finding.resource, pattern) for pattern in self.resources)
        )


@dataclass(frozen=True)
class Finding:
    check: str
    stage: str
    resource: str
    name: str


def _skips() -> list[Skip]:
    """The file's entries, read once: an unknown key is an error naming the entry."""
    skips = []
    for entry in tomllib.loads(SKIPS_FILE.read_text())["skip"]:
        unknown = sorted(set(entry) - {field.name for field in fields(Skip)})
        assert not unknown, f"{SKIPS_FILE.name}: the entry of {entry.get('check')} has unknown keys {unknown}"
        stages = tuple(entry["stages"]) if "stages" in entry else None
        skips.append(Skip(entry["check"], tuple(entry["resources"]), entry["reason"], stages))
    return skips


def _run_checkov(outdir: Path) -> list[Finding]:
    completed = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(outdir),
            "--framework",
            "cloudformation",
            "--skip-download",
            "--quiet",
            "--compact",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if completed.returncode not in {0, 1}:  # 1: failed checks, reported below
        pytest.fail(f"checkov did not run (exit {completed.returncode}): {completed.stderr[-2000:]}")
    reports = json.loads(completed.stdout) if completed.stdout.strip() else []
    findings = []
    for report in reports if isinstance(reports, list) else [reports]:
        assert report["summary"]["parsing_errors"] == 0, report["summary"]
        for failed in report["results"]["failed_checks"]:
            stage = Path(failed["file_path"]).parent.name.removeprefix("assembly-")
            findings.append(Finding(failed["check_id"], stage, failed["resource"], failed["check_name"]))
    return findings


@pytest.fixture(scope="module")
def findings(synthesized: Synthesized) -> list[Finding]:
    if not CHECKOV.exists():
        pytest.skip("no .checkov-venv/ (checkov pins an old boto3, so it has its own); `make test` creates it")
    return _run_checkov(synthesized.outdir)


def test_every_skip_has_a_reason_and_names_its_check_and_resources() -> None:
    # GIVEN the reviewed skips WHEN each is read THEN it says which check, where, and why
    for skip in _skips():
        assert skip.check.startswith("CKV"), skip
        assert skip.resources, skip
        assert len(skip.reason) > 40, f"{skip.check}: give a reason a security reviewer would accept"


@pytest.mark.slow
def test_checkov_finds_nothing_beyond_the_reviewed_skips(findings: list[Finding]) -> None:
    # GIVEN every environment's synthesized templates WHEN checkov checks them
    unexpected = [f for f in findings if not any(s.covers(f) for s in _skips())]
    # THEN every failed check is a reviewed skip
    assert not unexpected, "\n".join(f"{f.check} {f.stage} {f.resource}: {f.name}" for f in unexpected)


@pytest.mark.slow
def test_every_skip_still_matches_a_finding(findings: list[Finding]) -> None:
    # GIVEN the reviewed skips WHEN checkov's findings are compared with them
    unused = [s.check for s in _skips() if not any(s.covers(f) for f in findings)]
    # THEN none is stale: a fixed finding takes its skip out of the file
    assert not unused, f"remove these entries from {SKIPS_FILE.name}: {unused}"
