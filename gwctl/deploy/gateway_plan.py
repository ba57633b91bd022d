"""Plans: what applying the fleet would change on one gateway, and why.

Two views of every change. The *file* view is a unified diff of the bytes gwctl would
write against the bytes on the host. The *semantic* view compares the effective
configuration the gateway runs with now and would run with afterwards (base
``appsettings.json`` + override, .NET merge rules): formatting, key order, comments and
case-only key differences are not drift. A file counts as changed only when its
semantic view changes; nlog.config is compared as canonical XML.
Secrets are masked in both views with a changed/unchanged marker.
"""

from __future__ import annotations

import difflib
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from gwctl.deploy.activation import ACTIVATION, Activation, parse
from gwctl.errors import InputError
from gwctl.fleet.model import Gateway
from gwctl.hosts.facts import BASE_FILE, HostFacts, LiveFile
from gwctl.iis.behaviour import effective_environment, failure_story
from gwctl.iis.conditions import Condition, conditions
from gwctl.iis.hostinfo import HostInfo
from gwctl.netjson.config import Effective, FlatConfig, flatten_text
from gwctl.output import redact
from gwctl.render.files import APPSETTINGS, NLOG, RenderedFile
from gwctl.textio import decode

if TYPE_CHECKING:
    from gwctl.versions.discovery import GatewayDiscovery

Action = Literal["create", "update", "unchanged"]


@dataclass(frozen=True)
class SemanticChange:
    key: str
    action: Literal["added", "removed", "changed"]
    old: str | None
    new: str | None

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "action": self.action, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class FileChange:
    name: str
    path: str
    action: Action
    old_sha256: str | None
    new_sha256: str
    diff: str
    needs_recycle: bool
    #: the bytes differ but the gateway would run the same configuration
    cosmetic: bool = False
    note: str | None = None
    #: both sides with secrets masked and LF line endings, for before/after diff views
    #: (Ansible's ``--diff``); empty when the file is unchanged
    before: str = ""
    after: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "action": self.action,
                "old_sha256": self.old_sha256, "new_sha256": self.new_sha256,
                "cosmetic": self.cosmetic, "needs_recycle": self.needs_recycle,
                "note": self.note, "diff": self.diff}


@dataclass
class GatewayPlan:
    gateway: str
    host: str
    files: list[FileChange] = field(default_factory=list)
    semantic: list[SemanticChange] = field(default_factory=list)
    error: str | None = None
    #: what is written, kept out of every display
    payloads: dict[str, bytes] = field(default_factory=dict, repr=False)
    #: the host's activation record as read (gwctl.deploy.activation), and its digest for
    #: the lost-update check ("absent" when there is none)
    activation: Activation | None = None
    activation_sha256: str = "absent"
    #: digest of the host's appsettings.json (the installer's base) as read; "absent"
    #: when there is none. An upgrade or the Server Configurator changes it.
    base_sha256: str = "absent"
    #: what ``read_host`` found (None: not read)
    host_info: HostInfo | None = None
    #: host rules the fleet disables (``rules: {host-app-offline: {enabled: false, ...}}``):
    #: their conditions are neither shown nor block apply, as a disabled rule reports nothing
    disabled_rules: frozenset[str] = frozenset()
    #: the host's installed versions, read in the same command as the files (apply's
    #: plans: the version gate then asks nothing more); None: not read
    versions: GatewayDiscovery | None = field(default=None, repr=False)

    @property
    def conditions(self) -> list[Condition]:
        """The host's hidden conditions (`gwctl.iis.conditions`)."""
        if self.host_info is None:
            return []
        return [c for c in conditions(self.host_info) if c.rule not in self.disabled_rules]

    @property
    def blockers(self) -> list[Condition]:
        """Conditions under which applying cannot take effect: drift apply cannot fix."""
        return [c for c in self.conditions if c.blocks]

    @property
    def pending(self) -> Activation | None:
        """The record of an apply or rollback whose activation never finished, if any."""
        return self.activation if self.activation and self.activation.pending else None

    @property
    def changed(self) -> bool:
        return self.pending is not None or any(f.action != "unchanged" for f in self.files)

    @property
    def needs_recycle(self) -> bool:
        if self.pending is not None and self.pending.recycle:
            return True
        return any(f.action != "unchanged" and f.needs_recycle for f in self.files)

    @property
    def status(self) -> str:
        if self.error:
            return "error"
        if self.blockers:
            return "blocked"
        return "drift" if self.changed else "in-sync"

    def host_json(self) -> dict[str, Any] | None:
        if self.host_info is None:
            return None
        env = effective_environment(self.host_info)
        return {**self.host_info.to_json(),
                "environment": {"name": env.name, "variable": env.variable,
                                "layer": env.layer, "detail": env.describe()},
                "failure": failure_story(self.host_info)}

    def to_json(self) -> dict[str, Any]:
        return {
            "gateway": self.gateway, "host": self.host, "status": self.status,
            "error": self.error, "recycle": self.needs_recycle,
            "files": [f.to_json() for f in self.files],
            "semantic": [c.to_json() for c in self.semantic],
            "pending_activation": (None if self.pending is None else
                                   {**self.pending.to_json(),
                                    "detail": self.pending.describe()}),
            "conditions": [c.to_json() for c in self.conditions],
            "host_facts": self.host_json(),
        }


