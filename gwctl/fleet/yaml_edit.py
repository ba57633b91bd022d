"""Adding gateways to an existing fleet file or directory, keeping what people wrote.

Fleet files are reviewed text: their comments, key order, quoting and flow mappings
carry meaning for the team. Edits go through ruamel.yaml's round-trip mode, which keeps
them; the indentation of block sequences is read from the file itself so untouched lines
come back byte for byte. A new site goes to the file that already declares sites (in a
directory: a new ``<site>.yaml``, merged in file-name order like every other); a new
gateway goes into the file that declares its site's ``gateways``; a gateway already in
the fleet is replaced where it is written. Nothing is written here: the caller gets the
new texts, checks the fleet they make, and only then writes them (`write_texts`).
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gwctl.errors import InputError
from gwctl.fleet.source import FleetSource, combine
from gwctl.fleet.yaml_reader import load_yaml, load_yaml_text
from gwctl.textio import read_bytes, write_atomic


@dataclass(frozen=True)
class NewGateway:
    site: str
    #: the site's ``management_server``, used only when the fleet lacks the site
    management_server: dict[str, Any]
    name: str
    gateway: dict[str, Any]
    #: comment lines written above the gateway's key (notes, secrets to provide)
    comments: Sequence[str] = ()


@dataclass
class Edit:
    """What adding gateways to a fleet changes: file -> its new text."""

    texts: dict[Path, str] = field(default_factory=dict)
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    new_sites: list[str] = field(default_factory=list)
    #: gateway -> the comment lines a replaced gateway did not get (the caller shows them)
    notes: dict[str, list[str]] = field(default_factory=dict)


def _yaml(text: str) -> Any:
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap a long line someone wrote
    mapping, sequence, offset = _indentation(text)
    y.indent(mapping=mapping, sequence=sequence, offset=offset)
    return y


def _indentation(text: str) -> tuple[int, int, int]:
    """(mapping, sequence, offset) as ruamel.yaml names them, read from the first block
    mapping and block sequence in `text`; 2/4/2 when the file has none."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    mapping = 2
    for prev, line in itertools.pairwise(lines):
        if prev.rstrip().endswith(":") and not line.lstrip().startswith("-"):
            step = len(line) - len(line.lstrip()) - (len(prev) - len(prev.lstrip()))
            if step > 0:
                mapping = step
                break
    for prev, line in itertools.pairwise(lines):
        dash = re.match(r"( *)- ", line)
        if prev.rstrip().endswith(":") and dash:
            offset = len(dash.group(1)) - (len(prev) - len(prev.lstrip()))
            if offset >= 0:
                return mapping, offset + 2, offset
    return mapping, 4, 2


def _load(path: Path) -> tuple[str, Any]:
    text = read_bytes(path).decode("utf-8")
    data = _yaml(text).load(text)
    return text, data


def _dump(text: str, data: Any) -> str:
    buf = io.StringIO()
    _yaml(text).dump(data, buf)
    return buf.getvalue()


def _plain_to_rt(value: Any) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, dict):
        out = CommentedMap()
        for k, v in value.items():
            out[k] = _plain_to_rt(v)
        return out
    if isinstance(value, list):
        return CommentedSeq([_plain_to_rt(v) for v in value])
    return value


