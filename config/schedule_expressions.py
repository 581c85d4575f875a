"""Schedule expressions as EventBridge (and Application Auto Scaling) accept them, checked at load.

CloudFormation refuses a bad expression only at deploy time, with a bare `ValidationFailed`, so the
loader checks what the services document instead:
- `rate(<n> <unit>)`: n a whole number >= 1, unit minute, hour or day, singular for 1 and plural otherwise;
- `cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>)`: six fields, each a list of
  values, ranges (`a-b`), `*` and steps (`/n`) within the field's bounds; `?` in exactly one of
  day-of-month and day-of-week; `L` and `W` in day-of-month (`L`, `LW`, `15W`); `L` and `#` in
  day-of-week (`L`, `5L`, `MON#2`);
- `at(yyyy-mm-ddThh:mm:ss)` where the caller allows it (Application Auto Scaling's scheduled actions).
Sources: EventBridge User Guide "Schedule expressions for rules"; Application Auto Scaling's PutScheduledAction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_RATE = re.compile(r"rate\(([^ ()]+) ([^ ()]+)\)")
_CRON = re.compile(r"cron\((.*)\)")
_AT = re.compile(r"at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)")
_RATE_UNITS = ("minute", "hour", "day")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names of low, low+1, ...

    def value(self, text: str) -> int:
        """The number `text` stands for in this field; ValueError says what is allowed."""
        upper = text.upper()
        if upper in self.names:
            return self.low + self.names.index(upper)
        if not text.isdigit() or not self.low <= int(text) <= self.high:
            named = f" or {self.names[0]}-{self.names[-1]}" if self.names else ""
            raise ValueError(f"{self.name} value {text!r} is not {self.low}-{self.high}{named}")
        return int(text)


_MINUTES = _Field("minutes", 0, 59)
_HOURS = _Field("hours", 0, 23)
_DAY_OF_MONTH = _Field("day-of-month", 1, 31)
_MONTH = _Field("month", 1, 12, _MONTHS)
_DAY_OF_WEEK = _Field("day-of-week", 1, 7, _DAYS)
_YEAR = _Field("year", 1970, 2199)
_FIELDS = (_MINUTES, _HOURS, _DAY_OF_MONTH, _MONTH, _DAY_OF_WEEK, _YEAR)


def _element(field: _Field, text: str) -> None:
    """One comma-separated element: `*`, `a`, `a-b`, each optionally `/step`."""
    base, slash, step = text.partition("/")
    if slash and not (step.isdigit() and int(step) >= 1):
        raise ValueError(f"{field.name} step {step!r} in {text!r} is not a whole number >= 1")
    if base == "*":
        return
    low, dash, high = base.partition("-")
    field.value(low)
    if dash:
        field.value(high)


def _special(field: _Field, text: str) -> bool:
    """Whether `text` is one of the field's own wildcards (L, W, #), checking its number if it has one."""
    if field is _DAY_OF_MONTH:
        if text.upper() in {"L", "LW"}:
            return True
        if text.upper().endswith("W"):
            field.value(text[:-1])
            return True
    if field is _DAY_OF_WEEK:
        if text.upper() == "L":
            return True
        if text.upper().endswith("L"):
            field.value(text[:-1])
            return True
        day, hash_, nth = text.partition("#")
        if hash_:
            field.value(day)
            if nth not in {"1", "2", "3", "4", "5"}:
                raise ValueError(f"day-of-week {text!r}: the week after '#' must be 1-5")
            return True
    return False


def _cron_field(field: _Field, text: str) -> None:
    if text == "?":
        if field not in (_DAY_OF_MONTH, _DAY_OF_WEEK):
            raise ValueError(f"'?' is allowed in day-of-month or day-of-week only, not in {field.name}")
        return
    if _special(field, text):
        return
    for element in text.split(","):
        if not element:
            raise ValueError(f"{field.name} {text!r} has an empty list element")
        _element(field, element)


def _cron_problem(body: str) -> str | None:
    parts = body.split()
    if len(parts) != len(_FIELDS):
        return (
            f"cron() needs 6 fields (minutes hours day-of-month month day-of-week year), got {len(parts)}: "
            "e.g. cron(0 3 * * ? *) for 03:00 UTC every day"
        )
    try:
        for field, text in zip(_FIELDS, parts, strict=True):
            _cron_field(field, text)
    except ValueError as error:
        return str(error)
    if (parts[2] == "?") == (parts[4] == "?"):
        return "exactly one of day-of-month and day-of-week must be '?' (e.g. cron(0 3 * * ? *) or cron(0 3 ? * MON *))"
    return None


def _rate_problem(value: str, unit: str) -> str | None:
    if not value.isdigit() or int(value) < 1:
        return f"rate() needs a whole number >= 1, got {value!r}"
    singular = unit.removesuffix("s")
    if singular not in _RATE_UNITS:
        return f"rate() unit must be minute(s), hour(s) or day(s), got {unit!r}"
    expected = singular if int(value) == 1 else f"{singular}s"
    if unit != expected:
        return f"rate({value} {unit}) must read rate({value} {expected})"
    return None


def schedule_problem(expression: str, *, allow_at: bool = False) -> str | None:
    """What is wrong with `expression` as a schedule expression, or None when the service accepts it."""
    if rate := _RATE.fullmatch(expression):
        return _rate_problem(*rate.groups())
    if cron := _CRON.fullmatch(expression):
        return _cron_problem(cron.group(1))
    if allow_at and (at := _AT.fullmatch(expression)):
        try:
            datetime.fromisoformat(at.group(1))
        except ValueError:
            return f"at() holds no valid date and time: {at.group(1)!r}"
        return None
    forms = "rate(<n> <unit>), cron(<6 fields>)" + (" or at(yyyy-mm-ddThh:mm:ss)" if allow_at else "")
    return f"must be {forms}, e.g. rate(1 day) or cron(0 3 * * ? *)"
