"""``gwctl doctor``'s look at the IIS request log of the gateway's site: recent 5xx answers.

The gateway's own log says what the app saw; IIS's log says what clients got, including
the answers the app never gave -- ANCM's ``500.30``/``502.5`` when the gateway does not
start, ``app_offline.htm``'s ``503`` -- with the substatus and Win32 status that tell them
apart. The folder comes from ``read_host`` (the site's ``<logFile directory>\\W3SVC<id>``);
``read_iis_log`` returns the newest file's directives and its last `TAIL_BYTES`, parsed
by `gwctl.iis.w3c`. The check reports the 5xx answers of the last `SINCE_HOURS` hours in
what was read: how many, the first and last, the most frequent URLs,
status.substatus codes and Win32 statuses, naming the file.
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta

from gwctl.errors import GwctlError
from gwctl.iis import w3c
from gwctl.iis.hostinfo import HostInfo
from gwctl.output import redact
from gwctl.transport.base import Transport
from gwctl.verify.result import CheckResult, Status

CHECK = "iis-errors"
SINCE_HOURS = 24
TAIL_BYTES = 256 * 1024
TOP = 5
S_NOT_ANSWERING = "manual, Troubleshooting > API Gateway doesn't answer requests"
#: what the most telling codes mean (ASP.NET Core docs, "Troubleshoot ASP.NET Core on
#: Azure App Service and IIS"; `gwctl.iis.behaviour`)
MEANINGS = {"500.30": "in-process start failure", "502.5": "process failure",
            "500.19": "web.config cannot be read",
            "503.0": "app_offline.htm or the app's own 503"}


def _r(status: Status, start: float, detail: str, remedy: str = "") -> CheckResult:
    return CheckResult(CHECK, status, time.monotonic() - start, redact.scrub(detail),
                       redact.scrub(remedy))


def _top(pairs: list[tuple[object, int]]) -> str:
    return ", ".join(f"{key}: {n}" for key, n in pairs)


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%SZ") if at is not None else "?"


def iis_errors(transport: Transport, info: HostInfo, now: datetime | None = None
               ) -> CheckResult:
    """The 5xx answers of the gateway's IIS site in the last `SINCE_HOURS` hours."""
    start = time.monotonic()
    pool = info.app_pool
    if not pool.site_log_dir:
        return _r("skip", start, f"no IIS site with an id runs the app pool '{pool.name}' "
                                 "(applicationHost.config): its request log is unknown")
    if not pool.site_log_enabled:
        return _r("info", start, f"IIS logging is off for the site '{pool.site}'",
                  "enable it (<logFile enabled=\"true\">) to see what clients were answered")
    if pool.site_log_format.upper() != "W3C":
        return _r("skip", start, f"the site '{pool.site}' logs in the {pool.site_log_format} "
                                 "format; doctor reads W3C logs")
    try:
        answer = transport.run("read_iis_log", {"log_dir": pool.site_log_dir,
                                                "max_bytes": TAIL_BYTES})
    except GwctlError as exc:
        remedy = ("the account needs read access to IIS's log folder"
                  + ("; a JEA endpoint must pin it (gwctl host-setup --iis-log-dir)"
                     if getattr(exc, "code", None) == "path_not_allowed" else ""))
        return _r("warn", start, f"the IIS log cannot be read: {exc}", remedy)
    if not answer.get("file"):
        return _r("info", start, f"no IIS log file in {pool.site_log_dir} yet")
    head = base64.b64decode(str(answer.get("head_b64") or ""))
    tail = base64.b64decode(str(answer.get("tail_b64") or ""))
    offset = int(answer.get("tail_offset") or 0)
    requests = w3c.read_tail(head, tail, offset)
    since = (now or datetime.now(UTC)) - timedelta(hours=SINCE_HOURS)
    errors = w3c.server_errors(requests, since, TOP)
    scope = (f"the last {len(tail) // 1024} KiB of " if offset > len(head) else "") + \
        str(answer["file"])
    if errors.count == 0:
        return _r("pass", start, f"no 5xx answer in the last {SINCE_HOURS} h in {scope} "
                                 f"({len(requests)} request(s) read)")
    codes = ", ".join(f"{code}{f' ({MEANINGS[code]})' if code in MEANINGS else ''}: {n}"
                      for code, n in errors.codes)
    return _r("warn", start,
              f"{errors.count} 5xx answer(s) in the last {SINCE_HOURS} h in {scope}: first "
              f"{_when(errors.first)}, last {_when(errors.last)}; top URLs: "
              f"{_top(list(errors.urls))}; status: {codes}; win32-status: "
              f"{_top(list(errors.win32))}",
              f"{S_NOT_ANSWERING}: the substatus names the cause (500.30/502.5: the gateway "
              "does not start, see startup-errors and live-files; 503: app_offline.htm or "
              "the gateway's own answer); the lines in the file show each request")


__all__ = ["CHECK", "iis_errors"]