def _text(data: bytes | None, name: str) -> str:
    if data is None:
        return ""
    try:
        return decode(data, file=name)
    except InputError:
        return data.decode("utf-8", "replace")


@lru_cache(maxsize=64)
def _flat(text: str, name: str) -> tuple[FlatConfig, str | None]:
    """Parsed and flattened; cached because a fleet's hosts mostly hold identical files
    (FlatConfig is never modified after flattening)."""
    if not text.strip():
        return FlatConfig(name), None
    try:
        return flatten_text(text, file=name), None
    except InputError as exc:
        return FlatConfig(name), str(exc)


def semantic_diff(before: Effective, after: Effective) -> list[SemanticChange]:
    changes = []
    for key, entry in after.entries.items():
        old = before.entries.get(key)
        spelled = entry.key
        if old is None:
            changes.append(SemanticChange(spelled, "added", None,
                                          redact.mask_change(spelled, entry.value, None)))
        elif old.value != entry.value:
            changes.append(SemanticChange(spelled, "changed",
                                          redact.mask_change(spelled, old.value, entry.value),
                                          redact.mask_change(spelled, entry.value, old.value)))
    for key, entry in before.entries.items():
        if key not in after.entries:
            changes.append(SemanticChange(entry.key, "removed",
                                          redact.mask_change(entry.key, entry.value, None), None))
    return sorted(changes, key=lambda c: c.key.lower())


def _masked_sides(old: str, new: str, *, json_text: bool) -> tuple[str, str]:
    """Both sides with secrets masked and LF line endings: an unchanged secret shows no
    difference, a changed one reads ``(secret, changed)``."""
    mask = redact.mask_json_text if json_text else redact.scrub
    old, new = mask(old), mask(new, old)
    return old.replace("\r\n", "\n"), new.replace("\r\n", "\n")


def _unified(old: str, new: str, path: str) -> str:
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 fromfile=f"{path} (live)", tofile=f"{path} (gwctl)")
    return "".join(lines)


def _canonical_xml(text: str) -> str | None:
    try:
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError:
        return None
    for el in root.iter():
        if el.text is not None and not el.text.strip():
            el.text = None
        if el.tail is not None and not el.tail.strip():
            el.tail = None
    return ET.canonicalize(ET.tostring(root, encoding="unicode"), strip_text=True)


def plan_gateway(gw: Gateway, host: str, facts: HostFacts, rendered: list[RenderedFile],
                 reference_base: Callable[[], FlatConfig]) -> GatewayPlan:
    """`reference_base` is asked only when the host's own appsettings.json is missing or
    unreadable."""
    plan = GatewayPlan(gw.id, host)
    base_live = facts.files.get(BASE_FILE)
    err: str | None = "absent"
    if base_live is not None and base_live.exists:
        plan.base_sha256 = base_live.sha256 or "absent"
        base, err = _flat(_text(base_live.content, BASE_FILE), gw.install_path(BASE_FILE))
    if err:
        base = reference_base()
    record = facts.files.get(ACTIVATION)
    if record is not None and record.exists:
        plan.activation = parse(record.content)
        plan.activation_sha256 = record.sha256 or "absent"
    for rf in rendered:
        live = facts.files.get(rf.name) or LiveFile(rf.name, gw.install_path(rf.name), False,
                                                     None, None)
        plan.payloads[rf.name] = rf.content
        plan.files.append(_file_change(gw, rf, live, base, plan))
    return plan


def _file_change(gw: Gateway, rf: RenderedFile, live: LiveFile, base: FlatConfig,
                 plan: GatewayPlan) -> FileChange:
    import hashlib

    path = gw.install_path(rf.name)
    new_sha = hashlib.sha256(rf.content).hexdigest()
    live_text = _text(live.content, path)
    new_text = rf.content.decode("utf-8")
    is_json = rf.name == APPSETTINGS
    if live.exists and live.content == rf.content:
        return FileChange(rf.name, path, "unchanged", live.sha256, new_sha, "", rf.needs_recycle)
    before, after = _masked_sides(live_text, new_text, json_text=is_json)
    diff = _unified(before, after, path)
    note = None
    if is_json:
        old_flat, err = _flat(live_text, path)
        if err:
            note = f"the live file does not parse: {redact.scrub(err)}"
        new_flat, _ = _flat(new_text, path)
        changes = semantic_diff(Effective([base, old_flat]), Effective([base, new_flat]))
        plan.semantic.extend(changes)
        # an absent override and one that overrides nothing are the same to the gateway
        cosmetic = not changes and err is None and (live.exists or len(new_flat) == 0)
    else:
        cosmetic = live.exists and _canonical_xml(live_text) == _canonical_xml(new_text) \
            and _canonical_xml(new_text) is not None
    action: Action = "unchanged" if cosmetic else ("update" if live.exists else "create")
    if cosmetic:
        note = ("formatting differs only; the gateway would run the same configuration"
                if live.exists else "nothing to override; the file stays absent")
    return FileChange(rf.name, path, action, live.sha256, new_sha, diff, rf.needs_recycle,
                      cosmetic=cosmetic, note=note, before=before, after=after)


__all__ = ["NLOG", "FileChange", "GatewayPlan", "SemanticChange", "plan_gateway",
           "semantic_diff"]
