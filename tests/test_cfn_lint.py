"""cfn-lint finds no error in any synthesized template."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import Synthesized


def test_cfn_lint_reports_no_errors(synthesized: Synthesized) -> None:
    templates = sorted(str(p) for p in synthesized.outdir.glob("assembly-*/*.template.json"))
    assert len(templates) >= 3
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    # W3005 (a DependsOn that a GetAtt already implies) comes from CDK's own Lambda constructs,
    # which always list their role; it changes nothing in the deployment.
    command = [str(cfn_lint), "--format", "parseable", "--ignore-checks", "W3005", "--", *templates]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    # cfn-lint's exit code is a bit mask: 2 = errors, 4 = warnings, 8 = informational.
    assert result.returncode == 0, result.stdout + result.stderr
