"""Maintenance windows: the cron subset, durations, time zones and DST, with fixed instants
(no test reads the real clock)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from gwctl import api
from gwctl.fleet.cron import CronError, parse_cron
from gwctl.fleet.maintenance import (
    ChangePolicy,
    MaintenanceWindow,
    check_windows,
    parse_duration,
)

CPH = "Europe/Copenhagen"


def window(cron: str = "0 22 * * 1-5", duration: str = "4h", tz: str = CPH
           ) -> MaintenanceWindow:
    return MaintenanceWindow.from_data({"cron": cron, "duration": duration, "timezone": tz})


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_cron_fields_ranges_steps_lists_and_names() -> None:
    c = parse_cron("*/15 8-17/3 1,15 JAN-mar mon-FRI")
    assert c.minutes == {0, 15, 30, 45}
    assert c.hours == {8, 11, 14, 17}
    assert c.days == {1, 15} and c.months == {1, 2, 3}
    assert c.weekdays == {1, 2, 3, 4, 5}
    assert parse_cron("0 0 * * 7").weekdays == {0}  # 7 is Sunday too
    assert parse_cron("5/20 * * * *").minutes == {5, 25, 45}


def test_cron_day_fields_match_either_when_both_are_restricted() -> None:
    c = parse_cron("0 3 1 * sun")  # the 1st of the month, and every Sunday
    assert c.matches_day(date(2026, 12, 1))  # a Tuesday, but the 1st
    assert c.matches_day(date(2026, 12, 6))  # a Sunday
    assert not c.matches_day(date(2026, 12, 2))
    only_dow = parse_cron("0 3 * * sun")
    assert not only_dow.matches_day(date(2026, 12, 1))


@pytest.mark.parametrize(("text", "message"), [
    ("0 22 * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"),
    ("60 * * * *", "minute: 60 is outside 0-59"),
    ("0 22 * * 1-8", "day of week: 8 is outside 0-7"),
    ("0 22 * * fri-mon", "day of week: range 'fri-mon' runs backwards"),
    ("0 22 L * *", "'L': L, W, # and ? (Quartz syntax) are not supported"),
    ("0 22 * * 5#3", "'5#3': L, W, # and ? (Quartz syntax) are not supported"),
    ("@daily", "nicknames such as '@daily' are not supported: write the five fields"),
    ("*/0 * * * *", "minute: step '0' must be a positive number"),
    ("0 x * * *", "hour: 'x' is not a number"),
    ("0 1 * foo *", "month: 'foo' is not a number or a name (jan..dec)"),
])
def test_cron_errors_name_the_field(text: str, message: str) -> None:
    with pytest.raises(CronError) as exc:
        parse_cron(text)
    assert str(exc.value) == message


def test_month_and_day_names_containing_l_and_w_are_not_quartz() -> None:
    assert parse_cron("0 1 * jul-aug mon-wed").months == {7, 8}


def test_durations() -> None:
    assert parse_duration("4h") == timedelta(hours=4)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("2d") == timedelta(days=2)
    for bad in ("", "4", "0h", "8d", "4 hours"):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)


def test_weekday_evening_window_in_copenhagen_winter() -> None:
    w = window()
    # Wednesday 2 Dec 2026, 21:30 UTC = 22:30 CET: open since 22:00 local
    assert w.open_at(utc(2026, 12, 2, 21, 30)) == utc(2026, 12, 2, 21, 0)
    # the window runs past midnight: Thursday 01:59 local is still inside, 02:00 is not
    assert w.open_at(utc(2026, 12, 3, 0, 59)) is not None
    assert w.open_at(utc(2026, 12, 3, 1, 0)) is None
    # 20:59 UTC is 21:59 local: closed, the next start is 22:00 local the same day
    assert w.open_at(utc(2026, 12, 2, 20, 59)) is None
    assert w.next_start(utc(2026, 12, 2, 20, 59)) == utc(2026, 12, 2, 21, 0)
    # Friday night's window ends Saturday 02:00; the next one starts Monday 22:00
    assert w.open_at(utc(2026, 12, 5, 0, 30)) is not None  # Sat 01:30 local
    assert w.next_start(utc(2026, 12, 5, 9, 0)) == utc(2026, 12, 7, 21, 0)


def test_duration_is_elapsed_time_across_a_dst_change() -> None:
    # Sunday 29 March 2026: Copenhagen goes from 02:00 CET to 03:00 CEST
    w = window("0 0 * * sun", "4h")
    start = w.open_at(utc(2026, 3, 29, 2, 30))
    assert start == utc(2026, 3, 28, 23, 0)  # midnight CET
    # four real hours after 00:00 CET is 05:00 CEST (03:00 UTC), not 04:00 wall time
    assert w.open_at(utc(2026, 3, 29, 2, 59)) == start
    assert w.open_at(utc(2026, 3, 29, 3, 0)) is None


def test_start_in_the_spring_gap_and_in_the_repeated_autumn_hour() -> None:
    gap = window("30 2 29 3 *", "1h")  # 02:30 does not exist on 29 March 2026
    # fold=0: the offset before the gap (CET), i.e. 01:30 UTC = 03:30 CEST
    assert gap.next_start(utc(2026, 3, 1)) == utc(2026, 3, 29, 1, 30)
    twice = window("30 2 25 10 *", "1h")  # 02:30 happens twice on 25 October 2026
    assert twice.next_start(utc(2026, 10, 1)) == utc(2026, 10, 25, 0, 30)  # first: CEST


def test_policy_without_windows_is_always_open_and_verdicts_name_the_next_start() -> None:
    now = utc(2026, 12, 2, 12, 0)  # Wednesday 13:00 in Copenhagen
    verdicts = check_windows({"north": ChangePolicy((window(),)), "south": ChangePolicy()},
                             now)
    assert [(v.site, v.allowed) for v in verdicts] == [("north", False), ("south", True)]
    assert verdicts[0].message == (
        "site north is outside its maintenance windows ('0 22 * * 1-5' for 4h "
        "(Europe/Copenhagen)): the next window starts 2026-12-02 22:00 Europe/Copenhagen "
        "(2026-12-02 21:00 UTC)")
    two = ChangePolicy((window(), window("0 6 * * sat", "2h", "UTC")))
    assert two.is_open(utc(2026, 12, 5, 7, 0))
    assert not two.is_open(utc(2026, 12, 5, 8, 0))
    nxt = two.next_start(utc(2026, 12, 5, 8, 0))
    assert nxt is not None and nxt[0] == utc(2026, 12, 7, 21, 0)


def _fleet(tmp_path: Path, windows: str) -> Path:
    path = tmp_path / "fleet.yaml"
    path.write_text(f"""apiVersion: gwctl/v1
