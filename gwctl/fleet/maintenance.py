"""A site's change policy: maintenance windows and whether a change reference is required.

A window is a cron expression for its *start* (`gwctl.fleet.cron`), a duration and an
IANA time zone::

    maintenance_windows:
      - {cron: "0 22 * * 1-5", duration: 4h, timezone: Europe/Copenhagen}

The cron fields are read as wall-clock time in the window's zone, so a window at 22:00
stays at 22:00 local across daylight-saving changes. A start that falls into a
spring-forward gap is taken with the offset in force before the gap (Python's
``fold=0``), i.e. as late as the clock allows; in the repeated autumn hour the first
occurrence counts. A window is open from its start (inclusive) for its duration
(exclusive), and may run past midnight. A site without windows is always open.

Every question about "now" takes the time as a parameter: the front ends pass the
clock, the tests pass a fixed instant.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gwctl.fleet.cron import Cron, CronError, parse_cron

RULE = "maintenance-window"
#: how far ahead the next start is looked for (a window at least once a year is expected)
_HORIZON_DAYS = 400
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?")


def parse_duration(text: str) -> timedelta:
    """``4h``, ``90m``, ``1h30m``, ``2d``: positive, at most 7 days."""
    m = _DURATION.fullmatch(text.strip())
    if not text.strip() or m is None:
        raise ValueError(f"duration {text!r}: write days, hours and minutes such as 4h, "
                         "90m or 1h30m")
    d, h, mi = (int(g or 0) for g in m.groups())
    value = timedelta(days=d, hours=h, minutes=mi)
    if value <= timedelta(0) or value > timedelta(days=7):
        raise ValueError(f"duration {text!r} must be more than 0 and at most 7 days")
    return value


@dataclass(frozen=True)
class MaintenanceWindow:
    cron: Cron
    duration: timedelta
    zone: ZoneInfo

    @classmethod
    def from_data(cls, data: dict[str, object]) -> MaintenanceWindow:
        """Raises ValueError naming the field that is wrong."""
        try:
            cron = parse_cron(str(data["cron"]))
        except CronError as exc:
            raise ValueError(f"cron {data['cron']!r}: {exc}") from None
        duration = parse_duration(str(data["duration"]))
        name = str(data["timezone"])
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone {name!r} is not a known IANA time zone (e.g. "
                             "Europe/Copenhagen, UTC)") from None
        return cls(cron, duration, zone)

    def describe(self) -> str:
        minutes = int(self.duration.total_seconds()) // 60
        return f"'{self.cron.text}' for {_duration_text(minutes)} ({self.zone.key})"

    def _starts(self, first: date, days: int) -> Iterator[datetime]:
        """Start instants (in UTC, so that a duration is elapsed time, not wall-clock
        arithmetic across a DST change) on local days from `first`."""
        for offset in range(days):
            day = first + timedelta(days=offset)
            if self.cron.matches_day(day):
                for hour, minute in self.cron.times():
                    yield datetime(day.year, day.month, day.day, hour, minute,
                                   tzinfo=self.zone).astimezone(UTC)

    def open_at(self, now: datetime) -> datetime | None:
        """The start (UTC) of the occurrence open at `now` (aware), or None."""
        local = now.astimezone(self.zone)
        back = self.duration.days + 2
        for start in self._starts(local.date() - timedelta(days=back), back + 1):
            if start <= now < start + self.duration:
                return start
        return None

    def next_start(self, now: datetime) -> datetime | None:
        """The first start (UTC) strictly after `now`, within a bit more than a year."""
        local = now.astimezone(self.zone)
        for start in self._starts(local.date(), _HORIZON_DAYS):
            if start > now:
                return start
        return None


def _duration_text(minutes: int) -> str:
    d, rest = divmod(minutes, 1440)
    h, m = divmod(rest, 60)
    return "".join(f"{v}{u}" for v, u in ((d, "d"), (h, "h"), (m, "m")) if v) or "0m"


@dataclass(frozen=True)
class ChangePolicy:
    """What a site asks of every apply: windows (empty: always open), a change reference."""
    windows: tuple[MaintenanceWindow, ...] = ()
    change_ref_required: bool = False

    def open_window(self, now: datetime) -> MaintenanceWindow | None:
        for w in self.windows:
            if w.open_at(now) is not None:
                return w
        return None

    def is_open(self, now: datetime) -> bool:
        return not self.windows or self.open_window(now) is not None

    def next_start(self, now: datetime) -> tuple[datetime, MaintenanceWindow] | None:
        """The earliest next start of any window (UTC), with its window."""
        starts = [(s, w) for w, s in ((w, w.next_start(now)) for w in self.windows)
                  if s is not None]
        return min(starts, key=lambda sw: sw[0]) if starts else None


@dataclass(frozen=True)
class WindowVerdict:
    site: str
    allowed: bool
    message: str


def check_windows(policies: dict[str, ChangePolicy], now: datetime) -> list[WindowVerdict]:
    """Per site (in name order): whether a change may start at `now`, and why not."""
    out = []
    for site in sorted(policies):
        policy = policies[site]
        if policy.is_open(now):
            out.append(WindowVerdict(site, True, f"site {site}: inside a maintenance window"
                                     if policy.windows else f"site {site}: no windows"))
            continue
        nxt = policy.next_start(now)
        when = "no window starts within a year"
        if nxt is not None:
            start, window = nxt
            local = start.astimezone(window.zone)
            when = (f"the next window starts {local.strftime('%Y-%m-%d %H:%M')} "
                    f"{window.zone.key} ({start.strftime('%Y-%m-%d %H:%M')} UTC)")
        windows = "; ".join(w.describe() for w in policy.windows)
        out.append(WindowVerdict(site, False, f"site {site} is outside its maintenance "
                                 f"windows ({windows}): {when}"))
    return out
