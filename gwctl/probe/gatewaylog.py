"""Where a gateway's NLog writes, read from its live ``nlog.config``, and an excerpt of it.

The File target that the most verbose rule writes to is the gateway's log; its
``fileName`` is resolved from ``${var:NAME}`` variables, ``${basedir}`` (the install
directory) and ``${specialfolder:folder=CommonApplicationData}``. Lines are kept when
their leading timestamp (NLog's default ``yyyy-MM-dd HH:mm:ss.fff``) falls in the probe's
time window; continuation lines (exception traces) go with their line.

The hint: a rule whose minimum level is above ``Info`` hides the per-request messages a
support case needs; the fleet change that raises it is ``nlog: {min_level: Debug}``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta

LEVELS = ("trace", "debug", "info", "warn", "error", "fatal", "off")
_RENDERER = re.compile(r"\$\{([^}:]+)(?::([^}]*))?\}")
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?)")
COMMON_APP_DATA = r"C:\ProgramData"
#: the log lines the probe's window includes, before and after, for clock skew
SLACK = timedelta(seconds=2)


@dataclass(frozen=True)
class LogTarget:
    path: str | None
    min_level: str | None
    problem: str | None = None

    def hint(self) -> str | None:
        if self.path is None:
            return ("nlog.config has no File target: the gateway writes no log file; declare "
                    "one with the fleet's nlog settings (gwctl apply)")
        if self.min_level and LEVELS.index(self.min_level) > LEVELS.index("info"):
            return (f"the log's minimum level is {self.min_level.capitalize()}: per-request "
                    "messages are not written. In the fleet set  nlog: {min_level: Debug}  "
                    "(and logging.levels.Default: Debug), gwctl apply, then probe again")
        return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _attr(el: ET.Element, name: str) -> str | None:
    for k, v in el.attrib.items():
        if _local(k).lower() == name.lower():
            return v
    return None


def log_target(nlog_text: str, install_dir: str) -> LogTarget:
    try:
        root = ET.fromstring(nlog_text)
    except ET.ParseError as exc:
        return LogTarget(None, None, f"nlog.config is not well-formed XML: {exc}")
    variables = {(_attr(v, "name") or "").lower(): _attr(v, "value") or ""
                 for v in root.iter() if _local(v.tag) == "variable"}

    def resolve(value: str, depth: int = 0) -> str:
        def sub(m: re.Match[str]) -> str:
            name, arg = m.group(1).strip().lower(), (m.group(2) or "")
            if name == "var" and depth < 10:
                return resolve(variables.get(arg.strip().lower(), ""), depth + 1)
            if name == "basedir":
                return install_dir.rstrip("\\")
            if name == "specialfolder" and "commonapplicationdata" in arg.lower():
                return COMMON_APP_DATA
            return m.group(0)
        return _RENDERER.sub(sub, value)

    files = {(_attr(t, "name") or "").lower(): _attr(t, "fileName")
             for t in root.iter() if _local(t.tag) == "target"
             and (_attr(t, "type") or "").lower() == "file"}
    best: tuple[int, str] | None = None
    for rule in root.iter():
        if _local(rule.tag) != "logger":
            continue
        level = (_attr(rule, "minlevel") or _attr(rule, "level") or "trace").lower()
        for name in (_attr(rule, "writeTo") or "").split(","):
            if name.strip().lower() in files and level in LEVELS and \
                    (best is None or LEVELS.index(level) < best[0]):
                best = (LEVELS.index(level), name.strip().lower())
    if best is None:
        return LogTarget(None, None)
    file_name = files[best[1]]
    return LogTarget(resolve(file_name) if file_name else None, LEVELS[best[0]])


def excerpt(text: str, start: datetime, end: datetime) -> list[str]:
    """The lines of `text` stamped within [start - SLACK, end + SLACK] (naive UTC times)."""
    lo, hi = start - SLACK, end + SLACK
    out: list[str] = []
    keep = False
    for line in text.splitlines():
        m = _STAMP.match(line)
        if m:
            try:
                when = datetime.fromisoformat(m.group(1).replace(" ", "T"))
            except ValueError:
                keep = False
                continue
            keep = lo <= when <= hi
        if keep:
            out.append(line)
    return out
