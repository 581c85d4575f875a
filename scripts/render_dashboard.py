"""Draw an environment's CloudWatch dashboard layout as an SVG, from the synthesized template.

    python -m scripts.render_dashboard cdk.out/assembly-Prod --out docs/dashboard-prod.svg

Reviewers see what the dashboard holds without deploying it: each widget at its grid position,
with its title and the metrics it plots (or its text). Values that exist only after deployment
(bucket names, alarm ARNs) are shown as `<Ref>`-style placeholders.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import textwrap
from pathlib import Path
from typing import Any

GRID_UNIT = 40  # pixels per dashboard grid column
ROW_UNIT = 28  # pixels per dashboard grid row
COLUMNS = 24


def dashboard_body(template: dict[str, Any]) -> dict[str, Any]:
    """The dashboard body of a template, with unresolved references replaced by placeholders."""
    dashboards = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    if len(dashboards) != 1:
        raise ValueError(f"expected one dashboard in the template, found {len(dashboards)}")
    body = dashboards[0]["Properties"]["DashboardBody"]
    if isinstance(body, str):
        text = body
    else:
        parts = body["Fn::Join"][1]
        text = "".join(part if isinstance(part, str) else _placeholder(part) for part in parts)
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def _placeholder(token: dict[str, Any]) -> str:
    (function, argument), *_ = token.items()
    if function == "Ref":
        return f"<{argument}>"
    if function == "Fn::GetAtt":
        return f"<{'.'.join(argument)}>"
    return f"<{function}>"


def _widget_lines(widget: dict[str, Any]) -> tuple[str, list[str]]:
    properties = widget.get("properties", {})
    characters = widget["width"] * GRID_UNIT // 7
    if widget["type"] == "text":
        markdown = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", properties.get("markdown", ""))
        return "", [line for paragraph in markdown.splitlines() for line in textwrap.wrap(paragraph, characters)]
    if widget["type"] == "alarm":
        return properties.get("title", "Alarms"), [f"{len(properties.get('alarms', []))} alarms"]
    lines = []
    for metric in properties.get("metrics", []):
        options = metric[-1] if metric and isinstance(metric[-1], dict) else {}
        if options.get("visible") is False:
            continue  # an input of an expression, not plotted
        if "expression" in options:
            lines.append(f"ƒ {options.get('label', options['expression'])}")
        else:
            names = [part for part in metric if isinstance(part, str)]
            label = options.get("label") or (names[1] if len(names) > 1 else "?")
            stat = options.get("stat", "")
            lines.append(f"{label} {stat}".strip())
    title = textwrap.shorten(properties.get("title", ""), characters - 10, placeholder="…")
    return title, [textwrap.shorten(line, characters, placeholder="…") for line in lines]


def render_svg(body: dict[str, Any], title: str) -> str:
    """An SVG picture of the dashboard's widgets at their grid positions."""
    widgets = body["widgets"]
    height = max((w["y"] + w["height"]) for w in widgets) * ROW_UNIT + 60
    width = COLUMNS * GRID_UNIT + 20
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif">',
        f'<rect width="{width}" height="{height}" fill="#f4f5f7"/>',
        f'<text x="10" y="30" font-size="18" font-weight="bold">{html.escape(title)}</text>',
    ]
    for widget in widgets:
        x, y = 10 + widget["x"] * GRID_UNIT, 45 + widget["y"] * ROW_UNIT
        w, h = widget["width"] * GRID_UNIT - 6, widget["height"] * ROW_UNIT - 6
        heading, lines = _widget_lines(widget)
        fill = "#fffbe6" if widget["type"] == "text" else "#ffffff"
        out.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="4" fill="{fill}" stroke="#c7ccd1"/>')
        text_y = y + 18
        if heading:
            out.append(
                f'<text x="{x + 8}" y="{text_y}" font-size="13" font-weight="bold">{html.escape(heading)}</text>'
            )
            text_y += 18
        for line in lines[: max(1, (h - 24) // 14)]:
            out.append(f'<text x="{x + 8}" y="{text_y}" font-size="11" fill="#333">{html.escape(line)}</text>')
            text_y += 14
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assembly", type=Path, help="a stage's cloud assembly, e.g. cdk.out/assembly-Prod")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    templates = sorted(args.assembly.glob("*Inference*.template.json"))
    if len(templates) != 1:
        parser.error(f"expected one Inference template in {args.assembly}, found {len(templates)}")
    body = dashboard_body(json.loads(templates[0].read_text()))
    args.out.write_text(render_svg(body, f"Dashboard of {args.assembly.name.removeprefix('assembly-')}"))


if __name__ == "__main__":
    main()
