"""The rules and the simulator agree, on every golden case (tests/examples).

For each case the files the gateway would read are installed on an emulated gateway
(`gwctl sim`, in-process, no sockets) of the case's release and .NET runtime: a lint-file
case's live files as they are (``version``, ``dotnet_version`` of ``expect.yaml``), a
fleet case's rendered files for each of its gateways (its release, on a site whose
management server runs the fleet's, and its ``dotnet_version`` setting or the release's
runtime). The gateway is recycled, and

* it starts exactly when the rules report no start-up-level problem (an error of a rule
  whose ``EFFECT`` is ``start``) for it;
* the requests listed under ``sim: requests:`` in ``expect.yaml`` answer the stated
  status, and every status other than 200 is the one a reported rule states
  (``EFFECT: request:NNN``, or 503 for a gateway that does not start);
* ``sim: logs: false`` -- NLog installed an empty configuration: nothing is logged;
* ``sim: gateways: {NAME: {starts, requests, logs}}`` -- the same, for one gateway of a
  fleet case.

A gateway gwctl cannot render files for (``nlog-render``) gets nothing: gwctl deploys
nothing to it, so it keeps running the installer's files, and must start.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from test_examples import CASES, load_expect, run_case

from gwctl import api
from gwctl.errors import InputError
from gwctl.fleet.model import Gateway
from gwctl.problems import Level, Problem
from gwctl.render.files import render_gateway
from gwctl.rules import request_status, startup_rule_ids
from gwctl.sim.gateway import GatewayEmulator, IncomingRequest
from gwctl.sim.server import SimSite
from gwctl.sim.state import SiteSpec
from gwctl.versions.dotnet import runtime_for
from gwctl.versions.release import Version

DEFAULT_RELEASE = "2025 R2"
GATEWAY = "demo-gw1"
APPSETTINGS = "appsettings.json"
PRODUCTION = "appsettings.Production.json"
NLOG = "nlog.config"


@dataclass
class Emulated:
    site: SimSite
    gateway: GatewayEmulator
    install: Path
    stock: dict[str, bytes]

    def install_files(self, files: dict[str, bytes], runtime: int) -> None:
        """The stock install, with `files` over it (a Production file only if given),
        started on .NET `runtime`."""
        for name in (PRODUCTION, NLOG, APPSETTINGS):
            (self.install / name).unlink(missing_ok=True)
        for name, data in {**self.stock, **files}.items():
            (self.install / name).write_bytes(data)
        self.gateway.host.dotnet_version = runtime
        self.gateway.recycle(source="test_fidelity")

    def get(self, path: str, headers: dict[str, str]) -> Any:
        path, _, query = path.partition("?")
        req = IncomingRequest("GET", path, query, {"host": "gw.example.com", **headers}, b"",
                              "127.0.0.1", 0)
        return self.gateway.dispatch(req, 0)


class Sites:
    """One emulated site per (management server release, gateway release), made on demand."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: dict[tuple[str, str], Emulated] = {}

    def get(self, ms: Version, gw: Version) -> Emulated:
        key = (ms.as_release().name, gw.as_release().name)
        found = self.made.get(key)
        if found is None:
            state = self.root / f"{len(self.made)}"
            spec = SiteSpec(version=key[0], gateway_versions={GATEWAY: key[1]})
            site = SimSite.create(state, spec, wsman=False)
            gateway = site.runtime.gateway(GATEWAY)
            install = site.install_dir(GATEWAY)
            stock = {p.name: p.read_bytes() for p in install.iterdir() if p.is_file()}
            found = self.made[key] = Emulated(site, gateway, install, stock)
        return found


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    root = tmp_path_factory.mktemp("fidelity")
    yield Sites(root)
    shutil.rmtree(root, ignore_errors=True)


@dataclass
class Deployed:
    """What reaches one gateway of a case, and what it runs."""

    name: str | None
    ms: Version
    release: Version
    runtime: int
    files: dict[str, bytes]
    #: why gwctl deploys nothing (the gateway keeps the installer's files), or None
    nothing: str | None = None


def _fleet_gateways(case: Path) -> list[Deployed]:
    result = api.load(case / "fleet.yaml")
    assert result.fleet is not None
    out = []
    for gw in result.fleet.gateways():
        ms = result.fleet.site_of(gw).management_server.version
        try:
            files = {f.name: f.content for f in render_gateway(gw, None)}
            out.append(_deployed(gw, ms, files))
        except InputError as exc:
            out.append(_deployed(gw, ms, {}, exc.message))
    return out


def _deployed(gw: Gateway, ms: Version, files: dict[str, bytes],
              nothing: str | None = None) -> Deployed:
    return Deployed(gw.name, ms, gw.version, gw.dotnet_version, files, nothing)


