"""``gwctl doctor``'s checks of the host's Windows Application event log.

Read with the remote operation ``read_events``: gwctl's own audit records (event source
``gwctl``, written by every apply, rollback, unlock and reconcile: `gwctl.deploy.audit`)
answer "who changed this host, when, under which change, with what outcome" from the host
itself, whichever controller made the change; the ASP.NET Core Module's start-up failures
(`gwctl.iis.ancm`) say why the gateway does not start, with the exception it printed.
"""

from __future__ import annotations

import json
import time
from typing import Any

from gwctl.errors import GwctlError
from gwctl.fleet.model import APP_POOL
from gwctl.iis.ancm import PROVIDERS, START_FAILURES, START_SUCCESSES
from gwctl.output import redact
from gwctl.transport.base import Transport
from gwctl.verify.result import CheckResult, Status

#: how far back doctor looks, and how much it shows
SINCE_MINUTES = 24 * 60
CHANGES_SHOWN = 3
STARTUP_EVENTS_READ = 50
EXCEPTION_CHARS = 300
AUDIT_SOURCE = "gwctl"
S_NOT_ANSWERING = "manual, Troubleshooting > API Gateway doesn't answer requests"


def _r(check: str, status: Status, start: float, detail: str, remedy: str = ""
       ) -> CheckResult:
    return CheckResult(check, status, time.monotonic() - start, redact.scrub(detail),
                       redact.scrub(remedy))


def _read(transport: Transport, sources: list[str], count: int) -> list[dict[str, Any]]:
    answer = transport.run("read_events", {"sources": sources, "since_minutes": SINCE_MINUTES,
                                           "max_events": count})
    events = answer.get("events")
    return [e for e in events if isinstance(e, dict)] if isinstance(events, list) else []


def _change_line(event: dict[str, Any]) -> tuple[str, str]:
    """One audit record as ``when action by who (change ref): outcome``, and the outcome."""
    try:
        record = json.loads(str(event.get("message")))
    except ValueError:
        return f"{event.get('written_at')} event {event.get('event_id')} (not a gwctl " \
               "audit record)", ""
    if not isinstance(record, dict):
        record = {}
    hosts = record.get("hosts") or []
    outcome = str(hosts[0].get("outcome")) if hosts and isinstance(hosts[0], dict) else "?"
    who = record.get("kerberos_principal") or \
        f"{record.get('user', '?')}@{record.get('controller', '?')}"
    ref = record.get("change_ref") or "no change ref"
    return (f"{record.get('time', event.get('written_at'))} {record.get('action', '?')} by "
            f"{who} ({ref}): {outcome}"), outcome


def recent_changes(transport: Transport) -> CheckResult:
    """The host's last audit records, newest first."""
    start = time.monotonic()
    try:
        events = _read(transport, [AUDIT_SOURCE], CHANGES_SHOWN)
    except GwctlError as exc:
        return _r("gwctl-changes", "warn", start,
                  f"the Application event log cannot be read: {exc}",
                  "the account needs read access to the Application log (Event Log Readers)")
    if not events:
        return _r("gwctl-changes", "info", start,
                  f"no gwctl change recorded on this host in the last {SINCE_MINUTES // 60} h")
    lines = [_change_line(e) for e in events]
    detail = f"last {len(lines)} gwctl change(s), newest first: " + \
        " | ".join(text for text, _ in lines)
    if lines[0][1] in ("failed", "rolled back"):
        return _r("gwctl-changes", "warn", start, detail,
                  "the newest change did not land: see its record in the controller's audit "
                  "log (gwctl apply --audit-log) and the checks below")
    return _r("gwctl-changes", "pass", start, detail)


def _since_last_start(events: list[dict[str, Any]], last_recycle: str | None
                      ) -> list[dict[str, Any]]:
    """Failures after both the pool's last recycle and ANCM's newest successful start
    (events come newest first; the contract's UTC texts compare as strings)."""
    out = []
    for e in events:
        written = str(e.get("written_at") or "")
        if last_recycle and written < last_recycle:
            break
        if e.get("event_id") in START_SUCCESSES:
            break
        if e.get("event_id") in START_FAILURES:
            out.append(e)
    return out


def _exception(message: str) -> str:
    """The captured output ANCM appends after its first line: the gateway's own words."""
    head, _, captured = message.partition("\r\n")
    text = (captured or head).strip().replace("\r\n", " | ").replace("\n", " | ")
    return text[:EXCEPTION_CHARS]


def startup_errors(transport: Transport) -> CheckResult:
    """ANCM's start-up failures since the last recycle, newest first."""
    start = time.monotonic()
    try:
        state = transport.run("app_pool_state", {"name": APP_POOL})
        last = state.get("last_recycle")
        events = _read(transport, list(PROVIDERS), STARTUP_EVENTS_READ)
    except GwctlError as exc:
        return _r("startup-errors", "warn", start,
                  f"the Application event log cannot be read: {exc}",
                  "the account needs read access to the Application log (Event Log Readers)")
    since = f"since the last recycle ({last})" if isinstance(last, str) else \
        f"in the last {SINCE_MINUTES // 60} h"
    failures = _since_last_start(events, last if isinstance(last, str) else None)
    if not failures:
        return _r("startup-errors", "pass", start,
                  f"no ASP.NET Core Module start-up error {since}")
    newest = failures[0]
    meaning = START_FAILURES[int(newest["event_id"])]
    return _r("startup-errors", "fail", start,
              f"{len(failures)} start-up error(s) {since}; newest {newest.get('written_at')}: "
              f"event {newest['event_id']} {meaning.name} from {newest.get('source')}: "
              f"{meaning.cause}; it said: {_exception(str(newest.get('message') or ''))}",
              f"{S_NOT_ANSWERING}: {meaning.remedy}")


__all__ = ["recent_changes", "startup_errors"]
