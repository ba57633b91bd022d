"""What a rule checks: one gateway's configuration, from the fleet or from live files.

The same rule runs in two modes:

* **fleet** (``gwctl validate``): the override is gwctl's rendering of the gateway's
  settings, the base is the bundled reference ``appsettings.json`` for its version and
  URLs, and problems point at the fleet YAML (the setting that produced the key);
* **file** (``gwctl lint-file``): the override is a live ``appsettings*.json`` parsed as
  the gateway parses it, the base the host's ``appsettings.json`` (or the bundled one),
  and problems point into the file itself.

Rules see nested trees (`gwctl.rules._cfg`): ``override`` (what the administrator owns),
``base`` and their merge ``view`` (what the gateway runs with), plus the parsed
``nlog.config`` when there is one. Rules address configuration keys as tuples of names
(``("CORS", "Access-Control-Allow-Origin")``) and report through `Target.report`, which
finds the key in the override and drops findings that exist only in the base: the
administrator does not own ``appsettings.json``, so every finding is anchored at the
override key that causes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from gwctl.netjson.config import Effective, FlatConfig, flatten_value
from gwctl.netjson.parser import JMember, JNode, JsonDocument
from gwctl.nlog.document import NlogDoc, XElem
from gwctl.problems import Level, Location, Problem, escape_pointer_token
from gwctl.rules import _cfg
from gwctl.rules._cfg import Key
from gwctl.versions.release import Version

if TYPE_CHECKING:
    from gwctl.fleet.model import Fleet, Gateway

Mode = Literal["fleet", "file"]
ENVIRONMENTS = ("production", "test", "development")


@dataclass(frozen=True)
class Rendered:
    """A gateway's rendered files, when the caller has them already (saves rendering twice)."""

    appsettings: dict[str, Any]
    nlog: str | None = None


@dataclass(frozen=True)
class DuplicateKey:
    """Two keys of one file that are equal ignoring case once flattened."""

    key: str
    first: Key
    second: Key
    #: file mode: positions of both occurrences
    first_pos: tuple[int, int] | None = None
    second_pos: tuple[int, int] | None = None
    second_pointer: str = ""


def pointer_of(key: Key) -> str:
    return "".join("/" + escape_pointer_token(k) for k in key)


