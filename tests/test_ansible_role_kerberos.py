"""The Ansible role over Kerberos: real ansible-playbook, Ansible's own winrm connection
plugin getting its ticket from a real MIT KDC on loopback (its managed ``kinit``), and the
simulator's WS-Management endpoint accepting it with a keytab. One check run, then one
apply run.

Skipped when the KDC or pywinrm's Kerberos support (``pywinrm[kerberos]``, part of
gwctl's ``kerberos`` extra) is missing, saying which.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kdc as kdc_mod
import pytest
import yaml
from test_ansible_role import CORS, PROD, host_files, playbook, recap, set_settings

pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(kdc_mod.missing() is not None, reason=str(kdc_mod.missing())),
    pytest.mark.skipif(importlib.util.find_spec("kerberos") is None,
                       reason="pywinrm[kerberos] (pykerberos) is not installed: Ansible's "
                              "winrm connection cannot use Kerberos"),
]


@pytest.fixture
def ksite(kdc: kdc_mod.Kdc, krb_env: Path, tmp_path: Path) -> Iterator[Any]:
    from gwctl.sim.server import SimSite
    from gwctl.sim.state import SiteSpec

    site = SimSite.create(tmp_path / "sim", SiteSpec(gateways=2),
                          kerberos_keytab=kdc.keytab).start()
    try:
        yield site
    finally:
        site.stop()


def kerberos_inventory(site: Any, path: Path) -> Path:
    doc = yaml.safe_load(site.inventory_path.read_text("utf-8"))
    for group in doc["all"]["children"].values():
        for entry in group["hosts"].values():
            entry.update({
                "ansible_user": kdc_mod.ALICE, "ansible_password": kdc_mod.ALICE_PASSWORD,
                "ansible_winrm_transport": "kerberos",
                # Ansible runs kinit with an empty environment: the test realm's krb5.conf
                # must be let through by name
                "ansible_winrm_kinit_env_vars": ["KRB5_CONFIG"],
            })
    path.write_text(yaml.safe_dump(doc), "utf-8")
    return path


def test_role_check_then_apply_over_kerberos(ksite: Any, kdc: kdc_mod.Kdc,
                                             tmp_path: Path) -> None:
    set_settings(ksite.fleet_path, {"cors": CORS})
    inventory = kerberos_inventory(ksite, tmp_path / "inventory.yml")
    home = tmp_path / "home"
    home.mkdir()
    env = {"KRB5_CONFIG": kdc.env["KRB5_CONFIG"]}
    before = host_files(ksite, "demo-gw1")
    logons = len(ksite.wsman.kerberos_logons)

    check = playbook(ksite, "site.yml", home, "--check", "--diff", inventory=inventory,
                     env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert recap(check.stdout)["demo-gw1"]["changed"] == 1
    assert "https://p.example.com" in check.stdout  # the diff of the check run
    assert host_files(ksite, "demo-gw1") == before  # a check writes nothing

    applied = playbook(ksite, "site.yml", home, inventory=inventory, env=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert recap(applied.stdout)["demo-gw1"]["changed"] == 1
    assert b'"Access-Control-Allow-Origin": "https://p.example.com"' in (
        host_files(ksite, "demo-gw1")[PROD] or b"")
    # every exchange logged on as alice with Kerberos, none delegated her ticket
    new = ksite.wsman.kerberos_logons[logons:]
    assert new and {entry["user"] for entry in new} == {kdc_mod.ALICE}
    assert not any(entry["delegated"] for entry in new)
    assert kdc_mod.ALICE_PASSWORD not in applied.stdout + applied.stderr
