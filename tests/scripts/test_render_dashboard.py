"""The dashboard picture linked from the README is drawn from the current templates."""

from __future__ import annotations

from scripts.render_dashboard import dashboard_body, render_svg
from tests.helpers import ROOT, Synthesized

PICTURE = ROOT / "docs" / "dashboard-prod.svg"


def test_the_committed_picture_matches_the_prod_dashboard(synthesized: Synthesized) -> None:
    # GIVEN prod's synthesized dashboard WHEN it is drawn THEN it is the picture the README shows;
    # after a dashboard change: make synth && .venv/bin/python -m scripts.render_dashboard
    #   cdk.out/assembly-Prod --out docs/dashboard-prod.svg
    svg = render_svg(dashboard_body(synthesized.template("prod", "Inference")), "Dashboard of Prod")
    assert svg == PICTURE.read_text()


def test_every_widget_is_drawn_with_its_title(synthesized: Synthesized) -> None:
    body = dashboard_body(synthesized.template("staging", "Inference"))
    svg = render_svg(body, "Staging")
    titles = [w["properties"]["title"] for w in body["widgets"] if "title" in w.get("properties", {})]
    assert titles
    for title in titles:
        assert title.split(":")[0] in svg
    assert svg.count("<rect") == len(body["widgets"]) + 1  # the background
