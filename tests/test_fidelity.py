"""The rules and the simulator agree, on every golden case (tests/examples).

For each case the files the gateway would read are installed on an emulated gateway
(`gwctl sim`, in-process, no sockets): a lint-file case's live files as they are, a
fleet case's rendered files for each of its gateways. The gateway is recycled, and

* it starts exactly when the rules report no start-up-level problem (an error of a rule
  whose ``EFFECT`` is ``start``);
* the requests listed under ``sim: requests:`` in ``expect.yaml`` answer the stated
  status, and every status other than 200 is the one a reported rule states
  (``EFFECT: request:NNN``, or 503 for a gateway that does not start);
* ``sim: logs: false`` -- NLog installed an empty configuration: nothing is logged.

A case for another release than the simulator's gateway (2025 R2) is skipped: the rules
would judge it for that release.
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
from gwctl.netjson import runtime as dotnet
from gwctl.problems import Level, Problem
from gwctl.render.files import render_gateway
from gwctl.rules import request_status, startup_rule_ids
from gwctl.sim.gateway import GatewayEmulator, IncomingRequest
from gwctl.sim.server import SimSite
from gwctl.sim.state import SiteSpec

SIM_RELEASE = "2025 R2"
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

    def install_files(self, files: dict[str, bytes]) -> None:
        """The stock install, with `files` over it (a Production file only if given)."""
        for name in (PRODUCTION, NLOG, APPSETTINGS):
            (self.install / name).unlink(missing_ok=True)
        for name, data in {**self.stock, **files}.items():
            (self.install / name).write_bytes(data)
        self.gateway.recycle(source="test_fidelity")

    def get(self, path: str, headers: dict[str, str]) -> Any:
        req = IncomingRequest("GET", path, "", {"host": "gw.example.com", **headers}, b"",
                              "127.0.0.1", 0)
        return self.gateway.dispatch(req, 0)


@pytest.fixture(scope="module")
def emulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulated]:
    state = tmp_path_factory.mktemp("fidelity") / "sim"
    site = SimSite.create(state, SiteSpec(version=SIM_RELEASE), wsman=False)
    gw = site.runtime.gateway(GATEWAY)
    install = site.install_dir(GATEWAY)
    stock = {p.name: p.read_bytes() for p in install.iterdir() if p.is_file()}
    yield Emulated(site, gw, install, stock)
    shutil.rmtree(state, ignore_errors=True)


def _gateway_files(case: Path, expect: dict[str, Any]) -> list[dict[str, bytes]]:
    """Per gateway of the case: file name -> content, as the gateway would read them."""
    fleet_file = case / "fleet.yaml"
    if fleet_file.exists():
        result = api.load(fleet_file)
        assert result.fleet is not None
        try:
            return [{f.name: f.content for f in render_gateway(gw, None)}
                    for gw in result.fleet.gateways()]
        except InputError:
            pytest.skip("gwctl renders nothing for this fleet (nlog-render), so nothing "
                        "reaches a gateway")
    base = expect.get("base")
    names = expect.get("files") or sorted(
        p.name for p in case.iterdir() if p.is_file() and p.name not in ("expect.yaml", base))
    files = {n: (case / n).read_bytes() for n in names}
    if base:
        files[APPSETTINGS] = (case / base).read_bytes()
    return [files]


def _startup_problems(problems: list[Problem]) -> list[Problem]:
    startup = startup_rule_ids()
    return [p for p in problems if p.suppressed is None and p.level is Level.ERROR
            and p.rule in startup]


def _sim_cases() -> list[Path]:
    out = []
    for case in CASES:
        lives = (case / "fleet.yaml").exists() or any(
            n.startswith("appsettings") or n == NLOG for n in (p.name for p in case.iterdir()))
        if lives:
            out.append(case)
    return out


@pytest.mark.parametrize("case", _sim_cases(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_simulator_agrees_with_the_rules(case: Path, emulated: Emulated) -> None:
    expect = load_expect(case)
    if expect.get("version", SIM_RELEASE) != SIM_RELEASE:
        pytest.skip(f"the case is judged for {expect['version']}, the emulated gateway runs "
                    f"{SIM_RELEASE}")
    if int(expect.get("dotnet_version", dotnet.DEFAULT)) != dotnet.DEFAULT:
        pytest.skip(f"the emulated gateway runs .NET {dotnet.DEFAULT}")
    fleet_file = case / "fleet.yaml"
    if fleet_file.exists():
        fleet = api.load(fleet_file).fleet
        assert fleet is not None
        if any(str(gw.version) != SIM_RELEASE for gw in fleet.gateways()):
            pytest.skip(f"the fleet's gateways do not all run {SIM_RELEASE}")
    problems = run_case(case, expect)
    startup = _startup_problems(problems)
    sim = expect.get("sim") or {}
    reported = {p.rule for p in problems if p.suppressed is None}
    for files in _gateway_files(case, expect):
        if not any(n in files for n in (PRODUCTION, APPSETTINGS, NLOG)):
            continue
        emulated.install_files(files)
        running = emulated.gateway.running
        shown = "\n".join(f"  {p.rule}: {p.message}" for p in startup)
        assert running.ok == (not startup), (
            f"simulator {'starts' if running.ok else 'refuses: ' + str(running.reason)}; "
            f"rules' start-up problems:\n{shown or '  none'}")
        if "starts" in sim:
            assert running.ok is sim["starts"]
        for item in sim.get("requests") or []:
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
        if "logs" in sim:
            assert (emulated.gateway.logs.settings is not None) is sim["logs"]


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
