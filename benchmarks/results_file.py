"""One results file for every benchmark: each script owns one top-level section of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results.json")


def record(section: str, data: dict[str, Any]) -> None:
    """Replace ``section`` of benchmarks/results.json with ``data``, keeping the other sections."""
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[section] = data
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