def _update(old: Any, new: Any) -> Any:
    """`old` (round-trip data) changed in place to equal `new` (plain data) where their
    shapes agree, so that what did not change keeps its comments and quoting; `new`
    converted where they do not."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(old, CommentedMap) and isinstance(new, dict):
        for key in [k for k in old if k not in new]:
            del old[key]
        for key, value in new.items():
            if key not in old:
                old[key] = _plain_to_rt(value)
            elif isinstance(value, dict | list):
                old[key] = _update(old[key], value)
            elif old[key] != value or type(old[key]) is not type(value):
                old[key] = value
        return old
    if isinstance(old, CommentedSeq) and isinstance(new, list) and len(old) == len(new):
        for i, value in enumerate(new):
            if isinstance(value, dict | list):
                old[i] = _update(old[i], value)
            elif old[i] != value or type(old[i]) is not type(value):
                old[i] = value
        return old
    return _plain_to_rt(new)


def _files(target: Path) -> list[Path]:
    if target.is_dir():
        return sorted((f for f in target.iterdir()
                       if f.suffix in (".yaml", ".yml") and f.is_file()), key=lambda f: f.name)
    return [target]


def add_gateways(target: Path, gateways: Sequence[NewGateway]) -> Edit:
    """The texts of `target` (a fleet file, or a directory) with `gateways` added."""
    files = _files(target)
    if not target.is_dir() and not target.exists():
        raise InputError("no such fleet file (import prints a new fleet without --into)",
                         file=str(target))
    loaded: dict[Path, tuple[str, Any]] = {f: _load(f) for f in files}
    edit = Edit()
    touched: set[Path] = set()
    for new in gateways:
        ref = f"{new.site}/{new.name}"
        where = _declaring(loaded, new.site)
        if where is None:
            path = _file_for_new_site(target, loaded, new.site)
            if path not in loaded:
                loaded[path] = ("", _plain_to_rt({"apiVersion": "gwctl/v1", "sites": {}}))
            data = loaded[path][1]
            if data.get("sites") is None:
                data["sites"] = _plain_to_rt({})
            data["sites"][new.site] = _plain_to_rt(
                {"management_server": new.management_server, "gateways": {}})
            edit.new_sites.append(new.site)
            where = path
        site = loaded[where][1]["sites"][new.site]
        if site.get("gateways") is None:
            site["gateways"] = _plain_to_rt({})
        gws = site["gateways"]
        existing = next((p for p, (_, d) in loaded.items()
                         if new.name in ((((d or {}).get("sites") or {}).get(new.site) or {})
                                         .get("gateways") or {})), None)
        if existing is not None:
            gws = loaded[existing][1]["sites"][new.site]["gateways"]
            # updated in place, not replaced: the comments written inside it, and the
            # next key's comments (which ruamel.yaml keeps on this value's last line),
            # stay where they are
            gws[new.name] = _update(gws[new.name], new.gateway)
            edit.replaced.append(ref)
            edit.notes[ref] = list(new.comments)
            touched.add(existing)
            continue
        edit.added.append(ref)
        gws[new.name] = _plain_to_rt(new.gateway)
        if new.comments:
            indent = _key_indent(loaded[where][0], gws)
            gws.yaml_set_comment_before_after_key(new.name, before="\n".join(new.comments),
                                                  indent=indent)
        touched.add(where)
    for path in touched:
        text, data = loaded[path]
        edit.texts[path] = _dump(text, data)
    return edit


def _key_indent(text: str, gws: Any) -> int:
    """The column of the keys inside `gws` (for a comment above a new key)."""
    lc = getattr(gws, "lc", None)
    if lc is not None and lc.data:
        first = next(iter(lc.data.values()))
        return int(first[1])
    parent_col = getattr(lc, "col", None)
    mapping = _indentation(text)[0]
    return (int(parent_col) if parent_col is not None else 4) + mapping


def _declaring(loaded: dict[Path, tuple[str, Any]], site: str) -> Path | None:
    """The file that declares `site`'s gateways, else one that declares the site."""
    found = None
    for path, (_, data) in loaded.items():
        entry = ((data or {}).get("sites") or {}).get(site) if isinstance(data, dict) else None
        if entry is None:
            continue
        if entry.get("gateways") is not None:
            return path
        found = found or path
    return found


def _file_for_new_site(target: Path, loaded: dict[Path, tuple[str, Any]], site: str) -> Path:
    if not target.is_dir():
        return target
    # a file of its own: reviewers see the new site as a new file, and no other file's
    # layout changes
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", site)
    path = target / f"{name}.yaml"
    if path in loaded:
        raise InputError(f"{path.name} exists but does not declare site {site!r}; "
                         "add the site there, or import into that file",
                         file=str(path))
    return path


def source_with(target: Path, texts: dict[Path, str]) -> FleetSource:
    """The fleet `target` would be with `texts` written (for checking before writing)."""
    paths = sorted({*_files(target), *texts}, key=lambda f: f.name)
    sources = [load_yaml_text(texts[p], file=str(p)) if p in texts else load_yaml(str(p))
               for p in paths]
    return combine(sources, target if target.is_dir() else target.parent)


def write_texts(texts: dict[Path, str]) -> None:
    """Replace each file atomically, keeping an existing file's mode."""
    for path, text in texts.items():
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        write_atomic(path, text.encode("utf-8"), mode)
