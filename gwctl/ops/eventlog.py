"""The Windows Application event log of a directory host: ``write_event``'s twin.

A directory host keeps the entries gwctl writes as JSON lines in
``<root>/.host/eventlog.jsonl`` (one ``{log, source, event_id, entry_type, message,
written_at}`` per entry, appended with one write to an ``O_APPEND`` descriptor, as the
event log serialises its writers). The simulator adds the gateway's own entries to the
same file (source ``VideoOS API Gateway``), so that both can be read back together.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from gwctl.ops.hostfiles import parse_utc, utc_text
from gwctl.ops.params import Params, bad

__all__ = ["ENTRY_TYPES", "SOURCE", "append_entry", "event_log_path", "read_entries",
           "read_events", "write_event"]

SOURCE = "gwctl"
LOG = "Application"
ENTRY_TYPES = ("Information", "Warning", "Error")
MAX_MESSAGE = 30000


def event_log_path(root: Path) -> Path:
    return root / ".host" / "eventlog.jsonl"


def append_entry(root: Path, entry: dict[str, Any]) -> None:
    path = event_log_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(entry, separators=(",", ":")) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_entries(root: Path) -> list[dict[str, Any]]:
    """Every entry, oldest first; a damaged line is skipped (a reader of the event log
    shows what it can)."""
    path = event_log_path(root)
    if not path.exists():
        return []
    out = []
    for line in path.read_text("utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            out.append(entry)
    return out


def write_event(p: Params, root: Path, now: Callable[[], datetime]) -> dict[str, Any]:
    event_id = p.integer("event_id", 1000, 1099)
    entry_type = p.text("entry_type")
    if entry_type not in ENTRY_TYPES:
        raise bad("write_event: entry_type must be Information, Warning or Error")
    message = p.text("message")
    if len(message) > MAX_MESSAGE:
        raise bad("write_event: message must be a string of 1..30000 characters")
    written_at = utc_text(now())
    append_entry(root, {"log": LOG, "source": SOURCE, "event_id": event_id,
                        "entry_type": entry_type, "message": message,
                        "written_at": written_at})
    return {"log": LOG, "source": SOURCE, "event_id": event_id, "entry_type": entry_type,
            "written_at": written_at}


#: bounds of ``read_events``: a doctor reads recent history, never the whole log
MAX_SOURCES = 8
MAX_EVENTS = 500
MAX_SINCE_MINUTES = 7 * 24 * 60


def read_events(p: Params, root: Path, now: Callable[[], datetime]) -> dict[str, Any]:
    """``read_events``' twin: the newest entries of the named sources, newest first."""
    sources = p.text_list("sources")
    if not 1 <= len(sources) <= MAX_SOURCES:
        raise bad(f"read_events: sources must name 1..{MAX_SOURCES} event sources")
    since_minutes = p.integer("since_minutes", 1, MAX_SINCE_MINUTES)
    max_events = p.integer("max_events", 1, MAX_EVENTS)
    since = now() - timedelta(minutes=since_minutes)
    # the event log's provider names are compared ignoring case, as Get-WinEvent does
    wanted = {s.lower() for s in sources}
    found = []
    for entry in reversed(read_entries(root)):
        if str(entry.get("source", "")).lower() not in wanted:
            continue
        try:
            written = parse_utc(str(entry.get("written_at")))
        except ValueError:
            continue
        if written < since:
            continue
        found.append({"source": entry.get("source"), "event_id": entry.get("event_id"),
                      "entry_type": entry.get("entry_type"), "message": entry.get("message"),
                      "written_at": utc_text(written)})
        if len(found) == max_events:
            break
    return {"log": LOG, "since": utc_text(since), "events": found}
