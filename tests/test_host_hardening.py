"""What a local, non-admin account on a gateway host can no longer do (issue 17):
read or plant files in gwctl's folders, have rollback restore a backup it planted or
altered, or forge gwctl's signatures with a host key it planted.

The simulator models Windows' ACL with POSIX mode bits (`gwctl.ops.hostkey`): a folder
gwctl protects is Administrators/SYSTEM only; one it did not protect inherits
ProgramData's ACL, which lets local users create files.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from gwctl.cli.main import main
from gwctl.errors import OperationError
from gwctl.ops.hostkey import KEY_PATH, MANIFEST
from gwctl.ops.pyimpl import DirectoryHost

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite

GW = "demo-gw1"
BACKUPS = r"C:\ProgramData\gwctl\backups"
PRODUCTION = r"C:\Program Files\Milestone\XProtect API Gateway\appsettings.Production.json"


def gwctl(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out + err


@pytest.fixture
def applied(sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """The site after one apply: backups of the previous files exist."""
    doc = yaml.safe_load(sim_site.fleet_path.read_text())
    (site,) = doc["sites"].values()
    site["settings"] = {"logging": {"levels": {"Yarp": "Information"}}}
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump(doc))
    code, out = gwctl(capsys, "apply", "-f", str(fleet), "-i", str(sim_site.inventory_path),
                      "--gateway", GW, "--yes")
    assert code == 0 and f"demo/{GW}: changed" in out, out
    return fleet


def host(site: SimSite) -> DirectoryHost:
    return DirectoryHost(site.host_root(GW))


def private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def test_gwctl_folders_are_administrators_only(sim_site: SimSite, applied: Path) -> None:
    h = host(sim_site)
    for folder in (r"C:\ProgramData\gwctl", BACKUPS):
        assert private(h.map_path(folder)), folder
    assert private(h.map_path(KEY_PATH))


def test_a_local_user_cannot_plant_a_backup_or_a_lock(sim_site: SimSite, applied: Path) -> None:
    newest = "appsettings.Production.json.29991231T235959999999Z.bak"
    with pytest.raises(PermissionError):
        sim_site.plant_as_local_user(GW, BACKUPS + "\\" + newest, b'{"CORS": {}}')
    with pytest.raises(PermissionError):
        sim_site.plant_as_local_user(GW, r"C:\ProgramData\gwctl\apply.lock", b"{}")
    # where gwctl protects nothing, the model lets a local user write
    sim_site.plant_as_local_user(GW, r"C:\ProgramData\Other\note.txt", b"hello")


def test_rollback_skips_a_backup_gwctl_did_not_sign(
        sim_site: SimSite, applied: Path, capsys: pytest.CaptureFixture[str]) -> None:
    h = host(sim_site)
    before = h.run("list_backups", {"path": PRODUCTION, "backup_dir": BACKUPS})["backups"]
    assert before and all(b["verified"] for b in before)
    # an administrator's mistake or an attacker with admin rights: named to sort newest
    planted = h.map_path(BACKUPS) / "appsettings.Production.json.29991231T235959999999Z.bak"
    planted.write_bytes(b'{"CORS": {"Enabled": true, "Access-Control-Allow-Origin": "*"}}')
    listed = h.run("list_backups", {"path": PRODUCTION, "backup_dir": BACKUPS})["backups"]
    assert [b["verified"] for b in listed][:1] == [False]
    with pytest.raises(OperationError) as caught:
        h.run("restore", {"path": PRODUCTION, "backup_dir": BACKUPS,
                          "backup_id": "29991231T235959999999Z"})
    assert caught.value.code == "tampered"
    assert "was not written by gwctl on this host" in caught.value.message
    code, out = gwctl(capsys, "rollback", "--gateway", GW, "-f", str(applied),
                      "-i", str(sim_site.inventory_path))
    assert code == 0 and f"demo/{GW}: rolled back" in out, out
    assert "29991231T235959999999Z" not in out
    # back to the signed backup of before the apply: there was no override file
    assert not sim_site.production_path(GW).exists()


def test_an_altered_backup_is_refused(sim_site: SimSite, applied: Path) -> None:
    h = host(sim_site)
    taken = h.run("backup", {"path": PRODUCTION, "backup_dir": BACKUPS, "keep": 10})
    (newest, *_) = h.run("list_backups", {"path": PRODUCTION, "backup_dir": BACKUPS})["backups"]
    assert newest["backup_id"] == taken["backup_id"] and newest["verified"]
    name = newest["backup_path"].rsplit("\\", 1)[1]
    h.map_path(BACKUPS + "\\" + name).write_bytes(b'{"Logging": {}}')
    with pytest.raises(OperationError) as caught:
        h.run("restore", {"path": PRODUCTION, "backup_dir": BACKUPS,
                          "backup_id": newest["backup_id"]})
    assert caught.value.code == "tampered"


def test_a_host_key_planted_before_gwctl_ran_is_replaced(tmp_path: Path) -> None:
    h = DirectoryHost(tmp_path)
    key_file = h.map_path(KEY_PATH)
    key_file.parent.mkdir(parents=True)
    key_file.write_bytes(b"k" * 32)  # a local user's file: others may read it
    key_file.chmod(0o644)
    h.map_path(r"C:\Program Files\X").mkdir(parents=True)
    h.map_path(r"C:\Program Files\X\a.json").write_bytes(b"{}")
    h.run("backup", {"path": r"C:\Program Files\X\a.json", "backup_dir": BACKUPS, "keep": 5})
    assert key_file.read_bytes() != b"k" * 32 and private(key_file)
    manifest: dict[str, Any] = json.loads(h.map_path(BACKUPS + "\\" + MANIFEST).read_bytes())
    assert len(manifest["backups"]) == 1
