"""The one writer of a job's failure reason; light, so the entry point's parent uses it.

SageMaker shows the first 1024 characters of a file as the job's failure: /opt/ml/output/failure for a
training job (DescribeTrainingJob's FailureReason), /opt/ml/output/message for a processing job
(DescribeProcessingJob's ExitMessage). The caller gives the path.
"""

from __future__ import annotations

import sys
from pathlib import Path

FAILURE_LIMIT = 1024  # DescribeTrainingJob and DescribeProcessingJob show at most this many characters


def write_failure(failure: Path, reason: str, *, job: str = "training") -> None:
    """One human-readable line in `failure` (replacing an earlier one), and on stderr for the `job`'s log."""
    reason = " ".join(reason.split())[:FAILURE_LIMIT]
    print(f"{job} failed: {reason}", file=sys.stderr, flush=True)
    failure.parent.mkdir(parents=True, exist_ok=True)
    failure.write_text(reason + "\n", encoding="utf-8")
