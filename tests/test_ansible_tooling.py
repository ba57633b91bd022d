"""What CI checks of the Ansible content, with the tools an Ansible shop runs:
``ansible-playbook --syntax-check`` on every playbook, ``ansible-lint`` with the
production profile (configuration in ``.ansible-lint``), and ``ansible-builder create``
for ``execution-environment.yml`` (the build context only: no container engine here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def tool(home: Path, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(HOME=str(home), NO_COLOR="1", ANSIBLE_NOCOLOR="1",
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    return subprocess.run([str(BIN / args[0]), *args[1:]], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False, timeout=300)


def test_every_playbook_passes_syntax_check(tmp_path: Path) -> None:
    playbooks = sorted((ROOT / "playbooks").glob("*.yml"))
    assert {p.name for p in playbooks} == {"site.yml", "upgrade_check.yml", "verify.yml",
                                           "reconcile.yml"}
    r = tool(tmp_path, "ansible-playbook", "--syntax-check", "-i", "localhost,",
             *map(str, playbooks), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("playbook: ") == len(playbooks)


def test_ansible_lint_production_profile_passes(tmp_path: Path) -> None:
    r = tool(tmp_path, "ansible-lint", "-vv")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "Profile 'production' was required, and it passed." in out
    # it looked at the role, every playbook and the collection metadata
    for name in ("playbooks/site.yml of type playbook", "playbooks/verify.yml of type playbook",
                 "playbooks/upgrade_check.yml of type playbook", "galaxy.yml of type galaxy",
                 "playbooks/reconcile.yml of type playbook",
                 "roles/xprotect_api_gateway/tasks/main.yml of type tasks",
                 "roles/xprotect_api_gateway/meta/main.yml of type meta"):
        assert f"Examining {name}" in out, name


def test_execution_environment_context_is_created(tmp_path: Path) -> None:
    context = tmp_path / "context"
    r = tool(tmp_path, "ansible-builder", "create", "-f",
             str(ROOT / "execution-environment.yml"), "-c", str(context))
    assert r.returncode == 0, r.stdout + r.stderr
    containerfile = (context / "Dockerfile").read_text()
    assert "RUN $PYCMD -m pip install --no-cache-dir /tmp/gwctl-src" in containerfile
    assert "ansible-galaxy collection install /tmp/gwctl-src" in containerfile
    src = context / "_build" / "gwctl-src"
    for path in ("pyproject.toml", "galaxy.yml", "gwctl/ops/bootstrap.ps1",
                 "gwctl/ansible/action.py", "roles/xprotect_api_gateway/tasks/main.yml",
                 "plugins/action/xprotect_api_gateway.py", "playbooks/site.yml"):
        assert (src / path).is_file(), path
