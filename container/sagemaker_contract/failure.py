"""The one writer of /opt/ml/output/failure (SageMaker's FailureReason); light, so the entry point's parent uses it."""

from __future__ import annotations

import sys
from pathlib import Path

FAILURE_LIMIT = 1024  # DescribeTrainingJob shows at most this many characters of the failure reason


def write_failure(failure: Path, reason: str) -> None:
    """One human-readable line in `failure` (replacing an earlier one), and on stderr for the training log."""
    reason = " ".join(reason.split())[:FAILURE_LIMIT]
    print(f"training failed: {reason}", file=sys.stderr, flush=True)
    failure.parent.mkdir(parents=True, exist_ok=True)
    failure.write_text(reason + "\n")
