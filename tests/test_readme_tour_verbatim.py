"""Every line of the README's five-minute tour, run as a user runs it: each line through
bash, in order, from a directory laid out like the repository root (``examples/``), with a
real background simulator started by the tour's own ``gwctl sim up``. After each line the
test checks the work it did (files written, host files changed or untouched, the
simulator gone), never only its exit code.

Notation in the README that is not shell is read as a user reads it: ``[OPTIONS]`` are
optional arguments and are passed. Lines run elsewhere are named in ``ELSEWHERE`` with
the test that runs them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from readme_lines import ShellSession, section_commands, sim_host_files

from gwctl.processes import pid_alive

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = "https://portal.example.com"

#: tour lines another test runs verbatim, and which
ELSEWHERE = {
    "make demo": "tests/test_demo.py",
    ". .venv/bin/activate": "(the test runs gwctl from the virtualenv's bin directory)",
    "ansible-playbook -i .sim/inventory.yml playbooks/site.yml --check --diff":
        "tests/test_ansible_role.py (README commands from the repository root)",
}


def tour_lines() -> list[str]:
    return section_commands("A five-minute tour")


class Tour(ShellSession):
    def __init__(self, cwd: Path) -> None:
        super().__init__(cwd)
        # empty (render refuses a placeholder) until the tour's own export line sets it
        self.env["HQ_TURN_CREDENTIAL"] = ""

    def host_files(self, host: str) -> dict[str, bytes | None]:
        return sim_host_files(self.cwd / ".sim", host)

    def add_settings(self) -> None:
        """What the tour's comment asks for after `sim up`: settings in .sim/fleet.yaml."""
        path = self.cwd / ".sim" / "fleet.yaml"
        doc = yaml.safe_load(path.read_text("utf-8"))
        (site,) = doc["sites"].values()
        site["settings"] = {"cors": {"enabled": True, "allow_origins": [ORIGIN],
                                     "allow_methods": ["GET", "POST", "OPTIONS"]}}
        path.write_text(yaml.safe_dump(doc, sort_keys=False), "utf-8")


@pytest.fixture
def tour(tmp_path: Path) -> Iterator[Tour]:
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    t = Tour(tmp_path)
    yield t
    if (tmp_path / ".sim" / "sim.pid").exists():  # never leave a simulator behind
        t.run("gwctl sim down --state .sim/")


#: every gwctl subcommand the tour shows
SUBCOMMANDS = {"validate", "render", "effective", "lint-file", "rules", "schema", "sim", "diff",
               "plan", "apply", "versions", "check-versions", "upgrade-plan", "import",
               "rollback"}


def test_the_tour_is_what_this_test_runs() -> None:
    lines = tour_lines()
    assert lines[0] == "make demo" and lines[-1].startswith("ansible-playbook")
    assert {line.split()[1] for line in lines if line.startswith("gwctl ")} == SUBCOMMANDS


