"""The same commit synthesizes byte-identical templates: no timestamps, randomness or AWS calls."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT, cdk_context


def _synth_like_the_cli(outdir: Path) -> dict[str, bytes]:
    """Run app.py as `cdk synth` does (context and output directory in the environment)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CDK_", "AWS_"))}
    env |= {"CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(cdk_context())}
    subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, check=True, capture_output=True)
    return {
        str(path.relative_to(outdir)): path.read_bytes()
        for path in sorted(outdir.rglob("*"))
        if path.is_file() and path.suffix == ".json"
    }


def test_two_synths_are_byte_identical(tmp_path: Path) -> None:
    first = _synth_like_the_cli(tmp_path / "first")
    second = _synth_like_the_cli(tmp_path / "second")
    templates = [name for name in first if name.endswith(".template.json")]
    assert len(templates) >= 3
    assert first.keys() == second.keys()
    for name in first:
        assert first[name] == second[name], f"{name} differs between two synths"
