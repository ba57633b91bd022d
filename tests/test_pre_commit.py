"""The published pre-commit hooks (.pre-commit-hooks.yaml), run by pre-commit itself on a
sample fleet repository: a commit of a bad fleet or live file is refused with gwctl's
message, a good one goes through.

Speed: the published hooks are ``language: python``, so pre-commit would pip-install
gwctl and its dependencies (ansible-core, cryptography, ...) into a fresh environment
first -- minutes, and the network, on every clean CI machine. The test runs the same
hooks as a ``repo: local`` variant with ``language: system`` instead, which calls the
gwctl of this environment (this checkout first on PYTHONPATH); id, entry, files and
pass_filenames are taken from the published file, so the two cannot drift apart, and
pre-commit's own manifest schema checks the published file."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from readme_lines import pipeline_command

ROOT = Path(__file__).resolve().parent.parent
GUARD = 120  # a hang guard only

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def published() -> list[dict[str, Any]]:
    hooks: list[dict[str, Any]] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    return hooks


def test_the_manifest_is_valid_for_pre_commit() -> None:
    from pre_commit.clientlib import load_manifest

    hooks = load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))
    assert [h["id"] for h in hooks] == ["gwctl-validate", "gwctl-lint-file"]
    assert all(h["language"] == "python" for h in hooks)


def local_config(validate_args: list[str]) -> dict[str, Any]:
    hooks = []
    for hook in published():
        local = {k: hook[k] for k in ("id", "name", "entry", "files", "pass_filenames")}
        local["language"] = "system"
        if hook["id"] == "gwctl-validate":
            local["args"] = validate_args
        hooks.append(local)
    return {"repos": [{"repo": "local", "hooks": hooks}]}


def git(repo: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=GUARD, check=False)


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    path = tmp_path / "fleet-repo"
    path.mkdir()
    bin_dir = str(Path(sys.executable).parent)
    env = {
        "HOME": str(tmp_path), "PATH": f"{bin_dir}:/usr/bin:/bin",
        "PYTHONPATH": str(ROOT), "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
    }
    assert git(path, "init", "-q", "-b", "main", env=env).returncode == 0
    (path / ".pre-commit-config.yaml").write_text(
        yaml.safe_dump(local_config(["-f", "fleet.yaml"]), sort_keys=False))
    installed = subprocess.run([str(Path(bin_dir) / "pre-commit"), "install"], cwd=path,
                               env=env, capture_output=True, text=True, timeout=GUARD)
    assert installed.returncode == 0, installed.stderr
    return path, env


def commit(repo: Path, env: dict[str, str], message: str) -> subprocess.CompletedProcess[str]:
    assert git(repo, "add", "-A", env=env).returncode == 0
    return git(repo, "commit", "-q", "-m", message, env=env)


def commits(repo: Path, env: dict[str, str]) -> list[str]:
    out = git(repo, "log", "--format=%s", env=env)
    return out.stdout.split() if out.returncode == 0 else []


def test_a_bad_fleet_is_refused_and_a_good_one_committed(
        repo: tuple[Path, dict[str, str]]) -> None:
    path, env = repo
    good = (ROOT / "examples" / "fleet.yaml").read_text()
    assert "- https://portal.example.com" in good
    # "*" among other origins: ASP.NET Core matches nothing with it
    (path / "fleet.yaml").write_text(good.replace("- https://portal.example.com", "- '*'", 1))
    refused = commit(path, env, "bad")
    assert refused.returncode != 0
    text = refused.stdout + refused.stderr
    assert "gwctl validate" in text and "Failed" in text
    assert "fleet.yaml:" in text and "(cors-origin-format)" in text
    assert commits(path, env) == []
    (path / "fleet.yaml").write_text(good)
    accepted = commit(path, env, "good")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert commits(path, env) == ["good"]


def test_a_broken_live_file_is_refused(repo: tuple[Path, dict[str, str]]) -> None:
    path, env = repo
    (path / "fleet.yaml").write_text((ROOT / "examples" / "fleet.yaml").read_text())
    live = path / "hosts" / "gw1"
    live.mkdir(parents=True)
    # a key twice (ignoring case) stops the gateway at start
    (live / "appsettings.Production.json").write_text(
        '{"Logging": {"LogLevel": {"Default": "Warning", "default": "Error"}}}\n')
    refused = commit(path, env, "dup")
    text = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "gwctl lint-file" in text
    assert "hosts/gw1/appsettings.Production.json:1:" in text
    assert commits(path, env) == []
    (live / "appsettings.Production.json").write_text(
        '{"Logging": {"LogLevel": {"Default": "Warning"}}}\n')
    accepted = commit(path, env, "fixed")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert re.search(r"gwctl lint-file\.+Passed", accepted.stdout + accepted.stderr)
    assert commits(path, env) == ["fixed"]


def test_the_readme_line_runs_every_hook(repo: tuple[Path, dict[str, str]]) -> None:
    path, env = repo
    command = pipeline_command("pre-commit ")
    assert command == "pre-commit run --all-files"
    (path / "fleet.yaml").write_text((ROOT / "examples" / "fleet.yaml").read_text())
    (path / "nlog.config").write_text((ROOT / "examples" / "manual" / "nlog.config")
                                      .read_text())
    assert git(path, "add", "-A", env=env).returncode == 0
    ran = subprocess.run(command.split(), cwd=path, env=env, capture_output=True,
                         text=True, timeout=GUARD)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert re.search(r"gwctl validate\.+Passed", ran.stdout)
    assert re.search(r"gwctl lint-file\.+Passed", ran.stdout)
