"""Five-field cron expressions (minute hour day-of-month month day-of-week), as Vixie
cron and its successors read them, for maintenance windows.

Supported: ``*``, numbers, ranges ``a-b``, steps ``*/n`` and ``a-b/n``, lists ``a,b``,
month names ``jan``..``dec`` and day names ``sun``..``sat`` (case-insensitive); day of
week 0 and 7 are both Sunday. When both day fields are restricted, a day matches when
*either* matches (cron's rule). Not supported (refused with a message): ``@reboot``
style nicknames, ``L``, ``W``, ``#`` and ``?`` (Quartz extensions).

A hand-written parser rather than a dependency: the subset is small, and the window
logic needs to decide itself what a wall-clock start means across DST changes
(`gwctl.fleet.maintenance`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")

#: name, low, high, names (first name = low)
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)


#: Quartz's extensions: `#`, `?`, `15W`, `5L`, a lone `L` (never part of a day or month name)
_QUARTZ = re.compile(r"[#?]|\d[LlWw]|(?:^|[^A-Za-z])[Ll](?:$|[^A-Za-z])")


class CronError(ValueError):
    """A cron expression that does not parse; the message names the field."""


@dataclass(frozen=True)
class Cron:
    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday .. 6 = Saturday
    days_restricted: bool
    weekdays_restricted: bool

    def matches_day(self, day: date) -> bool:
        """Whether the expression fires on `day` (at some minute)."""
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return dom or dow
        return dom and dow

    def times(self) -> list[tuple[int, int]]:
        """(hour, minute) pairs of a matching day, in order."""
        return [(h, m) for h in sorted(self.hours) for m in sorted(self.minutes)]


def _value(token: str, low: int, names: tuple[str, ...], field: str) -> int:
    lowered = token.lower()
    if names and lowered in names:
        return low + names.index(lowered)
    if not token.isdigit():
        raise CronError(f"{field}: {token!r} is not a number"
                        + (f" or a name ({names[0]}..{names[-1]})" if names else ""))
    return int(token)


def _field(text: str, index: int) -> tuple[frozenset[int], bool]:
    field, low, high, names = _FIELDS[index]
    values: set[int] = set()
    restricted = text != "*"
    for part in text.split(","):
        if not part:
            raise CronError(f"{field}: empty list element in {text!r}")
        rng, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{field}: step {step_text!r} must be a positive number")
            step = int(step_text)
        if rng == "*":
            first, last = low, high
        elif "-" in rng:
            a, _, b = rng.partition("-")
            first, last = _value(a, low, names, field), _value(b, low, names, field)
        else:
            first = _value(rng, low, names, field)
            last = high if step_text else first
        for v in (first, last):
            if not low <= v <= high:
                raise CronError(f"{field}: {v} is outside {low}-{high}")
        if first > last:
            raise CronError(f"{field}: range {rng!r} runs backwards")
        values.update(range(first, last + 1, step))
    return frozenset(values), restricted


def parse_cron(text: str) -> Cron:
    """Parse a five-field expression; CronError says which field is wrong and why."""
    if text.strip().startswith("@"):
        raise CronError(f"nicknames such as {text.strip().split()[0]!r} are not supported: "
                        "write the five fields")
    parts = text.split()
    if len(parts) != 5:
        raise CronError(f"expected 5 fields (minute hour day-of-month month day-of-week), "
                        f"got {len(parts)}")
    for p in parts:
        if _QUARTZ.search(p):
            raise CronError(f"{p!r}: L, W, # and ? (Quartz syntax) are not supported")
    fields = [_field(p, i) for i, p in enumerate(parts)]
    weekdays = frozenset(d % 7 for d in fields[4][0])
    return Cron(text, fields[0][0], fields[1][0], fields[2][0], fields[3][0], weekdays,
                fields[2][1], fields[4][1])
