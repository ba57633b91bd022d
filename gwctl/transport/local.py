"""Local transport: the remote operations on this machine's directories.

With a root, Windows paths map into it (``C:\\X\\y`` -> ``<root>/C/X/y``): tests, the
demo, and rehearsing against a copy of a host. Without a root, on Windows, the
operations act on the real file system (on-host use); app pools then go through the
packaged PowerShell scripts, run by a local ``powershell.exe`` with the same wire format
as over WinRM.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gwctl.errors import TransportError
from gwctl.ops.batch import Step, check_steps, encode_batch, parse_batch_result
from gwctl.ops.pyimpl import AppPoolHook, DirectoryHost
from gwctl.ops.wire import bootstrap_args, encode_stdin, parse_result
from gwctl.transport.base import Transport

#: seconds a local PowerShell operation may take (a recycle waits for IIS)
POWERSHELL_TIMEOUT = 120.0


def run_powershell_op(
    op: str,
    params: Mapping[str, Any],
    payload: bytes | None = None,
    *,
    executable: Sequence[str] = ("powershell.exe",),
    timeout: float = POWERSHELL_TIMEOUT,
) -> dict[str, Any]:
    """Run a packaged operation with a local PowerShell, exactly as a WinRM host would."""
    try:
        done = subprocess.run(
            [*executable, *bootstrap_args()],
            input=encode_stdin(op, params, payload),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TransportError(f"cannot run local PowerShell for {op}: {exc}") from exc
    return parse_result(done.stdout, done.returncode, done.stderr)


class PowerShellAppPools:
    """IIS app pools of this Windows machine, through the packaged scripts."""

    def __init__(self, executable: Sequence[str] = ("powershell.exe",)) -> None:
        self.executable = tuple(executable)

    def recycle(self, name: str) -> dict[str, Any]:
        return run_powershell_op("recycle_app_pool", {"name": name}, executable=self.executable)

    def state(self, name: str) -> dict[str, Any]:
        return run_powershell_op("app_pool_state", {"name": name}, executable=self.executable)


class LocalTransport(Transport):
    """Transport to a directory-backed host (or, rootless on Windows, to this host)."""

    def __init__(
        self,
        name: str,
        root: Path | str | None = None,
        *,
        app_pools: AppPoolHook | None = None,
    ) -> None:
        self.name = name
        if root is None:
            if os.name != "nt":
                raise TransportError(
                    f"{name}: the local transport needs a root directory outside Windows"
                )
            app_pools = app_pools or PowerShellAppPools()
        self.host = DirectoryHost(Path(root) if root is not None else None, app_pools)

    def run(
        self, op: str, params: Mapping[str, Any], payload: bytes | None = None
    ) -> dict[str, Any]:
        # through JSON and back, as over the wire: what would not survive WinRM
        # (tuples become lists, Paths are refused) must not pass here either
        wire_params = json.loads(json.dumps(dict(params)))
        result = self.host.run(op, wire_params, payload)
        copied: dict[str, Any] = json.loads(json.dumps(result))
        return copied

    def run_batch(self, steps: Sequence[Step]) -> list[dict[str, Any]]:
        # through the wire format both ways: the batch runs exactly as a host runs it
        check_steps(steps)
        stdout, code = self.host.dispatch_wire(encode_batch(steps))
        return parse_batch_result(steps, stdout, code)
