"""Logging of an emulated gateway, driven by its ``nlog.config`` as NLog would be.

- The log directory is the config's ``logDirectory`` variable (``${var:...}``,
  ``${basedir}`` and ``${specialfolder:folder=CommonApplicationData}`` are resolved), else
  the directory of its first File target; Windows paths map under the host's root. There
  the emulation writes ``gateway.log`` (the File target's ``fileName``: start, recycle and
  reload messages, in the default layout) and ``gateway-access.log`` (one W3C-style line
  per request: what the gateway saw and how it answered). Without a File target nothing is
  written.
- At an app start, a file that cannot be loaded (not well-formed XML, no ``<nlog>`` root,
  an unknown level on a ``<logger>``) leaves NLog with an empty configuration: nothing is
  logged at all (NLog/NLog src/NLog/Config/LoggingConfigurationFileLoader.cs), and the
  broken file's own ``internalLogFile`` never applies. That empty configuration watches
  the file only when the broken text itself holds ``autoReload="true"``
  (`gwctl.nlog.document.empty_config_watches`): otherwise a fixed file takes effect at
  the next app start (recycle), not before. The emulation still notes the
  failure in ``internal-nlog.txt`` of the install directory -- a diagnostic of the
  simulator, which real NLog (internal logging off by default) does not write.
- ``autoReload``: the file is checked on every request (a ``stat``); a changed file is
  read again. One that cannot be loaded (as above, or gone)
  keeps the previous logging configuration and writes a warning to NLog's internal log
  (``internalLogFile``, relative to the install directory; ``internal-nlog.txt`` when the
  old config names none), as NLog does.
- An app start (sim start, recycle) reads the file afresh.
- NLog writes as the app pool's identity: where that identity may not create files in the
  log directory (the modelled ACL of `gwctl.ops.hostread`: a 0700 directory), no line is
  written at all -- NLog's File target fails without telling the app -- and the failure
  goes to the internal log.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gwctl.errors import OperationError
from gwctl.fleet.model import DEFAULT_INSTALL_DIR
from gwctl.nlog import document as _nlog
from gwctl.ops.hostkey import local_user_may_create
from gwctl.ops.pyimpl import DirectoryHost

ACCESS_LOG = "gateway-access.log"
NLOG_FILE = "nlog.config"
LEVELS = ("trace", "debug", "info", "warn", "error", "fatal", "off")
ACCESS_FIELDS = ("date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
                 "cs(User-Agent) cs(Origin) sc-status time-taken x-route x-destination x-note")
_RENDERER = re.compile(r"\$\{([^}:]+)(?::([^}]*))?\}")


class NlogError(Exception):
    pass


@dataclass(frozen=True)
class NlogSettings:
    log_dir: Path | None
    gateway_log: Path | None
    internal_log: Path | None
    min_level: int  # index into LEVELS for the gateway.log target

    def enabled(self, level: str) -> bool:
        return self.gateway_log is not None and LEVELS.index(level) >= self.min_level


def parse_nlog(text: str, host: DirectoryHost, install_windows: str) -> NlogSettings:
    """What the emulation needs from an ``nlog.config``; NlogError when NLog could not load it.

    The file is read with `gwctl.nlog.document`, the reader of gwctl's NLog rules, and
    refused for the reasons of `gwctl.nlog.document.load_failure`.
    """
    doc = _nlog.parse_nlog(text, NLOG_FILE)
    why = _nlog.load_failure(doc)
    root = doc.nlog
    if why is not None or root is None:
        raise NlogError(why or "no <nlog> element")
    variables = {name: el.attr("value") or "" for name, el in _nlog.variables(root).items()}

    def resolve(value: str, depth: int = 0) -> str:
        def sub(m: re.Match[str]) -> str:
            name, opts = m.group(1).strip().lower(), (m.group(2) or "")
            if name == "var" and depth < 10:
                return resolve(variables.get(opts.split(":")[0].strip().lower(), ""), depth + 1)
            if name in variables and depth < 10:
                return resolve(variables[name], depth + 1)
            if name == "basedir":
                return install_windows
            if name == "specialfolder" and "commonapplicationdata" in opts.lower():
                return "C:\\ProgramData"
            return m.group(0)
        return _RENDERER.sub(sub, value.replace("\\:", ":"))

    def to_local(value: str | None) -> Path | None:
        if not value:
            return None
        path = resolve(value)
        if "${" in path:
            return None  # a layout the emulation does not evaluate
        if not re.match(r"^[A-Za-z]:[\\/]", path):
            path = install_windows.rstrip("\\") + "\\" + path
        try:
            return host.map_path(path)
        except OperationError:
            return None

    file_targets: dict[str, Path | None] = {}
    for el in _nlog.targets(root):
        if _nlog.target_type(el).lower() == "file":
            file_targets[(el.attr("name") or "").lower()] = to_local(el.attr("fileName"))
    min_level = len(LEVELS) - 1
    gateway_log = None
    for el in _nlog.loggers(root):
        for target in (el.attr("writeTo") or "").split(","):
            path = file_targets.get(target.strip().lower())
            if path is None:
                continue
            level = (el.attr("minlevel") or el.attr("level") or "trace").lower()
            if level in LEVELS and LEVELS.index(level) < min_level:
                min_level, gateway_log = LEVELS.index(level), path
            elif gateway_log is None and level in LEVELS:
                gateway_log = path
    log_dir = to_local(variables.get("logdirectory")) if "logdirectory" in variables else None
    if log_dir is None and gateway_log is not None:
        log_dir = gateway_log.parent
    if gateway_log is None:
        log_dir = None
    internal = to_local(root.attr("internalLogFile"))
    return NlogSettings(log_dir, gateway_log, internal, min_level)


def _w3c(value: str | None) -> str:
    if not value:
        return "-"
    return value.replace(" ", "+").replace("\r", "").replace("\n", "")


class GatewayLogs:
    """The log files of one emulated gateway."""

    def __init__(self, host: DirectoryHost, install_dir: Path,
                 install_windows: str = DEFAULT_INSTALL_DIR) -> None:
        self.host = host
        self.install_dir = install_dir
        self.install_windows = install_windows
        self.nlog_path = install_dir / NLOG_FILE
        self.settings: NlogSettings | None = None
        self._signature: tuple[int, int, int] | None = None
        #: whether NLog watches nlog.config (see `start`)
        self._watched = True
        self._access_fd: int | None = None
        self._retired: list[int] = []
        self._stamp_sec = -1
        self._stamp_prefix = ""
        self._access_path: Path | None = None
        self._lock = threading.Lock()
        #: a warning per failed reload, for ``gwctl sim status``
        self.last_reload_error: str | None = None
        #: the app pool's identity type (applicationHost.config), set at each app start
        self.identity_type = "NetworkService"
        #: why NLog cannot create files in the log directory (None: it can)
        self.denied: str | None = None

    # -- configuration --------------------------------------------------------------------

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.nlog_path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def start(self) -> None:
        """An app start: read nlog.config afresh (no configuration when unusable)."""
        self._signature = self._stat()
        self._watched = True
        text = None
        try:
            text = self._read()
            self.settings = parse_nlog(text, self.host, self.install_windows)
            self.last_reload_error = None
        except NlogError as exc:
            self.settings = None
            self.last_reload_error = str(exc)
            # no file: NLog has no configuration and nothing to watch
            self._watched = text is not None and _nlog.empty_config_watches(text)
            self._internal(f"Error loading {NLOG_FILE} at start: {exc}. Logging is disabled.",
                           level="Error")
        self._reopen_access()

    def _read(self) -> str:
        try:
            return self.nlog_path.read_bytes().decode("utf-8-sig")
        except FileNotFoundError:
            raise NlogError("the file does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise NlogError(f"cannot be read: {exc}") from None

    def _load(self) -> NlogSettings:
        return parse_nlog(self._read(), self.host, self.install_windows)

    def check(self) -> None:
        """autoReload: pick up a changed nlog.config (called for every request)."""
        if not self._watched:
            return
        sig = self._stat()
        if sig == self._signature:
            return
        self._signature = sig
        try:
            new = self._load()
        except NlogError as exc:
            self.last_reload_error = str(exc)
            self._internal(f"Failed to reload {NLOG_FILE} ({exc}); keeping the previous "
                           "configuration.")
            return
        self.last_reload_error = None
        self.settings = new
        self._reopen_access()
        self.app("info", f"{NLOG_FILE} changed: logging configuration reloaded")

    def _internal(self, message: str, level: str = "Warn") -> None:
        path = self.settings.internal_log if self.settings else None
        path = path or self.install_dir / "internal-nlog.txt"
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-2]
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as f:
                f.write(f"{stamp} {level} {message}\n")

    # -- writing --------------------------------------------------------------------------

    def app(self, level: str, message: str) -> None:
        """A gateway.log line in the default layout."""
        s = self.settings
        if s is None or not s.enabled(level) or s.gateway_log is None or self.denied:
            return
        now = datetime.now(UTC)
        stamp = now.strftime("%Y-%m-%d %H:%M:%S.") + f"{now.microsecond // 1000:03d}+00:00"
        line = (f"{stamp} [{threading.get_ident() % 1000000:6d}] {level.upper():<10} - "
                f"{message}\n")
        with contextlib.suppress(OSError), self._lock:
            s.gateway_log.parent.mkdir(parents=True, exist_ok=True)
            with open(s.gateway_log, "a", encoding="utf-8") as f:
                f.write(line)

    def _judge_access(self) -> None:
        """Whether the pool identity may create files in the log directory (the ACL as
        `gwctl.ops.hostread` models it); NLog's File target fails silently otherwise."""
        s = self.settings
        self.denied = None
        if s is None or s.log_dir is None:
            return
        folder = s.log_dir
        while not folder.is_dir() and folder.parent != folder:
            folder = folder.parent
        if self.identity_type != "LocalSystem" and not local_user_may_create(folder):
            self.denied = f"access to the path '{s.log_dir.name}' is denied"
            self._internal(f"FileTarget: failed to write to {s.log_dir}: Access to the path "
                           "is denied.", level="Error")

    def _reopen_access(self) -> None:
        self._judge_access()
        s = self.settings
        path = (s.log_dir / ACCESS_LOG if s is not None and s.log_dir is not None
                and self.denied is None else None)
        with self._lock:
            if path == self._access_path and self._access_fd is not None:
                return
            if self._access_fd is not None:
                # closed later (close()): a request on the event loop may be writing to it
                # right now, and a closed descriptor number can be reused by another file
                self._retired.append(self._access_fd)
            self._access_fd, self._access_path = None, path
            if path is None:
                return
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                # O_APPEND and one write per line: whole lines, visible at once
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                if os.fstat(fd).st_size == 0:
                    os.write(fd, ("#Software: gwctl simulator (emulated XProtect API Gateway; "
                                  "not IIS)\n#Version: 1.0\n"
                                  f"#Date: {datetime.now(UTC):%Y-%m-%d %H:%M:%S}\n"
                                  f"#Fields: {ACCESS_FIELDS}\n").encode())
            except OSError:
                return
            self._access_fd = fd

    def _stamp(self) -> str:
        now = time.time()
        sec = int(now)
        if sec != self._stamp_sec:
            self._stamp_sec = sec
            self._stamp_prefix = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(sec))
        return f"{self._stamp_prefix}.{int((now - sec) * 1000):03d}"

    def access(self, *, method: str, path: str, query: str, port: int, user: str | None,
               client: str, agent: str | None, origin: str | None, status: int | str,
               millis: int, route: str, destination: str, note: str) -> None:
        fd = self._access_fd
        if fd is None:
            return
        line = (f"{self._stamp()} 127.0.0.1 {method} {_w3c(path)} {_w3c(query)} {port} "
                f"{_w3c(user)} {client} {_w3c(agent)} {_w3c(origin)} {status} {millis} "
                f"{_w3c(route)} {_w3c(destination)} {_w3c(note)}\n")
        with contextlib.suppress(OSError):
            os.write(fd, line.encode("utf-8"))

    def close(self) -> None:
        with self._lock:
            fds = [*self._retired, *([self._access_fd] if self._access_fd is not None else [])]
            self._access_fd = None
            self._access_path = None
            self._retired = []
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)
