"""Saved plans: ``gwctl plan -o plan.json`` now, ``gwctl apply plan.json`` later.

What is reviewed in a pull request is what is applied (terraform's ``plan -out``). The
plan file is JSON, format ``"gwctl_plan": 1``, and carries:

* ``gwctl_version`` and ``created_at``;
* ``fleet``: the fleet path as given and ``sha256``, a digest of every fleet file's name
  and bytes; ``inventory``: the inventory path; ``selection``: the options that chose the
  gateways;
* per gateway: the inventory host, its status, the digest of the host's activation record
  (``activation_sha256``, ``"absent"`` when there is none), and per managed file: the
  action, ``live_sha256`` (the file on the host when planned, null when absent) and
  ``rendered_sha256`` (the file gwctl would write, **with each secret replaced by its
  reference**); ``plan`` is the masked view people review (what ``diff --output json``
  prints for the gateway).

**Secrets are never in a plan file.** It holds no rendered bytes: applying re-renders
from the fleet, resolving the secret references at apply time, so a plan can sit in CI
artefacts and pull-request comments. What ties the apply to the plan is the digests:

* the fleet must be byte-for-byte the fleet that was planned (else nothing is applied:
  plan again);
* per gateway, the re-rendered files (secrets as references) must have the planned
  digests, the host's files and activation record must still have the digests read at
  plan time, and each file's action must be the planned one (a rotated secret that now
  changes a file the plan left alone is a change nobody reviewed). A gateway failing any
  of these is refused, with the reason; the others are applied;
* per gateway, the installed product version and the base ``appsettings.json`` must be
  those of the plan: a plan made before an upgrade was reviewed against another release
  (other stock routes and defaults under the same overrides), so it is refused on each
  upgraded host ("plan again"). Plans written before these fields existed are not held
  to this check.

A gateway that could not be read at plan time is not applied (plan again).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gwctl import __version__
from gwctl.deploy.gateway_plan import GatewayPlan
from gwctl.errors import InputError
from gwctl.fleet.model import Fleet, Gateway
from gwctl.hosts.targets import Target, TransportFactory
from gwctl.render.files import render_gateway

FORMAT = 1


def fleet_digest(fleet: Fleet) -> str:
    """SHA-256 over each fleet file's name and bytes, in load order."""
    h = hashlib.sha256()
    for src in fleet.source.files:
        path = Path(src.file)
        data = path.read_bytes()
        h.update(f"{path.name}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def rendered_digests(gw: Gateway) -> dict[str, str]:
    """Managed file name -> SHA-256 of the file gwctl would write, secrets as references."""
    return {rf.name: hashlib.sha256(rf.display.encode("utf-8")).hexdigest()
            for rf in render_gateway(gw, None)}


def installed_versions(targets: list[Target], transports: TransportFactory,
                       workers: int) -> dict[str, str | None]:
    """Gateway id -> the installed product version (raw, e.g. ``24.2.1.0``), None when it
    cannot be read; one ``read_versions`` per host, concurrently."""
    from gwctl.hosts.fanout import fan_out
    from gwctl.versions.discovery import read_host

    found = fan_out(lambda i: read_host(targets[i], None, transports), len(targets),
                    workers=workers)
    return {t.gateway.id: (d.reading.raw if d.reading is not None and d.reading.ok else None)
            for t, d in zip(targets, found, strict=True)}


def plan_entry(gw: Gateway, plan: GatewayPlan, version: str | None = None) -> dict[str, Any]:
    rendered = rendered_digests(gw)
    return {
        "gateway": plan.gateway, "host": plan.host, "status": plan.status,
        "activation_sha256": plan.activation_sha256,
        "base_sha256": plan.base_sha256, "product_version": version,
        "files": [{"name": f.name, "path": f.path, "action": f.action,
                   "live_sha256": f.old_sha256, "rendered_sha256": rendered.get(f.name),
                   "needs_recycle": f.needs_recycle} for f in plan.files],
        "plan": plan.to_json(),
    }


def build(fleet: Fleet, fleet_path: str, inventory: str, selection: dict[str, Any],
          pairs: list[tuple[Gateway, GatewayPlan]],
          versions: dict[str, str | None] | None = None) -> dict[str, Any]:
    plans = [p for _, p in pairs]
    return {
        "gwctl_plan": FORMAT,
        "gwctl_version": __version__,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "fleet": {"path": fleet_path, "sha256": fleet_digest(fleet)},
        "inventory": inventory,
        "selection": selection,
        "gateways": [plan_entry(gw, p, (versions or {}).get(gw.id)) for gw, p in pairs],
        "summary": {
            "in_sync": sum(p.status == "in-sync" for p in plans),
            "drift": sum(p.status == "drift" for p in plans),
            "error": sum(p.status == "error" for p in plans),
            "blocked": sum(p.status == "blocked" for p in plans),
            "recycle": sum(p.needs_recycle for p in plans),
        },
    }


@dataclass
class SavedPlan:
    path: str
    doc: dict[str, Any]

    @property
    def fleet_path(self) -> str:
        return str(self.doc["fleet"]["path"])

    @property
    def fleet_sha256(self) -> str:
        return str(self.doc["fleet"]["sha256"])

    @property
    def inventory(self) -> str:
        return str(self.doc["inventory"])

    @property
    def gateways(self) -> list[dict[str, Any]]:
        return list(self.doc["gateways"])


def load(path: str) -> SavedPlan:
    """Read a plan file; a file that is not a gwctl plan of a known format is refused."""
    try:
        doc = json.loads(Path(path).read_text("utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read the plan: {exc.strerror}", file=path) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"not a gwctl plan (not JSON: {exc})", file=path) from None
    if not isinstance(doc, dict) or "gwctl_plan" not in doc:
        raise InputError("not a gwctl plan file (no \"gwctl_plan\" field; write one with "
                         "'gwctl plan -o FILE')", file=path)
    if doc["gwctl_plan"] != FORMAT:
        raise InputError(f"plan format {doc['gwctl_plan']!r} is not supported by gwctl "
                         f"{__version__} (format {FORMAT})", file=path)
    problem = _shape_problem(doc)
    if problem:
        raise InputError(f"damaged plan file: {problem}", file=path)
    return SavedPlan(path, doc)


def _shape_problem(doc: dict[str, Any]) -> str | None:
    """What a damaged plan lacks, or None."""
    if not isinstance(doc.get("fleet"), dict) or "sha256" not in doc["fleet"] \
            or "path" not in doc["fleet"]:
        return "no fleet path and digest"
    if not isinstance(doc.get("inventory"), str):
        return "no inventory"
    if not isinstance(doc.get("gateways"), list):
        return "no gateways"
    for entry in doc["gateways"]:
        if not isinstance(entry, dict) or not all(
                k in entry for k in ("gateway", "host", "files", "activation_sha256")):
            return "a gateway entry lacks gateway, host, files or activation_sha256"
        for f in entry["files"]:
            if not isinstance(f, dict) or not all(
                    k in f for k in ("name", "action", "live_sha256", "rendered_sha256")):
                return f"a file entry of {entry['gateway']} is incomplete"
    return None


def stale_reasons(entry: dict[str, Any], gw: Gateway, fresh: GatewayPlan,
                  version: str | None = None) -> list[str]:
    """Why the gateway planned as `entry` must not be applied now (empty: it may);
    `version` is the product version installed now."""
    if entry.get("status") == "error":
        return ["the host could not be read when the plan was made; plan again"]
    if fresh.error:
        return [f"the host cannot be read now: {fresh.error}"]
    reasons = []
    planned = entry.get("product_version")
    if planned is not None and version != planned:
        reasons.append(f"the gateway was upgraded since the plan was made (planned on "
                       f"{planned}, installed now: {version or 'unreadable'}); the plan was "
                       "reviewed against another release: run 'gwctl plan' again")
    elif "base_sha256" in entry and entry["base_sha256"] != fresh.base_sha256:
        reasons.append("appsettings.json (the installer's base, merged under the overrides) "
                       "changed since the plan was made (an upgrade, a repair or the Server "
                       "Configurator): run 'gwctl plan' again")
    rendered = rendered_digests(gw)
    now = {f.name: f for f in fresh.files}
    for f in entry["files"]:
        name = f["name"]
        change = now.get(name)
        if rendered.get(name) != f["rendered_sha256"] or change is None:
            reasons.append(f"{name}: gwctl now renders it differently than planned")
            continue
        if (change.old_sha256 or None) != (f["live_sha256"] or None):
            reasons.append(f"{name} changed on the host since the plan was made")
        elif change.action != f["action"]:
            reasons.append(f"{name}: the plan said {f['action']}, now it would be "
                           f"{change.action} (a secret's value changed?)")
    extra = set(now) - {f["name"] for f in entry["files"]}
    if extra:
        reasons.append(f"gwctl now also manages {', '.join(sorted(extra))}")
    if fresh.activation_sha256 != entry["activation_sha256"]:
        reasons.append("another apply or rollback ran on the host since the plan was made")
    return reasons
