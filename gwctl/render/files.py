"""The files gwctl owns on a gateway host, rendered to bytes, and written to a directory.

Rendered files hold resolved secrets: they are written readable by their owner only
(mode 0600), through a temporary file created exclusively under a random name next to
the target and renamed over it, so that nothing planted in the output directory -- a
symbolic link at a predictable name, a linked site or gateway directory -- can redirect
the write elsewhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gwctl.errors import InputError
from gwctl.fleet.model import Gateway
from gwctl.fleet.secrets import SecretResolver
from gwctl.render.appsettings import render_appsettings
from gwctl.render.jsonout import dumps
from gwctl.render.nlog import has_references, render_nlog
from gwctl.textio import write_atomic

APPSETTINGS = "appsettings.Production.json"
NLOG = "nlog.config"


@dataclass(frozen=True)
class RenderedFile:
    name: str
    content: bytes
    #: the same file with secrets masked: what may be shown, logged or diffed
    display: str
    #: whether changing it needs an app-pool recycle (nlog.config reloads itself)
    needs_recycle: bool


def render_gateway(gw: Gateway, resolver: SecretResolver | None) -> list[RenderedFile]:
    """Render every file gwctl manages for `gw`; ``resolver=None`` masks secrets instead."""
    data = render_appsettings(gw)
    shown = dumps(data, secrets="mask")
    content = (dumps(data, secrets="resolve", resolver=resolver) if resolver else shown)
    files = [RenderedFile(APPSETTINGS, content.encode("utf-8"), shown, True)]
    if "nlog" in gw.settings:
        shown_nlog = _crlf(render_nlog(gw))
        nlog = (_crlf(render_nlog(gw, resolver=resolver))
                if resolver and has_references(gw) else shown_nlog)
        files.append(RenderedFile(NLOG, nlog.encode("utf-8"), shown_nlog, False))
    return files


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def _real_directory(path: Path) -> None:
    """Create `path` if needed; refuse one that is a link (it could lead anywhere)."""
    if path.is_symlink():
        raise InputError("refusing to write through a symbolic link", file=str(path))
    path.mkdir(mode=0o700, exist_ok=True)


def write_rendered(out_dir: Path, gw: Gateway, files: list[RenderedFile]) -> list[Path]:
    """Write to ``out_dir/<site>/<gateway>/``, each file atomically and privately."""
    # private from creation: a window between mkdir and chmod is a window
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = out_dir / gw.site_name
    _real_directory(target)
    target = target / gw.name
    _real_directory(target)
    written = []
    for f in files:
        path = target / f.name
        write_atomic(path, f.content)
        written.append(path)
    return written


def shared_directories(out_dir: Path) -> list[tuple[Path, str]]:
    """`out_dir` and its site and gateway subdirectories when group or others may reach
    into them (POSIX modes; Windows ACLs are not judged). gwctl creates them 0700; one
    that existed before may be shared. Files are 0600, but a shared directory lets others
    see which sites and gateways exist, and a writable one lets them replace the files."""
    import stat

    if os.name != "posix":
        return []
    found = []
    sites = sorted(p for p in out_dir.iterdir() if p.is_dir())
    gateways = [g for site in sites for g in sorted(site.iterdir()) if g.is_dir()]
    for path in (out_dir, *sites, *gateways):
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            continue
        shared = [who for who, bits in (("group", stat.S_IRWXG), ("others", stat.S_IRWXO))
                  if mode & bits]
        if shared:
            found.append((path, f"accessible to {' and '.join(shared)} (mode "
                                f"{stat.S_IMODE(mode):04o})"))
    return found


def write_all(out_dir: Path, rendered: list[tuple[Gateway, list[RenderedFile]]],
              workers: int = 8) -> int:
    """Write many gateways' files; file creation waits on the disk, so threads overlap it."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return sum(len(paths) for paths in pool.map(
            lambda item: write_rendered(out_dir, *item), rendered))
