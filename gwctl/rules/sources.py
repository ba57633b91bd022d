"""Building targets: gateways of a fleet, or live files, read as the gateway reads them.

Reading problems -- a file that is not JSON the gateway can parse, a top-level value that
is not an object, XML that is not well-formed -- are problems (rules ``json-syntax``,
``top-level-not-object``, ``xml-syntax``), never exceptions; only an unreadable file
raises `InputError`. Duplicate keys are recorded on the target for the ``duplicate-key``
rule.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gwctl.errors import InputError
from gwctl.netjson import runtime as dotnet
from gwctl.netjson.config import FlatConfig, TopLevelNotObject, flatten_document, flatten_value
from gwctl.netjson.config import unflatten as _unflatten
from gwctl.netjson.parser import JsonDocument, JsonSyntaxError, parse
from gwctl.nlog.document import NlogDoc, parse_nlog
from gwctl.problems import Level, Location, Problem
from gwctl.render.bases import reference_base, reference_base_text
from gwctl.rules import _cfg
from gwctl.rules._cfg import Key
from gwctl.rules.target import (
    DuplicateKey,
    FileTarget,
    FleetTarget,
    Rendered,
    Target,
    TargetSet,
    find_json,
)
from gwctl.textio import read_text
from gwctl.versions.release import Version

if TYPE_CHECKING:
    from gwctl.fleet.model import Fleet, Gateway

#: stand-ins for the URLs of the bundled base, substituted per gateway (see BaseCache)
_MS_SENTINEL = "https://gwctl-management-server.invalid"
_GW_SENTINEL = "https://gwctl-gateway.invalid"
#: the bundled base used by lint-file (its URLs are unknown and never reported)
FILE_MODE_URL = "http://localhost"


def unflatten(flat: FlatConfig) -> Any:
    """The nested tree of a flat file (empty sections as ``{}``, null as "")."""
    return _cfg.sections_from_flat(_unflatten(flat.as_dict()))


# -- the bundled base, per release and URLs --------------------------------------------------


def _set(tree: Any, key: Key, value: Any) -> Any:
    """A copy of `tree` with `value` at `key`, copying only the containers on the way."""
    if not key:
        return value
    head, rest = key[0], key[1:]
    if isinstance(tree, list):
        out_l = list(tree)
        out_l[int(head)] = _set(tree[int(head)], rest, value)
        return out_l
    out = dict(tree)
    out[head] = _set(tree[head], rest, value)
    return out


def _leaves_with(tree: Any, needles: tuple[str, ...], key: Key = ()) -> Iterator[Key]:
    if isinstance(tree, dict | list):
        for k, v in _cfg.items(tree):
            yield from _leaves_with(v, needles, (*key, k))
    elif isinstance(tree, str) and any(n in tree for n in needles):
        yield key


class BaseCache:
    """Reference base trees: parsed once per release, URLs substituted per gateway.

    `gwctl.render.bases.reference_base_text` only substitutes the management server and gateway
    URLs into the release's text, so parsing it once with sentinel URLs and replacing the
    sentinels in the few values that hold them gives exactly the tree of the real URLs at
    a fraction of the cost (a fleet has as many gateway URLs as gateways).
    """

    def __init__(self) -> None:
        self._releases: dict[tuple[int, int], tuple[Any, list[Key]]] = {}
        self._trees: dict[tuple[tuple[int, int], str, str], Any] = {}

    def tree(self, version: Version, management_url: str, gateway_url: str) -> Any:
        key = (version.release_key, management_url, gateway_url)
        tree = self._trees.get(key)
        if tree is None:
            template, paths = self._release(version)
            tree = template
            ms, gw = management_url.rstrip("/"), gateway_url.rstrip("/")
            for path in paths:
                value = _cfg.walk(template, path)
                tree = _set(tree, path, value.replace(_MS_SENTINEL, ms).replace(_GW_SENTINEL, gw))
            self._trees[key] = tree
        return tree

    def _release(self, version: Version) -> tuple[Any, list[Key]]:
        found = self._releases.get(version.release_key)
        if found is None:
            release = version.as_release()
            text = reference_base_text(release, _MS_SENTINEL, _GW_SENTINEL)
            tree = unflatten(flatten_document(parse(text, file="<reference appsettings.json>")))
            found = (tree, list(_leaves_with(tree, (_MS_SENTINEL, _GW_SENTINEL))))
            self._releases[version.release_key] = found
        return found


# -- fleet mode --------------------------------------------------------------------------------


def _collides(node: Any, memo: dict[int, tuple[Any, bool]], depth: int = 0) -> bool:
    """Keys that flatten into each other below `node`: equal ignoring case, or with ``:``.

    Route and cluster objects (depth 3) are shared between gateways, so their answer is
    memoised by identity for the run.
    """
    if depth == 3 and isinstance(node, dict):
        hit = memo.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1]
        found = _collides_here(node, memo, depth)
        memo[id(node)] = (node, found)
        return found
    return _collides_here(node, memo, depth)


def _collides_here(node: Any, memo: dict[int, tuple[Any, bool]], depth: int) -> bool:
    if isinstance(node, dict):
        seen: set[str] = set()
        for k, v in node.items():
            f = k.lower()
            # a null or [] is flagged too: what it reads as depends on the runtime
            if f in seen or ":" in f or v is None or v == []:
                return True
            seen.add(f)
            if isinstance(v, dict | list) and _collides(v, memo, depth + 1):
                return True
    elif isinstance(node, list):
        return any(v is None or v == [] or (isinstance(v, dict | list)
                                            and _collides(v, memo, depth + 1)) for v in node)
    return False


def _pointer_key(pointer: str) -> Key:
    return tuple(p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:])


def _as_read(node: Any, runtime: int, memo: dict[int, tuple[Any, Any]]) -> Any:
    """`node` with each null and ``[]`` replaced by what .NET `runtime` reads it as.

    Up to .NET 9 a null is ``""`` and ``[]`` an empty section (``{}`` in a rule's tree);
    from .NET 10 a null is like an empty section and ``[]`` is ``""``
    (`gwctl.netjson.runtime`). `node` itself (not a copy) comes back when it holds
    neither; containers shared between gateways are memoised by identity for the run.
    """
    if node is None:
        return {} if dotnet.null_text(runtime) is None else dotnet.null_text(runtime)
    if isinstance(node, list) and not node:
        text = dotnet.empty_array_text(runtime)
        return {} if text is None else text
    if not isinstance(node, dict | list):
        return node
    hit = memo.get(id(node))
    if hit is not None and hit[0] is node:
        return hit[1]
    items = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
    changed = {k: new for k, v in items if (new := _as_read(v, runtime, memo)) is not v}
    out: Any = node
    if changed and isinstance(node, dict):
        out = {k: changed.get(k, v) for k, v in items}
    elif changed:
        out = [changed.get(i, v) for i, v in items]
    memo[id(node)] = (node, out)
    return out


def rendered_duplicates(tree: Any, shared: dict[Any, Any] | None = None,
                        runtime: int = dotnet.DEFAULT) -> tuple[list[DuplicateKey], Any]:
    """Duplicate flattened keys of a rendered override, and the tree as the gateway reads it
    (a null or ``[]`` as a gateway on .NET `runtime` reads it: `_as_read`).

    Only when some key could collide is the (slow) flat model built; then the tree is
    rebuilt from it so that ``"Logging:LogLevel"`` keys mean what they mean to the gateway.
    (`_collides` also answers True for a tree holding a null or ``[]``, so that the common
    tree with neither is walked once.)
    """
    cache = shared if shared is not None else {}
    memo = cache.setdefault("collisions", {})
    # one walk (memoised on the shared route and cluster objects) finds both colliding
    # keys and nulls or []; most trees have neither
    if not _collides(tree, memo):
        return [], tree
    tree = _as_read(tree, runtime, cache.setdefault(("as-read", runtime), {}))
    if not _collides(tree, memo):
        return [], tree
    flat = flatten_value(tree, name="override", runtime=runtime)
    dups = [DuplicateKey(d.key, _pointer_key(d.first.pointer), _pointer_key(d.second.pointer))
            for d in flat.duplicates]
    return dups, unflatten(flat)


class NlogCache:
    """Parsed nlog.config per rendered text, ignoring the gateway id in its header comment."""

    def __init__(self) -> None:
        self._docs: dict[str, NlogDoc] = {}

    def get(self, text: str, gateway_id: str) -> NlogDoc:
        key = text.replace(gateway_id, "\x00")
        doc = self._docs.get(key)
        if doc is None:
            doc = parse_nlog(text, "<rendered nlog.config>")
            self._docs[key] = doc
        return doc


def _render(gw: Gateway, problems: list[Problem]) -> Rendered | None:
    from gwctl.render.appsettings import render_appsettings

    try:
        appsettings = render_appsettings(gw)
    except InputError as exc:
        problems.append(_render_problem(gw, exc, "/settings"))
        return None
    nlog_text = None
    if "nlog" in gw.settings:
        nlog_text = _render_nlog(gw, problems)
    return Rendered(appsettings, nlog_text)


def _render_nlog(gw: Gateway, problems: list[Problem]) -> str | None:
    from gwctl.render import nlog as nlog_render

    # unchecked: a rule naming an unknown target is nlog-unknown-target's finding, which
    # points at the rule; the renderer's own check could only say "the file is wrong"
    try:
        return nlog_render.render_nlog(gw, check=False)
    except InputError as exc:
        problems.append(_render_problem(gw, exc, "/nlog"))
        return None


def _render_problem(gw: Gateway, exc: InputError, setting: str) -> Problem:
    # the renderer's own location (the offending setting, or the user's template) is best
    loc = (Location(exc.file, exc.line, exc.column) if exc.file and exc.line
           else gw.locate_setting(setting))
    return Problem("nlog-render" if setting == "/nlog" else "internal-error", Level.ERROR,
                   exc.message, path=gw.setting_pointer_in_file(setting),
                   subject=gw.id).at(loc)


def fleet_targets(fleet: Fleet, rendered: Mapping[str, Rendered] | None,
                  shared: dict[Any, Any]) -> Iterator[Target | Problem]:
    """One target per gateway (lazily: a fleet is large), or a problem when rendering fails."""
    bases: BaseCache = shared.setdefault("bases", BaseCache())
    nlogs: NlogCache = shared.setdefault("nlogs", NlogCache())
    for site in fleet.sites:
        ms = site.management_server
        ms_url = ms.url
        for gw in site.gateways:
            problems: list[Problem] = []
            r = rendered.get(gw.id) if rendered is not None else None
            if r is None:
                try:
                    r = _render(gw, problems)
                except Exception as exc:
                    # a renderer bug must not hide every other gateway's findings
                    problems.append(Problem("internal-error", Level.ERROR,
                                            f"rendering failed ({type(exc).__name__}: {exc}); "
                                            "please report this as a gwctl bug",
                                            subject=gw.id).at(gw.source.locate(gw.pointer)))
                    r = None
            yield from problems
            if r is None:
                continue
            dups, override = rendered_duplicates(r.appsettings, shared, gw.dotnet_version)
            nlog_settings = gw.settings.get("nlog") or {}
            target = FleetTarget(
                gw=gw, version=gw.version, environment=gw.environment,
                encryption=ms.encryption, nlog_version=int(nlog_settings.get("version", 5)),
                override=override,
                base=bases.tree(gw.version, ms_url, gw.root_url),
                nlog=nlogs.get(r.nlog, gw.id) if r.nlog is not None else None,
                shared=shared)
            target.duplicates = dups
            yield target


# -- file mode ---------------------------------------------------------------------------------


def file_kind(path: str, text: str) -> str:
    """``appsettings`` or ``nlog``: by extension, else by the first character."""
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        return "appsettings"
    if suffix in (".config", ".xml"):
        return "nlog"
    return "nlog" if text.lstrip("\ufeff \t\r\n").startswith("<") else "appsettings"


class ParsedJson:
    """A live JSON file read as the gateway reads it."""

    def __init__(self, file: str, text: str, runtime: int = dotnet.DEFAULT) -> None:
        self.file = file
        self.text = text
        self.doc: JsonDocument | None = None
        self.flat: FlatConfig | None = None
        self.problems: list[Problem] = []
        try:
            self.doc = parse(text, file=file)
            self.flat = flatten_document(self.doc, runtime)
        except TopLevelNotObject as exc:
            self.problems.append(_input_problem(exc, "top-level-not-object"))
        except JsonSyntaxError as exc:
            self.problems.append(_input_problem(exc, "json-syntax"))

    @property
    def tree(self) -> Any:
        return None if self.flat is None else unflatten(self.flat)

    def duplicates(self) -> list[DuplicateKey]:
        if self.flat is None:
            return []
        out = []
        for d in self.flat.duplicates:
            out.append(DuplicateKey(d.key, tuple(d.first.key.split(":")),
                                    tuple(d.second.key.split(":")),
                                    (d.first.line or 1, d.first.column or 1),
                                    (d.second.line or 1, d.second.column or 1),
                                    d.second.pointer))
        return out


def _input_problem(exc: InputError, rule: str) -> Problem:
    return Problem(rule, Level.ERROR, exc.message, file=exc.file, line=exc.line,
                   column=exc.column)


def _infer_encryption(tree: Any) -> bool | None:
    """Whether the files say the management server uses https (None: they don't say)."""
    dests = _cfg.walk(tree, ("ReverseProxy", "Clusters", "managementserver", "Destinations"))
    addresses = [_cfg.text(_cfg.get(d, "Address")) or "" for d in _cfg.children(dests)]
    addresses = [a for a in addresses if a]
    if not addresses:
        return None
    return all(a.lower().startswith("https://") for a in addresses)


def file_targets(paths: list[str], *, base: str | None, environment: str, version: Version,
                 nlog_version: int, kind: str | None = None,
                 runtime: int = dotnet.DEFAULT) -> TargetSet:
    out = TargetSet()
    shared: dict[Any, Any] = {}
    real_base: ParsedJson | None = None
    if base is not None:
        real_base = ParsedJson(base, read_text(base), runtime)
        out.problems.extend(real_base.problems)
        for dup in real_base.duplicates():
            out.problems.append(_duplicate_problem(dup, base))
    if real_base is not None and real_base.flat is not None:
        base_tree = real_base.tree
    else:
        # no base, or one the gateway could not read (reported above): lint the overrides
        # against the bundled base so that their own findings are still found
        base_tree = unflatten(reference_base(version, FILE_MODE_URL, FILE_MODE_URL))
    for path in paths:
        text = read_text(path)
        common: dict[str, Any] = {"version": version, "environment": environment,
                                  "nlog_version": nlog_version, "subject": None,
                                  "shared": shared}
        if (kind or file_kind(path, text)) == "nlog":
            doc = parse_nlog(text, path)
            if doc.error is not None:
                out.problems.append(Problem("xml-syntax", Level.ERROR, doc.error.message,
                                            file=path, line=doc.error.line,
                                            column=doc.error.column))
                continue
            out.targets.append(FileTarget(file=path, text=text, encryption=None, override=None,
                                          base=None, nlog=doc, **common))
            continue
        parsed = ParsedJson(path, text, runtime)
        out.problems.extend(parsed.problems)
        if parsed.flat is None or parsed.doc is None:
            continue
        override = parsed.tree
        # appsettings.json linted on its own is the whole configuration: nothing under it
        own_base = base is None and Path(path).name.lower() == "appsettings.json"
        layer_base = {} if own_base else base_tree
        real = _cfg.merge(real_base.tree if real_base is not None else None, override)
        target = FileTarget(file=path, doc=parsed.doc, text=text,
                            encryption=_infer_encryption(real), override=override,
                            base=layer_base, nlog=None, **common)
        target.duplicates = parsed.duplicates()
        out.targets.append(target)
    return out


def _duplicate_problem(dup: DuplicateKey, file: str) -> Problem:
    line, col = dup.second_pos or (1, 1)
    first = dup.first_pos[0] if dup.first_pos else "?"
    return Problem("duplicate-key", Level.ERROR,
                   f"duplicate key {dup.key!r} (ignoring case; first at line {first}): "
                   "the gateway refuses to start", file=file, line=line, column=col,
                   path=dup.second_pointer)


__all__ = ["BaseCache", "file_targets", "find_json", "fleet_targets", "rendered_duplicates"]
