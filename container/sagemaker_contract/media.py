"""Content negotiation: which body type a request holds (Content-Type) and which its answer takes (Accept).

The codecs (`codecs.py`) turn bodies of these types into features and predictions into bodies.
"""

from __future__ import annotations

import math

from sagemaker_contract.errors import BadRequestError

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
NPY = "application/x-npy"
INPUT_TYPES = (CSV, JSON, JSONLINES, NPY)
OUTPUT_TYPES = (CSV, JSON, JSONLINES, NPY)
_ALIASES = {"application/x-jsonlines": JSONLINES, "application/jsonl": JSONLINES, "text/x-csv": CSV}
_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})


def _parameters(header: str) -> tuple[str, dict[str, str]]:
    kind, *parameters = header.split(";")
    pairs = (parameter.split("=", 1) for parameter in parameters if "=" in parameter)
    return kind.strip().lower(), {name.strip().lower(): value.strip().strip('"').lower() for name, value in pairs}


def media_type(header: str) -> str:
    """`text/csv; charset=utf-8` -> `text/csv` (aliases normalized)."""
    kind = _parameters(header)[0]
    return _ALIASES.get(kind, kind)


def input_type(content_type: str | None) -> str:
    kind, parameters = _parameters(content_type or "")
    kind = _ALIASES.get(kind, kind)
    if kind not in INPUT_TYPES:
        shown = repr(content_type) if content_type else "none"
        raise BadRequestError(
            415,
            f"Content-Type {shown} is not supported; send one of {', '.join(INPUT_TYPES)}",
            "Content-Type not supported",
        )
    charset = parameters.get("charset")
    if charset is not None and kind != NPY and charset not in _CHARSETS:
        raise BadRequestError(
            415, f"charset {charset!r} is not supported; send UTF-8 text", "Content-Type charset not supported"
        )
    return kind


def _ranges(accept: str) -> list[tuple[str, float]]:
    """Accept's media ranges with their weights (RFC 9110 12.5.1); a malformed weight counts as 1."""
    ranges = []
    for item in accept.split(","):
        kind, parameters = _parameters(item)
        if not kind:
            continue
        try:
            quality = min(max(float(parameters.get("q", "1")), 0.0), 1.0)
        except ValueError:
            quality = 1.0
        ranges.append((_ALIASES.get(kind, kind), quality if math.isfinite(quality) else 1.0))
    return ranges


def _match(candidate: str, ranges: list[tuple[str, float]]) -> tuple[float, int]:
    """The weight of the most specific range matching `candidate`, and that range's position (RFC 9110 12.5.1)."""
    best = (-1, 0.0, 0)
    top = candidate.split("/", 1)[0]
    for position, (kind, quality) in enumerate(ranges):
        specificity = 2 if kind == candidate else 1 if kind == f"{top}/*" else 0 if kind == "*/*" else -1
        if specificity > best[0]:
            best = (specificity, quality, position)
    return (best[1], best[2]) if best[0] >= 0 else (0.0, 0)


def output_type(accept: str | None, request_type: str) -> str:
    """The acceptable type with the highest weight; ties go to the earlier range, then the request's format.

    No Accept (or `*/*`) answers in the request's format (CSV for a .npy request).
    """
    default = request_type if request_type != NPY else CSV
    if not accept or not accept.strip():
        return default
    if accept in OUTPUT_TYPES:  # the common case: one exact type
        return accept
    ranges = _ranges(accept)
    candidates = [default, *(kind for kind in OUTPUT_TYPES if kind != default)]
    scored = [(_match(kind, ranges), order, kind) for order, kind in enumerate(candidates)]
    (quality, _), _, best = max(scored, key=lambda item: (item[0][0], -item[0][1], -item[1]))
    if quality <= 0:
        raise BadRequestError(
            406, f"Accept {accept!r} matches none of the types available: {', '.join(OUTPUT_TYPES)}", "Accept not met"
        )
    return best
