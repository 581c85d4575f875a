"""Whole-number settings read from the environment: one reader, one error shape naming the variable."""

from __future__ import annotations

import os
import re

_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")


class SettingError(ValueError):
    """A serving variable with a value outside what it allows; the message names both."""


def int_variable(name: str, default: int, low: int, high: int) -> int:
    """Digits only: `8080.9`, `1e3`, `inf` and `-1` are refused rather than rounded or crashed on."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    text = raw.strip()
    allowed = f"{name} must be a whole number from {low} to {high}"
    if not _WHOLE_NUMBER.fullmatch(text) or not low <= int(text) <= high:
        raise SettingError(f"{allowed}, got {_shown(text)!r}")
    return int(text)


def _shown(text: str) -> str:
    """A caller's value as an error message quotes it: at most 40 characters."""
    return text if len(text) <= 40 else text[:40] + "..."