class Target:
    """One gateway's configuration as a rule sees it (see the module docstring)."""

    mode: Mode

    def __init__(self, *, version: Version, environment: str, encryption: bool | None,
                 nlog_version: int, override: Any, base: Any, nlog: NlogDoc | None,
                 subject: str | None, shared: dict[Any, Any] | None = None) -> None:
        self.version = version
        self.environment = environment
        #: the management server uses encryption (None: unknown, e.g. a lone live file)
        self.encryption = encryption
        self.nlog_version = nlog_version
        #: the administrator's override tree (None: no appsettings in this target)
        self.override = override
        self.base = base
        self.view: Any = None if override is None else _cfg.merge(base, override)
        self.nlog = nlog
        self.subject = subject
        #: syntax problems found while reading (json-syntax, xml-syntax, top-level-not-object)
        self.parse_problems: list[Problem] = []
        self.duplicates: list[DuplicateKey] = []
        #: per-target memo for derived data several rules share (routes, signatures)
        self.memo: dict[str, Any] = {}
        #: per-run cache shared by all targets (stock route signatures, parsed templates)
        self.shared: dict[Any, Any] = {} if shared is None else shared

    # -- questions rules ask ---------------------------------------------------------------

    @property
    def gateway(self) -> Gateway | None:
        return None

    @cached_property
    def stock_route_ids(self) -> frozenset[str]:
        """Folded ids of the base's routes (the stock routes of the installer)."""
        routes = _cfg.walk(self.base, ("ReverseProxy", "Routes"))
        return frozenset(k.lower() for k, _ in _cfg.items(routes))

    def in_override(self, key: Key) -> bool:
        return self.override is not None and _cfg.exists(self.override, key)

    def value(self, key: Key) -> Any:
        """The effective value (or section) at `key`."""
        return _cfg.walk(self.view, key)

    # -- flat views, for callers that want Microsoft.Extensions.Configuration's own model --

    @cached_property
    def override_flat(self) -> FlatConfig:
        return flatten_value(self.override or {}, name="override")

    @cached_property
    def base_flat(self) -> FlatConfig:
        return flatten_value(self.base or {}, name="base")

    @cached_property
    def effective(self) -> Effective:
        return Effective([self.base_flat, self.override_flat])

    # -- reporting ---------------------------------------------------------------------------

    def report(self, rule: str, level: Level, message: str, key: Key, *,
               item: int | None = None, extra: dict[str, Any] | None = None
               ) -> Iterator[Problem]:
        """A problem at override key `key` (`item`: index into a comma-separated value).

        Yields nothing when `key` is not in the override (see the module docstring).
        """
        found = self._locate(key, item)
        if found is None:
            return
        path, loc = found
        yield Problem(rule, level, message, path=path, subject=self.subject,
                      extra=extra or {}).at(loc)

    def report_xml(self, rule: str, level: Level, message: str, el: XElem,
                   attr: str | None = None, *, needle: str | None = None,
                   extra: dict[str, Any] | None = None) -> Iterator[Problem]:
        """A problem at an element (or one of its attributes) of nlog.config."""
        path, loc = self._locate_xml(el, attr, needle)
        yield Problem(rule, level, message, path=path, subject=self.subject,
                      extra=extra or {}).at(loc)

    def report_written(self, rule: str, level: Level, message: str, key: Key,
                       position: tuple[int, int] | None = None, pointer: str = "",
                       ) -> Iterator[Problem]:
        """A problem at a key as the override document writes it (even where the
        configuration model would read it differently, e.g. a duplicate)."""
        path, loc = self._locate_written(key, position, pointer)
        yield Problem(rule, level, message, path=path, subject=self.subject).at(loc)

    def _locate(self, key: Key, item: int | None) -> tuple[str, Location] | None:
        raise NotImplementedError

    def _locate_written(self, key: Key, position: tuple[int, int] | None,
                        pointer: str) -> tuple[str, Location]:
        raise NotImplementedError

    def _locate_xml(self, el: XElem, attr: str | None,
                    needle: str | None) -> tuple[str, Location]:
        raise NotImplementedError


# -- file mode ---------------------------------------------------------------------------------


class FileTarget(Target):
    """A live file: ``appsettings*.json`` over a base, or an ``nlog.config``."""

    mode: Mode = "file"

    def __init__(self, *, file: str, doc: JsonDocument | None = None, text: str = "",
                 **kw: Any) -> None:
        super().__init__(**kw)
        self.file = file
        self.doc = doc
        self.source_text = text

    def _locate(self, key: Key, item: int | None) -> tuple[str, Location] | None:
        if self.doc is None or not self.in_override(key):
            return None
        found = find_json(self.doc.root, key)
        if found is None:
            # reached through a key the tree spells differently: the file's top
            return "", Location(self.file, 1, 1)
        ptr, member, node = found
        line, col = (member.line, member.column) if member is not None else (node.line,
                                                                             node.column)
        if item is not None and node.kind == "string":
            line, col = self._item_position(node, item)
        return ptr, Location(self.file, line, col)

    def _locate_written(self, key: Key, position: tuple[int, int] | None,
                        pointer: str) -> tuple[str, Location]:
        if position is not None:
            return pointer, Location(self.file, position[0], position[1])
        found = find_json(self.doc.root, key) if self.doc is not None else None
        if found is None:
            return pointer, Location(self.file, 1, 1)
        ptr, member, node = found
        at = member if member is not None else node
        return ptr, Location(self.file, at.line, at.column)

    def _item_position(self, node: JNode, item: int) -> tuple[int, int]:
        """Column of the `item`-th comma-separated entry inside a one-line string."""
        offsets = _cfg.split_csv(str(node.value))
        if item >= len(offsets):
            return node.line, node.column
        lines = self._lines
        raw = lines[node.line - 1] if node.line - 1 < len(lines) else ""
        value = str(node.value)
        # only exact when the string is written without escapes on one line
        if raw[node.column:node.column + len(value)] == value:
            return node.line, node.column + 1 + offsets[item][1]
        return node.line, node.column

    @cached_property
    def _lines(self) -> list[str]:
        return self.source_text.splitlines()

    def _locate_xml(self, el: XElem, attr: str | None,
                    needle: str | None) -> tuple[str, Location]:
        assert self.nlog is not None
        name = el.attr_name(attr) if attr else None
        line, col = self.nlog.attr_position(el, name, needle)
        path = el.path + (f"/@{name}" if name else "")
        return path, Location(self.file, line, col)


