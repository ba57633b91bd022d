"""IIS's request log in the W3C extended format: the fields IIS writes, and reading it back.

Sources (read with the search tools, nothing copied):

- the field names as they appear in a log and what each holds: the HTTP Server API's
  "W3C logging" reference (learn.microsoft.com/windows/win32/http/w3c-logging), table of
  fields with their "Appears As" names (``date``, ``time`` -- UTC --, ``s-ip``,
  ``cs-method``, ``cs-uri-stem``, ``cs-uri-query``, ``s-port``, ``cs-username``, ``c-ip``,
  ``cs(User-Agent)``, ``cs(Referer)``, ``sc-status``, ``sc-substatus``,
  ``sc-win32-status``, ``time-taken`` in milliseconds);
- which fields IIS logs unless configured otherwise, where and how: the IIS configuration
  reference of ``<logFile>`` (learn.microsoft.com/iis/configuration/system.applicationHost/
  sites/siteDefaults/logFile/ and .../sites/site/logFile/): ``logExtFileFlags`` defaults to
  Date, Time, ClientIP, UserName, ServerIP, Method, UriStem, UriQuery, TimeTaken,
  HttpStatus, Win32Status, ServerPort, UserAgent, HttpSubStatus, Referer; ``directory``
  defaults to ``%SystemDrive%\\inetpub\\logs\\LogFiles`` (a site logs to its
  ``W3SVC<id>`` folder there); ``localTimeRollover`` false starts a new file per UTC day
  (``u_exYYMMDD.log``, ``u_`` for UTF-8), and record times are UTC whatever it says;
- the order IIS 10 writes them in and its directives, from an IIS 10 log quoted in
  krasninja/querycat ``docs/input/iisw3c.md``: ``#Software``, ``#Version``, ``#Date`` and
  ``#Fields`` at the top of a file, and again when logging starts over (a W3SVC restart
  or a changed field list: a reader follows the latest ``#Fields``); values are
  space-separated, a value's own spaces written as ``+``, an empty value as ``-``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

#: the fields of a default IIS 10 site log, in IIS's order
FIELDS = ("date", "time", "s-ip", "cs-method", "cs-uri-stem", "cs-uri-query", "s-port",
          "cs-username", "c-ip", "cs(User-Agent)", "cs(Referer)", "sc-status",
          "sc-substatus", "sc-win32-status", "time-taken")
SOFTWARE = "Microsoft Internet Information Services 10.0"


def value(text: str | None) -> str:
    """A field value as IIS writes it: ``-`` for none, spaces as ``+``, one line."""
    if not text:
        return "-"
    return text.replace(" ", "+").replace("\r", "").replace("\n", "")


def directives(at: datetime) -> str:
    """The directive block IIS starts a file (or a restart of logging) with."""
    stamp = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return (f"#Software: {SOFTWARE}\r\n#Version: 1.0\r\n#Date: {stamp}\r\n"
            f"#Fields: {' '.join(FIELDS)}\r\n")


def file_name(at: datetime) -> str:
    """The file of a UTC-rolled daily log (``localTimeRollover`` false)."""
    return at.astimezone(UTC).strftime("u_ex%y%m%d.log")


@dataclass(frozen=True)
class Request:
    """One logged request: the fields doctor reasons about."""

    at: datetime
    method: str
    stem: str
    status: int
    substatus: int
    win32_status: int

    @property
    def code(self) -> str:
        """``500.30``: status and substatus, as IIS's error pages name them."""
        return f"{self.status}.{self.substatus}"


def _number(fields: dict[str, str], name: str) -> int:
    text = fields.get(name, "-")
    return int(text) if text.isdigit() else 0


def parse_lines(lines: Iterable[str]) -> Iterator[Request]:
    """The requests of W3C log lines, each read with the latest ``#Fields`` before it.

    A line whose value count does not match those fields (a field list changed in a part
    of the file not read, a line cut off) is skipped, as is one without ``date``,
    ``time`` or ``sc-status``.
    """
    names: list[str] | None = None
    for raw in lines:
        line = raw.rstrip("\r\n")
        if line.startswith("#"):
            if line.startswith("#Fields:"):
                names = line[len("#Fields:"):].split()
            continue
        parts = line.split(" ")
        if names is None or len(parts) != len(names):
            continue
        fields = dict(zip(names, parts, strict=True))
        try:
            at = datetime.strptime(f"{fields['date']} {fields['time']}",
                                   "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            status = int(fields["sc-status"])
        except (KeyError, ValueError):
            continue
        yield Request(at, fields.get("cs-method", "-"), fields.get("cs-uri-stem", "-"),
                      status, _number(fields, "sc-substatus"),
                      _number(fields, "sc-win32-status"))


def read_tail(head: bytes, tail: bytes, tail_offset: int) -> list[Request]:
    """The requests of a log read as its first bytes and its last ones (``read_iis_log``).

    When the two parts do not meet, the tail's first line is a fragment and is dropped,
    and the head contributes its directives only (the field list the file began with).
    """
    if tail_offset <= len(head):
        text = (head + tail).decode("utf-8", "replace")
        return list(parse_lines(text.splitlines()))
    header = [line for line in head.decode("utf-8", "replace").splitlines()
              if line.startswith("#")]
    body = tail.decode("utf-8", "replace").splitlines()[1:]
    return list(parse_lines([*header, *body]))


@dataclass(frozen=True)
class ErrorSummary:
    """The 5xx answers among logged requests."""

    count: int
    first: datetime | None
    last: datetime | None
    urls: list[tuple[str, int]]
    codes: list[tuple[str, int]]
    win32: list[tuple[int, int]]


def server_errors(requests: Iterable[Request], since: datetime, top: int = 3
                  ) -> ErrorSummary:
    """Count, first and last time, and the most frequent URLs, status.substatus codes and
    Win32 statuses of the 5xx answers logged at or after `since`."""
    found = [r for r in requests if 500 <= r.status <= 599 and r.at >= since]
    return ErrorSummary(
        len(found), min((r.at for r in found), default=None),
        max((r.at for r in found), default=None),
        Counter(r.stem for r in found).most_common(top),
        Counter(r.code for r in found).most_common(top),
        Counter(r.win32_status for r in found).most_common(top))


__all__ = ["FIELDS", "ErrorSummary", "Request", "directives", "file_name", "parse_lines",
           "read_tail", "server_errors", "value"]