def check(line: str, code: int, out: str, tour: Tour, before: dict[str, Any]) -> None:
    cwd = tour.cwd
    words = line.split()
    command = words[1] if words[0] == "gwctl" else words[0]
    if command == "validate" and "sarif" in line:
        assert code == 0, out
        sarif = json.loads((cwd / "gwctl.sarif").read_text("utf-8"))
        assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"] == []
    elif command == "validate":
        assert code == 0 and "examples/fleet.yaml: ok (3 gateways)" in out, out
    elif command == "render":
        assert code == 0, out
        written = sorted(p.relative_to(cwd / "out").as_posix()
                         for p in (cwd / "out").rglob("*") if p.is_file())
        assert len(written) == 6 and "hq/hq-gw1/appsettings.Production.json" in written
        assert all((cwd / "out" / w).stat().st_mode & 0o077 == 0 for w in written)
        # the exported value reaches the rendered TURN credential, privately, unwarned
        rendered = cwd / "out" / "hq" / "hq-gw1" / "appsettings.Production.json"
        assert tour.env["HQ_TURN_CREDENTIAL"].encode() in rendered.read_bytes()
        assert "warning" not in out.lower(), out
    elif command == "effective":
        assert code == 0, out
        assert "ReverseProxy" in json.loads(out) or "Logging" in json.loads(out)
    elif command == "lint-file":
        # the manual's own examples carry the problems the manual warns about
        assert code == 1, out
        assert "webrtc.appsettings.Production.json" in out and "(ice-turn-credentials)" in out
    elif command == "rules":
        assert code == 0 and "json-syntax" in out and "cors-wildcard" in out, out
    elif command == "schema":
        assert code == 0, out
        schema = json.loads((cwd / "fleet.schema.json").read_text("utf-8"))
        assert schema["$schema"].endswith("2020-12/schema")
    elif line.startswith("gwctl sim up"):
        assert code == 0 and "site 'demo' is up" in out, out
        assert pid_alive(int((cwd / ".sim" / "sim.pid").read_text().split()[0]))
        tour.add_settings()
        before.update({h: tour.host_files(h) for h in ("demo-ms", "demo-gw1")})
    elif command == "diff" and "--detailed-exitcode" in line:
        assert code == 2 and ORIGIN in out, out  # drift, shown, and nothing written
        assert {h: tour.host_files(h) for h in before} == before
    elif command == "diff":
        assert code == 0, out
        md = (cwd / "comment.md").read_text("utf-8")
        assert "<code>demo/demo-gw1</code>" in md and "demo/demo-ms" not in md
        assert {h: tour.host_files(h) for h in before} == before
    elif command == "plan":
        assert code == 0, out
        plan = json.loads((cwd / "plan.json").read_text("utf-8"))
        assert [g["gateway"] for g in plan["gateways"]] == ["demo/demo-ms", "demo/demo-gw1"]
        assert {h: tour.host_files(h) for h in before} == before
    elif command == "apply" and "plan.json" in line:
        assert code == 0, out
        for host in before:
            assert ORIGIN.encode() in (tour.host_files(host)["appsettings.Production.json"]
                                       or b"")
    elif command == "apply":
        # the saved plan was applied just before: a second apply converges to no change
        assert code == 0, out
        assert "nothing to apply" in out or "0 to change" in out, out
    elif command == "versions":
        assert code == 0 and "2025 R2" in out and "demo-gw1" in out, out
    elif command == "check-versions":
        assert code == 0, out
    elif command == "upgrade-plan":
        assert code == 0 and out.startswith("#") and "demo" in out, out
    elif command == "import":
        assert code == 0, out
        imported = yaml.safe_load((cwd / "imported.yaml").read_text("utf-8"))
        gws = imported["sites"]["demo"]["gateways"]
        # inventory names, never the connection address; the management server's host
        assert {n: g["host"] for n, g in gws.items()} == {"demo-ms": "demo-ms",
                                                           "demo-gw1": "demo-gw1"}
        assert gws["demo-ms"]["colocated"] is True
        assert ORIGIN in json.dumps(imported)  # the live, applied settings
    elif command == "rollback":
        assert code == 0, out
        assert ORIGIN.encode() not in (tour.host_files("demo-gw1")[
            "appsettings.Production.json"] or b"")
        assert ORIGIN.encode() in (tour.host_files("demo-ms")["appsettings.Production.json"]
                                   or b"")
    elif line.startswith("gwctl sim down"):
        assert code == 0, out
        assert not (cwd / ".sim" / "sim.pid").exists()
    else:
        raise AssertionError(f"a README tour line this test does not check: {line}")


def test_every_tour_line_does_its_work(tour: Tour) -> None:
    before: dict[str, Any] = {}
    ran = []
    for line in tour_lines():
        if line in ELSEWHERE:
            continue
        code, out = tour.run(line)
        if not line.startswith("export "):
            check(line, code, out, tour, before)
        ran.append(line)
    assert {line.split()[1] for line in ran if line.startswith("gwctl ")} == SUBCOMMANDS
    assert [line for line in tour_lines() if line not in ran] == list(ELSEWHERE)