def find_json(root: JNode, key: Key) -> tuple[str, JMember | None, JNode] | None:
    """Pointer, member and value node of configuration key `key` in a parsed file.

    Member names may themselves contain ``:`` (``"Logging:LogLevel": {...}``), as the
    configuration splits them too.
    """
    node = root
    member: JMember | None = None
    ptr = ""
    i = 0
    while i < len(key):
        if node.kind == "object":
            match = None
            for m in node.value:
                parts = m.key.split(":")
                if [p.lower() for p in key[i:i + len(parts)]] == [p.lower() for p in parts]:
                    match = m
            if match is None:
                return None
            member = match
            ptr += "/" + escape_pointer_token(match.key)
            i += len(match.key.split(":"))
            node = match.value
        elif node.kind == "array" and key[i].isdigit() and int(key[i]) < len(node.value):
            node = node.value[int(key[i])]
            member = None
            ptr += "/" + key[i]
            i += 1
        else:
            return None
    return ptr, member, node


# -- fleet mode --------------------------------------------------------------------------------

#: appsettings section -> settings path, for keys gwctl models (anything else is raw)
_CORS_FIELDS = {"enabled": "enabled", "access-control-allow-origin": "allow_origins",
                "access-control-allow-headers": "allow_headers",
                "access-control-allow-methods": "allow_methods"}


def settings_candidates(key: Key, item: int | None) -> list[tuple[str, ...]]:
    """Settings paths that may have produced appsettings key `key`, most specific first."""
    f = [k.lower() for k in key]
    out: list[tuple[str, ...]] = []
    extra = (str(item),) if item is not None else ()
    if f[:1] == ["cors"]:
        if len(f) == 1:
            out.append(("cors",))
        elif f[1] in _CORS_FIELDS:
            out.append(("cors", _CORS_FIELDS[f[1]], *key[2:], *extra))
    elif f[:1] == ["webrtc"]:
        if len(f) == 1:
            out.append(("webrtc",))
        elif f[1] == "iceservers":
            out.append(("webrtc", "ice_servers", *key[2:]))
        elif f[1] == "stun":
            out.append(("webrtc", "ice_servers", "0", "url"))
    elif f[:1] == ["logging"]:
        out.append(("logging", "levels", *key[2:]) if f[1:2] == ["loglevel"] else ("logging",))
    elif f[:1] == ["reverseproxy"]:
        if len(f) >= 2 and f[1] in ("routes", "clusters"):
            out.append(("reverse_proxy", f[1], *key[2:]))
        else:
            out.append(("reverse_proxy",))
    out.append(("appsettings", *key))
    return out


def resolve_setting(settings: Any, path: tuple[str, ...]) -> tuple[str, ...]:
    """The longest prefix of `path` present in `settings`, spelled as the fleet spells it."""
    node = settings
    out: list[str] = []
    for part in path:
        name = _cfg.spelled(node, part)
        if name is None:
            break
        out.append(name)
        node = node[int(name)] if isinstance(node, list) else node[name]
    return tuple(out)


