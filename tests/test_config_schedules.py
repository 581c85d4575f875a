"""Schedule expressions (transform.schedule.expression, endpoint.autoscaling.schedules.N.schedule) are checked at load.

CloudFormation refuses a bad one only at deploy time with a bare ValidationFailed; the loader names environment
and field, and what EventBridge accepts instead.
"""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import pytest

from config import ConfigError, parse_config
from config.schedule_expressions import schedule_problem
from config.settings import DEFAULT_CONFIG_FILE

Raw = dict[str, Any]


@pytest.fixture
def raw() -> Raw:
    return copy.deepcopy(tomllib.loads(DEFAULT_CONFIG_FILE.read_text()))


def _with_batch_schedule(raw: Raw, expression: str) -> Raw:
    raw["environments"]["staging"]["transform"]["schedule"] = {"expression": expression, "data_prefix": "daily"}
    return raw


def _with_capacity_schedule(raw: Raw, expression: str) -> Raw:
    raw["environments"]["prod"]["endpoint"]["autoscaling"]["schedules"] = [
        {"name": "Day", "schedule": expression, "min_capacity": 2, "max_capacity": 4}
    ]
    return raw


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minute)",
        "rate(5 minutes)",
        "rate(1 hour)",
        "rate(1 day)",
        "rate(365 days)",
        "cron(0 3 * * ? *)",
        "cron(0/15 8-17 ? * MON-FRI *)",
        "cron(0 18 ? * mon-fri *)",
        "cron(59 23 L * ? 2199)",
        "cron(0 9 15W JAN,JUL ? 1970-2026)",
        "cron(0 10 LW * ? *)",
        "cron(30 6 ? * 6L *)",
        "cron(0 12 ? * MON#2 *)",
        "cron(*/5 * ? * 1,7 */2)",
    ],
)
def test_expressions_eventbridge_accepts_load(raw: Raw, expression: str) -> None:
    # GIVEN a batch schedule EventBridge accepts WHEN loaded THEN it is kept as written
    schedule = parse_config(_with_batch_schedule(raw, expression)).environment("staging").transform.schedule
    assert schedule is not None
    assert schedule.expression == expression


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("cron(0 3 * * *)", r"cron\(\) needs 6 fields \(minutes hours day-of-month month day-of-week year\), got 5"),
        ("cron(0 3 * * ? * *)", r"cron\(\) needs 6 fields .*got 7"),
        ("cron()", r"cron\(\) needs 6 fields .*got 0"),
        ("cron(0 3 * * * *)", r"exactly one of day-of-month and day-of-week must be '\?'"),
        ("cron(0 3 ? * ? *)", r"exactly one of day-of-month and day-of-week must be '\?'"),
        ("cron(60 3 * * ? *)", r"minutes value '60' is not 0-59"),
        ("cron(0 24 * * ? *)", r"hours value '24' is not 0-23"),
        ("cron(0 3 0 * ? *)", r"day-of-month value '0' is not 1-31"),
        ("cron(0 3 32 * ? *)", r"day-of-month value '32' is not 1-31"),
        ("cron(0 3 * 13 ? *)", r"month value '13' is not 1-12 or JAN-DEC"),
        ("cron(0 3 * JANUARY ? *)", r"month value 'JANUARY' is not 1-12 or JAN-DEC"),
        ("cron(0 3 ? * 8 *)", r"day-of-week value '8' is not 1-7 or SUN-SAT"),
        ("cron(0 3 ? * MON#6 *)", r"day-of-week 'MON#6': the week after '#' must be 1-5"),
        ("cron(0 3 * * ? 1969)", r"year value '1969' is not 1970-2199"),
        ("cron(0 3 * * ? 2200)", r"year value '2200' is not 1970-2199"),
        ("cron(? 3 * * ? *)", r"'\?' is allowed in day-of-month or day-of-week only, not in minutes"),
        ("cron(0/0 3 * * ? *)", r"minutes step '0' in '0/0' is not a whole number >= 1"),
        ("cron(0 3, * * ? *)", r"hours '3,' has an empty list element"),
        ("cron(-1 3 * * ? *)", r"minutes value '' is not 0-59"),
        ("rate(0 minutes)", r"rate\(\) needs a whole number >= 1, got '0'"),
        ("rate(-1 minutes)", r"rate\(\) needs a whole number >= 1, got '-1'"),
        ("rate(1.5 hours)", r"rate\(\) needs a whole number >= 1, got '1.5'"),
        ("rate(1 minutes)", r"rate\(1 minutes\) must read rate\(1 minute\)"),
        ("rate(5 hour)", r"rate\(5 hour\) must read rate\(5 hours\)"),
        ("rate(2 weeks)", r"rate\(\) unit must be minute\(s\), hour\(s\) or day\(s\), got 'weeks'"),
        ("rate(5minutes)", r"must be rate\(<n> <unit>\), cron\(<6 fields>\), e\.g\."),
        ("at(2026-01-01T00:00:00)", r"must be rate\(<n> <unit>\), cron\(<6 fields>\), e\.g\."),
        ("0 3 * * ? *", r"must be rate\(<n> <unit>\), cron\(<6 fields>\)"),
        ("", r"must be rate\(<n> <unit>\), cron\(<6 fields>\)"),
    ],
)
def test_a_batch_schedule_eventbridge_refuses_is_named_with_environment_and_field(
    raw: Raw, expression: str, message: str
) -> None:
    # GIVEN staging's batch schedule written the way EventBridge refuses
    # WHEN loaded THEN the error names environment and field and says what is wrong
    with pytest.raises(ConfigError, match=r"environment 'staging': transform\.schedule\.expression: " + message):
        parse_config(_with_batch_schedule(raw, expression))


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("cron(0 8 * * *)", r"cron\(\) needs 6 fields"),
        ("rate(0 hours)", r"rate\(\) needs a whole number >= 1"),
        ("at(2026-02-30T08:00:00)", r"at\(\) holds no valid date and time: '2026-02-30T08:00:00'"),
        ("at(2026-01-01 08:00)", r"must be .* or at\(yyyy-mm-ddThh:mm:ss\)"),
    ],
)
def test_a_capacity_schedule_the_service_refuses_is_named_with_environment_and_field(
    raw: Raw, expression: str, message: str
) -> None:
    # GIVEN prod's scheduled autoscaling change written the way Application Auto Scaling refuses
    # WHEN loaded THEN the error names environment and field
    with pytest.raises(
        ConfigError, match=r"environment 'prod': endpoint\.autoscaling\.schedules\.0\.schedule: " + message
    ):
        parse_config(_with_capacity_schedule(raw, expression))


def test_a_capacity_schedule_may_be_a_single_point_in_time(raw: Raw) -> None:
    # GIVEN an at() expression (Application Auto Scaling accepts it, EventBridge rules do not) WHEN loaded THEN kept
    prod = parse_config(_with_capacity_schedule(raw, "at(2026-12-24T08:00:00)")).environment("prod")
    assert prod.endpoint.autoscaling is not None
    assert prod.endpoint.autoscaling.schedules[0].schedule == "at(2026-12-24T08:00:00)"
    assert schedule_problem("at(2026-12-24T08:00:00)") is not None  # a batch schedule is an EventBridge rule
