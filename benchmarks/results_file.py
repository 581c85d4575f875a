"""One results file and one README for every benchmark: each script owns one section of each."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results.json")
README = Path(__file__).with_name("README.md")


def record(section: str, data: dict[str, Any]) -> None:
    """Replace ``section`` of benchmarks/results.json with ``data``, keeping the other sections."""
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[section] = data
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
