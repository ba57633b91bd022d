"""Controlling a simulator process: its lock, its pid, and its loopback admin endpoint.

A running simulator holds an exclusive lock on ``DIR/sim.lock`` for its whole life (an
``flock``: the kernel drops it when the process ends, however it ends), writes its pid to
``DIR/sim.pid`` and serves a small admin API on a loopback port recorded in
``state.json`` (``process.admin_port``), guarded by the ``admin_token`` of the state:

- ``GET /status``: the site, each gateway's pool, serving state, loaded configuration;
- ``POST /recycle`` ``{"host": H}``; ``POST /pool`` ``{"host": H, "state": "Started"|
  "Stopped"}``; ``POST /fault`` ``{"host": H, "profile": "latency:50"}`` or
  ``{"host": H, "clear": true}``; ``POST /shutdown``.

The CLI (``gwctl sim status|recycle|fault|down``) talks to it with the standard library.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import IO, Any

from gwctl.errors import GwctlError
from gwctl.processes import pid_alive
from gwctl.sim.state import LOCK_FILE, PID_FILE, SimState

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class SimNotRunning(GwctlError):
    pass


class StateLock:
    """The exclusive lock a running simulator holds on ``DIR/sim.lock``."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_FILE
        self._fh: IO[str] | None = None

    def acquire(self) -> bool:
        """Take the lock; False when another process (a running simulator) holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115
        if fcntl is not None:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                fh.close()
                return False
        self._fh = fh
        return True

    @property
    def held(self) -> bool:
        return self._fh is not None

    def release(self) -> None:
        if self._fh is not None:
            with contextlib.suppress(OSError):
                if fcntl is not None:
                    fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
                self._fh.close()
            self._fh = None


def lock_is_held(directory: Path) -> bool:
    """Whether a simulator runs for this state directory (someone holds its lock)."""
    if not (directory / LOCK_FILE).exists():
        return False
    if fcntl is None:  # pragma: no cover - Windows: fall back on the pid file
        pid = read_pid(directory)
        return pid is not None and pid_alive(pid)
    probe = StateLock(directory)
    if probe.acquire():
        probe.release()
        return False
    return True


def read_pid(directory: Path) -> int | None:
    try:
        return int((directory / PID_FILE).read_text("utf-8").strip())
    except (OSError, ValueError):
        return None


class AdminClient:
    """Talks to a running simulator's admin endpoint."""

    def __init__(self, port: int, token: str, timeout: float = 10.0) -> None:
        self.port = port
        self.token = token
        self.timeout = timeout

    @classmethod
    def for_state(cls, directory: Path, timeout: float = 10.0) -> AdminClient:
        if not lock_is_held(directory):
            raise SimNotRunning(f"no simulator is running for {directory} (start one with "
                                f"'gwctl sim up --state {directory}')")
        state = SimState.load(directory)
        if state.process is None:
            raise SimNotRunning(f"the simulator for {directory} is starting or stopping; "
                                "try again")
        return cls(state.process.admin_port, state.admin_token, timeout)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            headers = {"Authorization": f"Bearer {self.token}"}
            if payload is not None:
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=payload, headers=headers)
            res = conn.getresponse()
            data = res.read()
        except OSError as exc:
            raise SimNotRunning(f"cannot reach the simulator's admin endpoint on port "
                                f"{self.port}: {exc}") from None
        finally:
            conn.close()
        try:
            decoded = json.loads(data or b"null")
        except ValueError:
            decoded = {"error": data.decode("utf-8", "replace")}
        if res.status >= 400:
            message = decoded.get("error") if isinstance(decoded, dict) else None
            raise GwctlError(str(message or f"admin endpoint answered {res.status}"))
        return decoded


def terminate(pid: int, timeout: float = 3.0) -> None:
    """End process `pid` (one this program started): SIGTERM, then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not pid_alive(pid):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)


def spawn_background(directory: Path, log_path: Path) -> int:
    """Start ``python -m gwctl.sim serve --state DIR`` detached from this process."""
    args = [sys.executable, "-m", "gwctl.sim", "serve", "--state", str(directory)]
    with open(log_path, "ab") as log:
        kwargs: dict[str, Any] = {}
        if os.name == "posix":
            kwargs["start_new_session"] = True
        else:  # pragma: no cover - Windows
            kwargs["creationflags"] = 0x00000008 | 0x00000200  # DETACHED | NEW_GROUP
        import subprocess

        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                close_fds=True, **kwargs)
    return proc.pid


def wait_until_ready(directory: Path, pid: int, timeout: float) -> dict[str, Any]:
    """Wait until the simulator `pid` answers its admin endpoint; its status."""
    deadline = time.monotonic() + timeout
    last_error = "not started"
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            raise GwctlError(f"the simulator process exited during start-up: "
                             f"{_log_tail(directory)}")
        with contextlib.suppress(GwctlError, OSError, ValueError):
            state = SimState.load(directory)
            if state.process is not None and state.process.pid == pid:
                try:
                    status: dict[str, Any] = AdminClient(
                        state.process.admin_port, state.admin_token, timeout=2.0
                    ).call("GET", "/status")
                    return status
                except GwctlError as exc:
                    last_error = str(exc)
        time.sleep(0.02)
    raise GwctlError(f"the simulator did not answer within {timeout:g} s ({last_error})")


def _log_tail(directory: Path, lines: int = 15) -> str:
    try:
        text = (directory / "sim.log").read_text("utf-8", "replace")
    except OSError:
        return "(no sim.log)"
    return "\n".join(text.strip().splitlines()[-lines:]) or "(sim.log is empty)"


def stop(directory: Path, timeout: float = 10.0) -> int | None:
    """Stop the simulator of `directory`; its pid, or None when none was running.

    Asks the process to shut down (admin endpoint), waits until its lock is released and
    the process is gone (ports closed), and falls back on SIGTERM, then SIGKILL.
    """
    if not lock_is_held(directory):
        return None
    pid = read_pid(directory)
    with contextlib.suppress(GwctlError):
        AdminClient.for_state(directory, timeout=3.0).call("POST", "/shutdown")
    deadline = time.monotonic() + timeout
    signalled = False
    while lock_is_held(directory) or (pid is not None and pid_alive(pid)):
        now = time.monotonic()
        if now > deadline:
            if pid is None:
                raise GwctlError(f"the simulator of {directory} did not stop")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
            if pid_alive(pid):
                raise GwctlError(f"the simulator process {pid} did not stop")
            break
        if not signalled and now > deadline - timeout / 2 and pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            signalled = True
        time.sleep(0.02)
    return pid
