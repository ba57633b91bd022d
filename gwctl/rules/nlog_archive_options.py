"""File-target archive options that the gateway's NLog version rejects or ignores.

NLog 6 rewrote archiving (NLog/NLog src/NLog/Targets/FileTarget.cs):
``archiveNumbering`` and ``archiveDateFormat`` are obsolete but still accepted (warning).
In NLog 6 ``archiveNumbering`` is a plain string, so no value is rejected: its setter
picks the legacy date suffix (``_{1:yyyyMMdd}_{0:00}``) for a value containing "date"
(ignoring case) and the sequence suffix (``_{0:00}``) for anything else -- ``Rolling``
included, so archive file names change -- and only while no ``archiveSuffixFormat`` is
set; ``archiveSuffixFormat`` is the new way to name archives, which NLog 5 does not know
(error). The manual's default nlog.config
(``archiveNumbering="Rolling"``) is right for NLog 5 and renames archives on NLog 6.
Which NLog a gateway release ships is not documented: gwctl
assumes 5 unless told (``nlog.version`` in the fleet, ``--nlog-version`` for
``lint-file``). Values are checked too: ``archiveEvery`` (Day, Hour, Month, ...),
``archiveNumbering`` (Sequence, Rolling, Date, DateAndSequence) and the sizes and counts.

PASS (NLog 5)::

    <target name="logfile" xsi:type="File" fileName="C:\\Logs\\gw.log"
            archiveNumbering="Rolling" archiveEvery="Day" maxArchiveFiles="20" />

FAIL (NLog 6)::

    <target name="logfile" xsi:type="File" fileName="C:\\Logs\\gw.log"
            archiveNumbering="Rolling" archiveEvery="Day" maxArchiveFiles="20" />
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.nlog import document as _nlog
from gwctl.nlog.document import XElem
from gwctl.problems import Level, Problem
from gwctl.rules.base import Options
from gwctl.rules.target import FleetTarget, Target

ID: Final = "nlog-archive-options"
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}

NUMBERING = ("Sequence", "Rolling", "Date", "DateAndSequence")
EVERY = ("None", "Year", "Month", "Day", "Hour", "Minute", "Sunday", "Monday", "Tuesday",
         "Wednesday", "Thursday", "Friday", "Saturday")
_INTEGERS = ("archiveAboveSize", "maxArchiveFiles", "maxArchiveDays")


def _findings(el: XElem, version: int) -> Iterator[tuple[Level, str, str]]:
    numbering = el.attr("archiveNumbering")
    if version >= 6:
        if numbering is not None:
            if numbering.strip().lower() == "rolling":
                yield (Level.WARNING, "archiveNumbering",
                       "archiveNumbering=\"Rolling\" is obsolete in NLog 6 and read as a "
                       "sequence suffix: archive file names change (use archiveSuffixFormat)")
            else:
                yield (Level.WARNING, "archiveNumbering",
                       "archiveNumbering is obsolete in NLog 6: use archiveSuffixFormat")
        if el.attr("archiveDateFormat") is not None:
            yield (Level.WARNING, "archiveDateFormat",
                   "archiveDateFormat is obsolete in NLog 6: use archiveSuffixFormat")
    else:
        if el.attr("archiveSuffixFormat") is not None:
            yield (Level.ERROR, "archiveSuffixFormat",
                   "archiveSuffixFormat is an NLog 6 option: NLog 5 rejects the target "
                   "(use archiveNumbering, or set the NLog version to 6)")
        if numbering is not None and "${" not in numbering and numbering.strip().lower() not in {
                n.lower() for n in NUMBERING}:
            yield (Level.ERROR, "archiveNumbering",
                   f"archiveNumbering={numbering!r} is not one of {', '.join(NUMBERING)}")
    every = el.attr("archiveEvery")
    if every is not None and "${" not in every and every.strip().lower() not in {
            e.lower() for e in EVERY}:
        yield (Level.ERROR, "archiveEvery",
               f"archiveEvery={every!r} is not one of {', '.join(EVERY)}")
    for attr in _INTEGERS:
        value = el.attr(attr)
        if value is not None and "${" not in value and not value.strip().isdigit():
            yield (Level.ERROR, attr, f"{attr}={value!r} is not a whole number")


def _settings(target: FleetTarget) -> Iterator[Problem]:
    """Archive settings that gwctl's template drops for the declared NLog version."""
    nlog = target.gateway.settings.get("nlog") or {}
    archive = nlog.get("archive") or {}
    if nlog.get("template"):
        return
    if target.nlog_version >= 6 and "numbering" in archive:
        message = ("nlog.archive.numbering is not rendered for NLog 6 (archiveNumbering is "
                   "obsolete there; Rolling would become a sequence suffix): use "
                   "archive.suffix_format")
        yield from target.report_setting(ID, Level.WARNING, message, "/nlog/archive/numbering")
    if target.nlog_version < 6 and "suffix_format" in archive:
        message = ("nlog.archive.suffix_format is an NLog 6 option and is not rendered for "
                   "NLog 5: set nlog.version: 6 or use archive.numbering")
        yield from target.report_setting(ID, LEVEL, message, "/nlog/archive/suffix_format")


def check(target: Target, options: Options) -> Iterator[Problem]:
    if isinstance(target, FleetTarget):
        yield from _settings(target)
    nlog = target.nlog.nlog if target.nlog is not None else None
    if nlog is None:
        return
    for el in _nlog.targets(nlog):
        if _nlog.target_type(el).lower() != "file":
            continue
        for level, attr, message in _findings(el, target.nlog_version):
            yield from target.report_xml(ID, level, f"target {el.attr('name')!r}: {message}",
                                         el, attr)
