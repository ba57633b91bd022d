"""``read_iis_log`` on a directory host (twin of ``read_iis_log.ps1``).

The newest ``*.log`` file of an IIS site's log folder -- by last write time, then by
name, as the script sorts them -- read in two bounded parts: its first `HEAD_BYTES`
(the W3C directives) and its last ``max_bytes``. The simulator writes the gateway's
request log there (`gwctl.sim.iislog`).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gwctl.ops.hostfiles import utc_text
from gwctl.ops.params import Params
from gwctl.ops.winpaths import join_windows

__all__ = ["HEAD_BYTES", "MAX_BYTES", "MIN_BYTES", "read_iis_log"]

HEAD_BYTES = 4096
MIN_BYTES = 4096
MAX_BYTES = 4 * 1024 * 1024


def _newest(folder: Path) -> Path | None:
    logs = [f for f in folder.iterdir() if f.is_file() and f.name.lower().endswith(".log")]
    return max(logs, key=lambda f: (f.stat().st_mtime_ns, f.name), default=None)


def read_iis_log(p: Params, map_path: Callable[[str], Path]) -> dict[str, Any]:
    log_dir = p.text("log_dir").rstrip("\\")
    max_bytes = p.integer("max_bytes", MIN_BYTES, MAX_BYTES)
    folder = map_path(log_dir)
    result: dict[str, Any] = {"log_dir": log_dir, "exists": folder.is_dir(), "file": None,
                              "size": None, "mtime": None, "head_b64": None,
                              "tail_offset": None, "tail_b64": None}
    newest = _newest(folder) if result["exists"] else None
    if newest is None:
        return result
    with newest.open("rb") as f:
        size = f.seek(0, 2)
        head = min(size, HEAD_BYTES)
        start = max(head, size - max_bytes)
        f.seek(0)
        first = f.read(head)
        f.seek(start)
        last = f.read(size - start)
        mtime = newest.stat().st_mtime
    result.update(file=join_windows(log_dir, newest.name), size=size,
                  mtime=utc_text(datetime.fromtimestamp(mtime, UTC)),
                  head_b64=base64.b64encode(first).decode("ascii"), tail_offset=start,
                  tail_b64=base64.b64encode(last).decode("ascii"))
    return result
