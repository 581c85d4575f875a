"""The drift check's defaults and limits: the defaults are the container's, the limits one check for all.

The container's monitor applies its defaults when a variable is unset and exports them with its names
(`container/interface.json`, read by `config/contract.py`); the configuration (`DriftSettings`) and the
construct (`DriftMonitor`) both take these defaults and apply `drift_problems`, so the three agree by
construction. docs/drift.md ("How noisy is the PSI") explains the noise rule.
"""

from __future__ import annotations

import math

from config.contract import CONTAINER_DRIFT

DEFAULT_PSI_THRESHOLD = CONTAINER_DRIFT.psi_threshold.default
DEFAULT_MIN_ROWS = int(CONTAINER_DRIFT.min_rows.default)
# Histogram bins per feature of the container's drift baseline (its nine deciles as edges).
DRIFT_BINS = CONTAINER_DRIFT.bins
# A threshold must stand this many times above the PSI that sampling alone gives at min_rows.
DRIFT_NOISE_MARGIN = 3
MAX_PSI_THRESHOLD = 10
MAX_MIN_ROWS = 10_000_000


def psi_noise(rows: int, baseline_rows: float = math.inf, bins: int = DRIFT_BINS) -> float:
    """The PSI two samples of one distribution show on average: about (bins - 1) x (1/rows + 1/baseline_rows)."""
    return (bins - 1) * (1 / rows + 1 / baseline_rows)


def drift_problems(psi_threshold: float, min_rows: int) -> list[str]:
    """What is wrong with a drift threshold and minimum window, each problem one sentence; [] when nothing."""
    problems = []
    if not 0 < psi_threshold <= MAX_PSI_THRESHOLD:
        problems.append(f"psi_threshold must be above 0 and at most {MAX_PSI_THRESHOLD}, got {psi_threshold:g}")
    if not 1 <= min_rows <= MAX_MIN_ROWS:
        problems.append(f"min_rows must be at least 1 and at most {MAX_MIN_ROWS:_}, got {min_rows}")
    if problems:
        return problems
    # Below this, windows of min_rows rows pass the threshold with no drift at all: a page every quiet hour.
    floor = DRIFT_NOISE_MARGIN * psi_noise(min_rows)
    if psi_threshold < floor:
        rows = math.ceil(DRIFT_NOISE_MARGIN * (DRIFT_BINS - 1) / psi_threshold)
        problems.append(
            f"psi_threshold ({psi_threshold:g}) must be at least {DRIFT_NOISE_MARGIN}x the PSI that sampling "
            f"alone gives at min_rows ({min_rows}) rows, (bins-1)/min_rows = {psi_noise(min_rows):.3g}: "
            f"raise psi_threshold to {floor:.3g} or min_rows to {rows}"
        )
    return problems
