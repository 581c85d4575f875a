"""Render a review as Markdown (a pull-request comment) or JSON."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from review.model import Change, ResourceChange, Review, StackReview, Verdict

MARKS = {
    Verdict.BLOCKED: "❌",
    Verdict.ACKNOWLEDGED: "☑️",
    Verdict.NOT_ENFORCED: "⚠",
    Verdict.ALLOWED: "",
}
SUMMARY_COLUMNS = (
    ("added", (Change.ADDED, Change.IMPORTED)),
    ("removed", (Change.REMOVED,)),
    ("orphaned", (Change.ORPHANED,)),
    ("in place", (Change.IN_PLACE,)),
    ("replaced", (Change.REPLACED, Change.MAY_REPLACE)),
)
VALUE_WIDTH = 60
NOTHING = "\u2013"  # an en dash: an empty table cell


def verdict_line(review: Review) -> str:
    blocked = review.blocked
    if not blocked:
        return "✅ No stateful resource is replaced, deleted or orphaned in staging or prod without acknowledgment."
    names = ", ".join(f"{stack.environment}/{resource.logical_id}" for stack, resource in blocked)
    return f"❌ {len(blocked)} stateful resource change(s) need an acknowledgment: {names}."


def to_markdown(review: Review) -> str:
    lines = [
        "## CloudFormation review",
        "",
        f"`{review.base}` → `{review.head}`, compared offline with `{review.library}` (the `cdk diff` library).",
        "",
        f"**{verdict_line(review)}**",
        "",
    ]
    lines += [f"> {note}" for note in review.notes]
    lines += [f"> Unused acknowledgment: {name}" for name in review.unused_acknowledgments]
    if review.notes or review.unused_acknowledgments:
        lines.append("")
    for environment in review.environments:
        stacks = [stack for stack in review.stacks if stack.environment == environment]
        lines += [f"### {environment}", "", _summary_table(stacks), ""]
    changed = [stack for stack in review.stacks if stack.status != "unchanged"]
    if changed:
        lines += ["### Details", ""]
    for stack in changed:
        lines += _details(stack)
    lines += [
        "<sub>❌ stateful resource replaced, deleted or orphaned in staging/prod without acknowledgment · "
        "☑️ acknowledged · "
        "⚠ stateful change in an environment the policy does not enforce, or IAM/security-group widening</sub>",
    ]
    return "\n".join(lines) + "\n"


def _summary_table(stacks: list[StackReview]) -> str:
    header = ["stack", *(name for name, _ in SUMMARY_COLUMNS), "IAM", "security groups"]
    rows = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for stack in stacks:
        counts = [str(stack.count(*changes)) for _, changes in SUMMARY_COLUMNS]
        blocked = any(r.verdict is Verdict.BLOCKED for r in stack.resources)
        name = f"{'❌ ' if blocked else ''}`{stack.stack}`" + (
            "" if stack.status in ("changed", "unchanged") else f" ({stack.status})"
        )
        rows.append("| " + " | ".join([name, *counts, _iam_cell(stack), _groups_cell(stack)]) + " |")
    return "\n".join(rows)


def _iam_cell(stack: StackReview) -> str:
    if stack.iam.broadened:
        return "⚠ widened"
    return "changed" if stack.iam.any else NOTHING


def _groups_cell(stack: StackReview) -> str:
    if stack.security_group_rules_added:
        return "⚠ rules added"
    return "changed" if stack.security_group_rules else NOTHING


def _details(stack: StackReview) -> list[str]:
    lines = [f"#### {stack.environment}: `{stack.stack}` ({stack.status})", ""]
    if stack.resources:
        lines += ["| | resource | type | change | why |", "| --- | --- | --- | --- | --- |"]
        lines += [_resource_row(resource) for resource in _ordered(stack.resources)]
        lines.append("")
    if stack.iam.any:
        lines += [f"IAM statement changes{' (⚠ permissions widened)' if stack.iam.broadened else ''}:", ""]
        lines += ["| | effect | action | resource | principal | condition |", "| --- | --- | --- | --- | --- | --- |"]
        for sign, statements in (("+", stack.iam.added), ("-", stack.iam.removed)):
            for s in statements:
                mark = "⚠ " if sign == "+" and s.wildcard and not s.negative else ""
                cells = [_code(s.action), _code(s.resource), _code(s.principal), _code(s.condition)]
                lines.append(f"| {mark}{sign} | {s.effect} | " + " | ".join(cells) + " |")
        lines += [f"| + | managed policy | {_code(p)} | | | |" for p in stack.iam.managed_policies_added]
        lines += [f"| - | managed policy | {_code(p)} | | | |" for p in stack.iam.managed_policies_removed]
        lines.append("")
    if stack.security_group_rules:
        lines += [
            "Security group changes:",
            "",
            "| | direction | group | protocol | peer |",
            "| --- | --- | --- | --- | --- |",
        ]
        for rule in stack.security_group_rules:
            sign = "⚠ +" if rule.added else "-"
            lines.append(f"| {sign} | {rule.direction} | {_code(rule.group)} | {rule.protocol} | {_code(rule.peer)} |")
        lines.append("")
    return lines


def _ordered(resources: tuple[ResourceChange, ...]) -> list[ResourceChange]:
    """Violations first, then replacements, removals, additions, in-place updates."""
    rank = {Verdict.BLOCKED: 0, Verdict.ACKNOWLEDGED: 1, Verdict.NOT_ENFORCED: 2, Verdict.ALLOWED: 3}
    order = [Change.REPLACED, Change.MAY_REPLACE, Change.REMOVED, Change.ORPHANED, Change.ADDED, Change.IMPORTED]
    return sorted(
        resources,
        key=lambda r: (rank[r.verdict], order.index(r.change) if r.change in order else len(order), r.logical_id),
    )


def _resource_row(resource: ResourceChange) -> str:
    name = f"`{resource.logical_id}`" + (f"<br><sub>{resource.path}</sub>" if resource.path else "")
    kind = resource.resource_type + (f" (was {resource.old_type})" if resource.old_type else "")
    change = (
        f"**{resource.change.value}**"
        if resource.change.replaces or resource.change is Change.REMOVED or resource.verdict is Verdict.BLOCKED
        else resource.change.value
    )
    return f"| {MARKS[resource.verdict]} | {name} | {kind} | {change} | {_why(resource)} |"


def _why(resource: ResourceChange) -> str:
    reasons = []
    for p in resource.properties:
        differences = _differences(p.old, p.new, p.name) if p.old is not None or p.new is not None else []
        if [path for path, _, _ in differences] == [p.name]:
            reasons.append(f"`{p.name}` ({p.change.value}): {_code(_short(p.old))} → {_code(_short(p.new))}")
            continue
        reasons.append(f"`{p.name}` ({p.change.value})")
        reasons += [f"{_code(path)}: {_code(_short(a))} → {_code(_short(b))}" for path, a, b in differences[:3]]
        if len(differences) > 3:
            reasons.append(f"and {len(differences) - 3} more")
    if resource.other:
        reasons.append("also " + ", ".join(f"`{name}`" for name in resource.other))
    if resource.due_to:
        reasons.append("references " + ", ".join(f"`{name}`" for name in resource.due_to) + ", which is replaced")
    if resource.still_at:
        reasons.append(f"DeletionPolicy Retain, leaves the template: {resource.still_at}")
    elif resource.change is Change.ORPHANED:
        reasons.append("DeletionPolicy Retain: leaves the template, stays in the account")
    if resource.verdict is Verdict.BLOCKED and resource.change is Change.ORPHANED:
        reasons.append(
            "the app and its roles lose it (a renamed construct creates a new, empty one): restore the construct "
            'id, or move what it holds and acknowledge with change = "orphan"'
        )
    if resource.acknowledgment:
        reasons.append(f"acknowledged: {resource.acknowledgment}")
    return "<br>".join(reasons) or NOTHING


def _differences(old: Any, new: Any, path: str) -> list[tuple[str, Any, Any]]:
    """Where two property values differ, as paths to the innermost differing values."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            difference
            for key in sorted({*old, *new})
            if old.get(key) != new.get(key)
            for difference in _differences(old.get(key), new.get(key), f"{path}.{key}")
        ]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            difference
            for index, (a, b) in enumerate(zip(old, new, strict=True))
            if a != b
            for difference in _differences(a, b, f"{path}[{index}]")
        ]
    return [(path, old, new)]


def _short(value: Any) -> str:
    text = "(none)" if value is None else value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


def _code(text: str) -> str:
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`" if text else NOTHING


def to_json(review: Review, exit_code: int) -> str:
    data = dataclasses.asdict(review)
    # What the Markdown flags, derived from the rules (dataclasses.asdict leaves properties out).
    for stack, stack_data in zip(review.stacks, data["stacks"], strict=True):
        stack_data["security_group_rules_added"] = stack.security_group_rules_added
    data["blocked"] = [f"{stack.environment}/{stack.stack}/{r.logical_id}" for stack, r in review.blocked]
    data["exit_code"] = exit_code
    return json.dumps(data, indent=2, default=str) + "\n"
