"""``gwctl sim up --kerberos`` as a user runs it: the README's block, verbatim from the
repository root -- a background simulator owning a real MIT KDC, gwctl's diff, apply and
rollback and the Ansible role logging on with Kerberos against it with only what ``sim
up`` printed exported, and ``sim down`` leaving no KDC and no realm behind.

Skipped when MIT's KDC tools, the GSSAPI binding or pywinrm's Kerberos support
(pykerberos, which Ansible's winrm plugin uses) are missing, saying which.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import kdc as kdc_mod
import pytest
import yaml
from test_ansible_role import CORS, ORIGIN, PROD, environment, recap, repo_root_view

from gwctl.processes import pid_alive

pytestmark = pytest.mark.timeout(300)
ROOT = Path(__file__).resolve().parent.parent
KDC_MISSING = kdc_mod.missing()


def gwctl(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gwctl.cli.main", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, check=False)


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Path]:
    view = repo_root_view(tmp_path)
    yield view
    gwctl("sim", "down", "--state", ".sim/", cwd=view)  # never leave a KDC behind


def readme_kerberos_block() -> list[str]:
    """The ``sh`` block of the README's simulator section that starts ``--kerberos``."""
    text = (ROOT / "README.md").read_text("utf-8")
    section = text[text.index("\n## The simulator"):]
    section = section[:section.index("\n## ", 5)]
    (block,) = [b for b in re.findall(r"```sh\n(.*?)```", section, re.S) if "--kerberos" in b]
    return [line for line in block.splitlines() if line.strip()]


def exported(lines: str, cwd: Path) -> dict[str, str]:
    """What a POSIX shell in `cwd` exports from these ``export NAME=VALUE`` lines."""
    script = "\n".join(line for line in lines.splitlines() if line.startswith("export "))
    out = subprocess.run(["sh", "-c", script + "\nenv -0"], cwd=cwd, env={},
                         capture_output=True, check=True)
    pairs = (item.split(b"=", 1) for item in out.stdout.split(b"\0") if b"=" in item)
    return {k.decode(): v.decode() for k, v in pairs if k.startswith(b"KRB5")}


def set_cors(fleet: Path, origin: str) -> None:
    doc = yaml.safe_load(fleet.read_text("utf-8"))
    (site,) = doc["sites"].values()
    site["settings"] = {"cors": {**CORS, "allow_origins": [origin]}}
    fleet.write_text(yaml.safe_dump(doc, sort_keys=False), "utf-8")


def production(repo: Path, host: str) -> str:
    path = repo / ".sim/hosts" / host / "C/Program Files/Milestone/XProtect API Gateway" / PROD
    return path.read_text("utf-8") if path.exists() else ""


@pytest.mark.skipif(KDC_MISSING is not None, reason=str(KDC_MISSING))
@pytest.mark.skipif(importlib.util.find_spec("kerberos") is None,
                    reason="pywinrm[kerberos] (pykerberos) is not installed: Ansible's winrm "
                           "connection cannot use Kerberos")
