"""One results file and one README for every benchmark: each script owns one section of each."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results.json")
README = Path(__file__).with_name("README.md")


def commit() -> str:
    """The commit the measured code is at; `-dirty` when the container or benchmarks differ from it."""
    root = RESULTS.parent.parent
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--", "container", "benchmarks/*.py"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return sha.stdout.strip() + ("-dirty" if changed.stdout.strip() else "")


def load_average() -> list[float]:
    """The machine's 1-, 5- and 15-minute load averages (2 cores: 2.0 = busy)."""
    return [round(value, 2) for value in os.getloadavg()]


def record(section: str, data: dict[str, Any], load_at_start: list[float] | None = None) -> None:
    """Replace ``section`` of benchmarks/results.json with ``data``, keeping the other sections.

    Every section carries the commit it was measured at, the date, and the load average around the run.
    """
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    measured: dict[str, Any] = {"commit": commit(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    if load_at_start is not None:
        measured["load_average_start"] = load_at_start
    measured["load_average_end"] = load_average()
    results[section] = data | {"measured_at": measured}
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def write_readme_section(marker: str, heading: str, body: str) -> None:
    """Replace what stands between the `<!-- marker -->` comments of benchmarks/README.md with `body`.

    A README without the markers gets them appended under `## heading`, so a new benchmark fills in.
    """
    text = README.read_text() if README.exists() else "# Benchmarks\n"
    if f"<!-- {marker} -->" not in text:
        text += f"\n## {heading}\n\n<!-- {marker} -->\n<!-- /{marker} -->\n"
    text = re.sub(
        rf"(<!-- {re.escape(marker)} -->\n).*?(<!-- /{re.escape(marker)} -->)",
        lambda m: m.group(1) + body + "\n" + m.group(2),
        text,
        flags=re.DOTALL,
    )
    README.write_text(text)
