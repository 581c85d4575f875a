"""The same commit synthesizes byte-identical templates: no timestamps, randomness or AWS calls."""

from __future__ import annotations

from pathlib import Path

from review.synth import synthesize
from tests.helpers import ROOT


def _files(outdir: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(outdir)): path.read_bytes()
        for path in sorted(outdir.rglob("*"))
        if path.is_file() and path.suffix == ".json"
    }


def test_two_synths_are_byte_identical(cli_synth: Path, tmp_path: Path) -> None:
    """GIVEN the working tree synthesized as `cdk synth` runs app.py (the session's `cli_synth`)
    WHEN it is synthesized again in another process (another hash seed: sets iterate in another order)
    THEN every JSON file of the two assemblies is the same, byte for byte."""
    synthesize(ROOT, tmp_path / "second", what="the working tree")
    first, second = _files(cli_synth), _files(tmp_path / "second")
    templates = [name for name in first if name.endswith(".template.json")]
    assert len(templates) >= 3
    assert first.keys() == second.keys()
    for name in first:
        assert first[name] == second[name], f"{name} differs between two synths"
