"""The files gwctl owns on a gateway host, rendered to bytes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gwctl.fleet.model import Gateway
from gwctl.fleet.secrets import SecretResolver
from gwctl.render.appsettings import render_appsettings
from gwctl.render.jsonout import dumps
from gwctl.render.nlog import render_nlog

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
        text = render_nlog(gw).replace("\r\n", "\n").replace("\n", "\r\n")
        files.append(RenderedFile(NLOG, text.encode("utf-8"), text, False))
    return files


def write_rendered(out_dir: Path, gw: Gateway, files: list[RenderedFile]) -> list[Path]:
    """Write to ``out_dir/<site>/<gateway>/``, each file atomically."""
    target = out_dir / gw.site_name / gw.name
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for f in files:
        path = target / f.name
        tmp = path.with_name(f".{f.name}.tmp")
        tmp.write_bytes(f.content)
        tmp.replace(path)
        written.append(path)
    return written


def write_all(out_dir: Path, rendered: list[tuple[Gateway, list[RenderedFile]]],
              workers: int = 8) -> int:
    """Write many gateways' files; file creation waits on the disk, so threads overlap it."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return sum(len(paths) for paths in pool.map(
            lambda item: write_rendered(out_dir, *item), rendered))