def _file_gateway(case: Path, expect: dict[str, Any]) -> list[Deployed]:
    base = expect.get("base")
    names = expect.get("files") or sorted(
        p.name for p in case.iterdir() if p.is_file() and p.name not in ("expect.yaml", base))
    files = {n: (case / n).read_bytes() for n in names}
    if base:
        files[APPSETTINGS] = (case / base).read_bytes()
    release = Version.parse(expect.get("version", DEFAULT_RELEASE))
    runtime = int(expect.get("dotnet_version") or runtime_for(release))
    return [Deployed(None, release, release, runtime, files)]


def _startup_problems(problems: list[Problem], gateway: str | None) -> list[Problem]:
    startup = startup_rule_ids()
    return [p for p in problems if p.suppressed is None and p.level is Level.ERROR
            and p.rule in startup and _concerns(p, gateway)]


def _concerns(p: Problem, gateway: str | None) -> bool:
    # a fleet problem names its gateway as SITE/NAME, and one that several gateways share
    # names them all in extra["subjects"]; one without a subject is everyone's
    subjects = p.extra.get("subjects") or ([p.subject] if p.subject is not None else [])
    return gateway is None or not subjects or any(
        str(s).split("/")[-1] == gateway for s in subjects)


def _sim_cases() -> list[Path]:
    out = []
    for case in CASES:
        lives = (case / "fleet.yaml").exists() or any(
            n.startswith("appsettings") or n == NLOG for n in (p.name for p in case.iterdir()))
        if lives:
            out.append(case)
    return out


@pytest.mark.parametrize("case", _sim_cases(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_simulator_agrees_with_the_rules(case: Path, sites: Sites) -> None:
    expect = load_expect(case)
    fleet_mode = (case / "fleet.yaml").exists()
    problems = run_case(case, expect)
    deployed = _fleet_gateways(case) if fleet_mode else _file_gateway(case, expect)
    if not deployed:
        assert fleet_mode
        fleet = api.load(case / "fleet.yaml").fleet
        assert fleet is not None and not any(fleet.gateways())
        pytest.skip("the fleet declares no gateway: there is nothing to emulate")
    sim = expect.get("sim") or {}
    per_gateway = sim.get("gateways") or {}
    assert set(per_gateway) <= {d.name for d in deployed}, per_gateway
    for d in deployed:
        emulated = sites.get(d.ms, d.release)
        emulated.install_files(d.files, d.runtime)
        running = emulated.gateway.running
        assert emulated.gateway.dotnet_version == d.runtime
        startup = _startup_problems(problems, d.name)
        reported = {p.rule for p in problems if p.suppressed is None and _concerns(p, d.name)}
        if d.nothing is not None:
            # gwctl refuses to render this gateway's files: a rule reports why (nlog-render,
            # or the unknown target the renderer's own check stops at), nothing is deployed,
            # and the gateway keeps (and starts on) the installer's files
            errors = {p.rule for p in problems if p.suppressed is None
                      and p.level is Level.ERROR and _concerns(p, d.name)}
            assert errors & {"nlog-render", "nlog-unknown-target"}, (d.nothing, errors)
            assert running.ok, running.reason
            continue
        shown = "\n".join(f"  {p.rule}: {p.message}" for p in startup)
        assert running.ok == (not startup), (
            f"{d.name or 'file'} ({d.release}, .NET {d.runtime}): simulator "
            f"{'starts' if running.ok else 'refuses: ' + str(running.reason)}; "
            f"rules' start-up problems:\n{shown or '  none'}")
        want = {**sim, **(per_gateway.get(d.name) or {})}
        if "starts" in want:
            assert running.ok is want["starts"]
        for item in want.get("requests") or []:
            headers = {"origin": item["origin"]} if "origin" in item else {}
            res = emulated.get(item["path"], headers)
            assert res.status == item["status"], (item, res.note)
            if item["status"] != 200:
                # the status is one a reported rule states (503: the gateway did not start)
                stated = {request_status(r) for r in reported} | (
                    {503} if not running.ok else set())
                assert item["status"] in stated, (item, sorted(reported))
            got = {k.decode("latin-1"): v.decode("latin-1") for k, v in res.headers}
            for name, value in (item.get("headers") or {}).items():
                assert got.get(name.lower()) == value, (name, got)
            if "allow_origin" in item:
                assert got.get("access-control-allow-origin") == item["allow_origin"], got
        if "logs" in want:
            assert (emulated.gateway.logs.settings is not None) is want["logs"]


def test_every_numbered_mismatch_has_a_simulated_case_in_both_modes() -> None:
    """Issue 14's list: each mismatch is exercised by the simulator in file and fleet mode."""
    wanted = {
        "route-cluster-unknown": 503, "cluster-destination-uri": 502,
        "route-constraint-unknown": 500,
    }
    seen: dict[tuple[str, str], set[int]] = {}
    for case in CASES:
        expect = load_expect(case)
        mode = "fleet" if (case / "fleet.yaml").exists() else "file"
        for item in (expect.get("sim") or {}).get("requests") or []:
            for rule in expect.get("covers") or []:
                seen.setdefault((rule, mode), set()).add(int(item["status"]))
    for rule, status in wanted.items():
        for mode in ("file", "fleet"):
            assert status in seen.get((rule, mode), set()), (rule, mode)
