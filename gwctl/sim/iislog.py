"""The request log IIS writes for the emulated gateway's site, in the W3C extended format.

Where and how real IIS writes it (`gwctl.iis.w3c` names the sources): in the site's
``<logFile directory>\\W3SVC<id>`` folder (``read_host``'s ``app_pool.site_log_dir``:
``C:\\inetpub\\logs\\LogFiles\\W3SVC1`` for the simulator's ``Default Web Site``), one
file per UTC day, the directive block at the top of each file and again when logging
starts over (here: when the simulator starts the host), one line per request the site
answered -- the app's answers, ANCM's (``500.30``, ``502.5``, ``app_offline.htm``'s
``503``) and the simulator's fault profiles' 5xx alike.

Requests HTTP.sys answers without the site (the app pool stopped: ``503``) go to
HTTP.sys's own error log (``HTTPERR``) on Windows, not here, and the emulation writes
nothing for them; a connection the ``drop`` fault closes is not logged either. Site
logging switched off (``<logFile enabled="false">``) or another ``logFormat`` than W3C
writes nothing. The folder is read at each app start, as IIS reads its configuration.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from gwctl.iis import w3c
from gwctl.iis.hostinfo import HostInfo


class IisLog:
    """Appends the site's request lines; safe to call from several threads."""

    def __init__(self, map_path: Callable[[str], Path],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._map_path = map_path
        self._clock = clock
        self._lock = threading.Lock()
        self._folder: Path | None = None
        #: files this run has written its directive block to
        self._started: set[Path] = set()

    def configure(self, info: HostInfo | None) -> None:
        """The site's log folder from the host's facts at an app start (None: no log)."""
        pool = info.app_pool if info is not None else None
        folder = None
        if pool is not None and pool.site_log_dir and pool.site_log_enabled \
                and pool.site_log_format.upper() == "W3C":
            folder = self._map_path(pool.site_log_dir)
        with self._lock:
            self._folder = folder

    def request(self, *, method: str, stem: str, query: str, port: int, client: str,
                agent: str | None, referer: str | None, status: int, substatus: int = 0,
                win32_status: int = 0, millis: int = 0) -> None:
        now = self._clock().astimezone(UTC)
        fields = (now.strftime("%Y-%m-%d"), now.strftime("%H:%M:%S"), "127.0.0.1", method,
                  w3c.value(stem), w3c.value(query), str(port), "-", client or "-",
                  w3c.value(agent), w3c.value(referer), str(status), str(substatus),
                  str(win32_status), str(millis))
        line = " ".join(fields) + "\r\n"
        with self._lock:
            if self._folder is None:
                return
            path = self._folder / w3c.file_name(now)
            text = line if path in self._started else w3c.directives(now) + line
            with contextlib.suppress(OSError):
                self._folder.mkdir(parents=True, exist_ok=True)
                # one write per call on an O_APPEND descriptor: lines never interleave
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, text.encode("utf-8"))
                finally:
                    os.close(fd)
                self._started.add(path)


__all__ = ["IisLog"]