def test_readme_kerberos_block_sim_up_diff_apply_role_and_down(repo: Path) -> None:
    (up_line, export_line, diff_line, apply_line, role_line, rollback_line,
     down_line) = readme_kerberos_block()
    home = repo.parent / "home"
    home.mkdir()
    # the user's shell: no Kerberos settings of the tests' own realm
    env = {k: v for k, v in environment(home).items() if not k.startswith("KRB5")}

    def run(line: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(shlex.split(line, comments=True), cwd=repo, env=env,
                              capture_output=True, text=True, check=False, timeout=240)

    up = run(up_line)
    assert up.returncode == 0, up.stdout + up.stderr
    realm = "DEMO.GWCTL.SIM"
    assert f"Kerberos           realm {realm}, KDC 127.0.0.1:" in up.stdout
    assert f"user gwctl-admin@{realm}" in up.stdout
    printed = exported(up.stdout, repo)
    krb5_conf = (repo / ".sim/kerberos/krb5.conf").resolve()
    assert printed == {"KRB5_CONFIG": str(krb5_conf),
                       "KRB5CCNAME": f"FILE:{krb5_conf.with_name('ccache')}"}
    # the README's line exports the same krb5.conf as the one sim up printed
    env.update(exported(export_line, repo))
    assert Path(env["KRB5_CONFIG"]).resolve() == krb5_conf
    state = json.loads((repo / ".sim/state.json").read_text("utf-8"))
    password = state["kerberos"]["password"]
    assert password not in up.stdout
    kdc_pid = int((repo / ".sim/kerberos/kdc.pid").read_text("utf-8"))
    assert pid_alive(kdc_pid)
    inventory = yaml.safe_load((repo / ".sim/inventory.yml").read_text("utf-8"))
    for name, entry in inventory["all"]["children"]["demo"]["hosts"].items():
        assert entry["ansible_winrm_transport"] == "kerberos"
        assert entry["ansible_user"] == f"gwctl-admin@{realm}"
        assert entry["ansible_winrm_kerberos_hostname_override"] == name

    set_cors(repo / ".sim/fleet.yaml", ORIGIN)
    diff = run(diff_line)
    assert diff.returncode == 0, diff.stdout + diff.stderr
    assert "2 to create, 0 to change, 0 in sync, 0 unreachable/failed" in diff.stdout
    applied = run(apply_line)  # --no-ntlm: success can only be a Kerberos logon
    assert applied.returncode == 0, applied.stdout + applied.stderr
    for host in ("demo-ms", "demo-gw1"):
        assert f'"Access-Control-Allow-Origin": "{ORIGIN}"' in production(repo, host)
    log = (repo / ".sim/kerberos/kdc.log").read_text("utf-8")
    for host in ("demo-ms", "demo-gw1"):
        assert re.search(rf"TGS_REQ .* ISSUE: .*gwctl-admin@{realm} for "
                         rf"HTTP/{host}@{realm}", log), log
    assert password not in applied.stdout + applied.stderr

    # the role, through Ansible's winrm plugin and its own kinit
    role_origin = "https://role.example.com"
    set_cors(repo / ".sim/fleet.yaml", role_origin)
    ran = run(role_line)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    for host in ("demo-ms", "demo-gw1"):
        assert recap(ran.stdout)[host]["changed"] == 1, ran.stdout
        assert f'"Access-Control-Allow-Origin": "{role_origin}"' in production(repo, host)
    assert password not in ran.stdout + ran.stderr

    # rollback restores the role's backup: the file gwctl apply wrote
    rolled = run(rollback_line)
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert f'"Access-Control-Allow-Origin": "{ORIGIN}"' in production(repo, "demo-gw1")
    assert f'"Access-Control-Allow-Origin": "{role_origin}"' in production(repo, "demo-ms")

    down = run(down_line)
    assert down.returncode == 0, down.stdout + down.stderr
    assert f"Kerberos realm {realm} removed" in down.stdout
    assert not pid_alive(kdc_pid)
    assert not (repo / ".sim/kerberos").exists()
    after = json.loads((repo / ".sim/state.json").read_text("utf-8"))
    assert after["kerberos"] is None
    inventory_text = (repo / ".sim/inventory.yml").read_text("utf-8")
    assert "ansible_winrm_transport: ntlm" in inventory_text and realm not in inventory_text


def test_sim_up_kerberos_without_the_kdc_tools_is_one_clear_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from gwctl.cli.main import main
    from gwctl.sim import kerberos

    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setattr(kerberos, "_SBIN", ())
    code = main(["sim", "up", "--state", str(tmp_path / ".sim"), "--kerberos"])
    err = capsys.readouterr().err
    assert code == 1
    assert err == ("error: gwctl sim up --kerberos needs MIT krb5's kdb5_util, which is not "
                   "installed (Debian: apt-get install krb5-admin-server krb5-kdc)\n")
    assert not (tmp_path / ".sim").exists()  # refused before anything was created
