"""One grammar for durations and moments, used by the config (`interval: 15m`) and every `--since`/`--until`.

- a duration: seconds (`90`, `1.5`) or a number with a unit: `45s`, `30m`, `2h`, `7d`, `2w`;
- a moment (`--since`, `--until`): an age with a unit (`7d` = seven days ago, `2h`, `30m`), an ISO date
  (`2024-05-01`, the start of that day) or an ISO date-time (`2024-05-01T08:00`, `2024-05-01 08:00+08:00`).
  Naive dates and date-times are in the given zone (UTC unless a command says otherwise). A bare number is
  not a moment: `2024` could be a year or an age.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone, tzinfo

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MOMENT_HELP = "an age (7d, 2h, 30m), an ISO date (2024-05-01) or an ISO date-time (2024-05-01T08:00)"


def parse_duration(value: object) -> float:
    """Seconds from a number or a string like `90`, `45s`, `15m`, `12h`, `7d`, `2w`."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 3600, 12h or 7d")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"not a duration: {value!r} (use seconds, or a number with s, m, h, d or w)")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def parse_moment(value: str, *, now: datetime | None = None, zone: tzinfo = timezone.utc) -> datetime:
    """An aware datetime from an age (`7d` before `now`), an ISO date (its midnight in `zone`) or date-time."""
    text = str(value).strip()
    match = _DURATION.match(text)
    if match and match.group(2):
        return (now or datetime.now(timezone.utc)) - timedelta(seconds=parse_duration(text))
    try:
        if len(text) == 10:  # YYYY-MM-DD
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=zone)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a moment: {value!r} (use {MOMENT_HELP})") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def day_of(moment: datetime, zone: tzinfo) -> date:
    """The calendar day of `moment` in `zone` (commands that select whole days round a moment down to its day)."""
    return moment.astimezone(zone).date()


def moment_arg(value: str) -> str:
    """argparse `type=` check: keep the text (each command resolves it in its own zone), fail early if bad."""
    import argparse

    try:
        parse_moment(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value
