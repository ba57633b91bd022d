"""Whether a process of this machine still runs: for stale lock files (gwctl's host lock
names its owner's controller and pid) and for the simulator's pid file."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (an exited child nobody reaped)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        # it exists, it is just not ours to signal
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return fields[0] != "Z"
    except (OSError, IndexError):
        return True