class FleetTarget(Target):
    """One gateway of the fleet: its rendered override over the reference base."""

    mode: Mode = "fleet"

    def __init__(self, *, gw: Gateway, **kw: Any) -> None:
        super().__init__(subject=gw.id, **kw)
        self._gw = gw

    @property
    def gateway(self) -> Gateway:
        return self._gw

    def setting_location(self, settings_pointer: str) -> tuple[str, Location]:
        gw = self._gw
        return gw.setting_pointer_in_file(settings_pointer), gw.locate_setting(settings_pointer)

    def report_setting(self, rule: str, level: Level, message: str, settings_pointer: str, *,
                       extra: dict[str, Any] | None = None) -> Iterator[Problem]:
        """A problem about how a setting was written (a pointer into the merged settings)."""
        path, loc = self.setting_location(settings_pointer)
        yield Problem(rule, level, message, path=path, subject=self.subject,
                      extra=extra or {}).at(loc)

    def _locate(self, key: Key, item: int | None) -> tuple[str, Location] | None:
        if not self.in_override(key):
            return None
        return self._setting_for(key, item)

    def _locate_written(self, key: Key, position: tuple[int, int] | None,
                        pointer: str) -> tuple[str, Location]:
        return self._setting_for(key, None)

    def _setting_for(self, key: Key, item: int | None) -> tuple[str, Location]:
        settings = self._gw.settings
        best: tuple[str, ...] = ()
        for candidate in settings_candidates(key, item):
            found = resolve_setting(settings, candidate)
            if len(found) == len(candidate):
                best = found
                break
            # a partial match counts only inside the section it names
            if len(found) >= min(2, len(candidate)) and len(found) > len(best):
                best = found
        return self.setting_location(pointer_of(best))

    def _locate_xml(self, el: XElem, attr: str | None,
                    needle: str | None) -> tuple[str, Location]:
        ptr = nlog_setting(self._gw.settings.get("nlog") or {}, el, attr)
        found = resolve_setting(self._gw.settings, tuple(ptr.strip("/").split("/")))
        return self.setting_location(pointer_of(found or ("nlog",)))


_NLOG_VARIABLES = {"logdirectory": "log_directory", "archivedirectory": "archive_directory",
                   "defaultlayout": "layout"}
_NLOG_ARCHIVE = {"archivenumbering": "numbering", "archivesuffixformat": "suffix_format",
                 "archiveevery": "every", "archiveabovesize": "above_size",
                 "maxarchivefiles": "max_files", "archiveoldfileonstartup": "on_startup"}
_NLOG_LOGGER = {"name": "logger", "minlevel": "min_level", "maxlevel": "max_level",
                "writeto": "write_to", "final": "final"}


def nlog_setting(nlog: dict[str, Any], el: XElem, attr: str | None) -> str:
    """The ``nlog`` setting that produced element `el` of gwctl's built-in template."""
    if nlog.get("template"):
        return "/nlog/template"
    tag = el.tag.lower()
    a = (attr or "").lower()
    if tag == "nlog":
        return {"internalloglevel": "/nlog/internal_log_level",
                "internallogfile": "/nlog/internal_log_file"}.get(a, "/nlog")
    if tag == "variable":
        name = _NLOG_VARIABLES.get((el.attr("name") or "").lower())
        return f"/nlog/{name}" if name else "/nlog"
    if tag == "target":
        name = el.attr("name") or ""
        if name == "logfile":
            sub = _NLOG_ARCHIVE.get(a)
            return f"/nlog/archive/{sub}" if sub else "/nlog/archive"
        for i, t in enumerate(nlog.get("extra_targets") or []):
            if t.get("name") == name:
                if a in ("name", "xsi:type", "type"):
                    return f"/nlog/extra_targets/{i}/" + ("name" if a == "name" else "type")
                return f"/nlog/extra_targets/{i}/attributes/{escape_pointer_token(attr or '')}"
        return "/nlog/extra_targets"
    if tag == "logger":
        if nlog.get("rules"):
            field_name = _NLOG_LOGGER.get(a)
            base = f"/nlog/rules/{el.index}"
            return f"{base}/{field_name}" if field_name else base
        return "/nlog/min_level" if a in ("minlevel", "") else "/nlog"
    return "/nlog"


class FleetScope:
    """The whole fleet, for rules about sites and gateways rather than one configuration."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet

    def report(self, rule: str, level: Level, message: str, pointer: str, *,
               subject: str | None = None, extra: dict[str, Any] | None = None
               ) -> Iterator[Problem]:
        loc = self.fleet.source.locate(pointer)
        yield Problem(rule, level, message, path=pointer, subject=subject,
                      extra=extra or {}).at(loc)


@dataclass
class TargetSet:
    """Targets built for one run, and problems met while building them."""

    targets: list[Target] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