sites:
  north:
    change_ref_required: true
    maintenance_windows:
{windows}
    management_server: {{host: ms.example.com, version: "2025 R2"}}
    gateways:
      gw1: {{host: gw1.example.com}}
""")
    return path


def test_fleet_model_reads_windows_and_reports_bad_ones_with_their_line(
        tmp_path: Path) -> None:
    ok = api.validate(_fleet(tmp_path, '      - {cron: "0 22 * * 1-5", duration: 4h, '
                                       'timezone: Europe/Copenhagen}'))
    assert ok.fleet is not None, ok.problems
    site = ok.fleet.site("north")
    assert site.policy.change_ref_required
    assert [w.describe() for w in site.policy.windows] == [
        "'0 22 * * 1-5' for 4h (Europe/Copenhagen)"]
    bad = api.validate(_fleet(tmp_path, '      - {cron: "0 22 * * 1-5", duration: 4h, '
                                        'timezone: Mars/Olympus}\n'
                                        '      - {cron: "0 25 * * *", duration: 1h, '
                                        'timezone: UTC}'))
    assert bad.fleet is None
    found = [(p.rule, p.line, p.message) for p in bad.problems]
    assert ("maintenance-window", 6, "timezone 'Mars/Olympus' is not a known IANA time "
            "zone (e.g. Europe/Copenhagen, UTC)") in found
    assert ("maintenance-window", 7, "cron '0 25 * * *': hour: 25 is outside 0-23") in found
    schema = api.validate(_fleet(tmp_path, '      - {cron: "0 22 * * *", duration: soon, '
                                           'timezone: UTC}'))
    assert schema.fleet is None
    assert any(p.rule == "schema" and "duration" in (p.path or "")
               for p in schema.problems), schema.problems
