"""Inventories are read with ansible-core's own code: INI, YAML, groups, vault."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from gwctl.cli.main import main
from gwctl.errors import InputError
from gwctl.hosts.inventory import load_inventory

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite

ROOT = Path(__file__).resolve().parent.parent


def test_the_example_ini_inventory() -> None:
    hosts = {h.name: h for h in load_inventory(str(ROOT / "inventory.example"))}
    assert set(hosts) == {"hq-gw1", "hq-gw2", "branch-gw1"}
    gw = hosts["hq-gw2"]
    assert sorted(gw.groups) == ["gateways", "hq"]
    assert gw.vars["ansible_host"] == "hq-gw2.example.com"
    assert gw.vars["ansible_port"] == 5986
    assert gw.vars["ansible_winrm_transport"] == "kerberos"
    assert gw.vars["ansible_winrm_server_cert_validation"] == "validate"
    assert type(gw.vars["ansible_user"]) is str
    from gwctl.transport.winrm_settings import WinRMSettings

    settings = WinRMSettings.from_ansible_vars(gw.name, gw.vars)
    assert (settings.transports, settings.user, settings.password) == (
        ["kerberos"], "gwctl-deploy@EXAMPLE.COM", None)  # the ticket of kinit
    assert settings.allow_ntlm
    (strict,) = [h for h in load_inventory(str(ROOT / "inventory.example"), no_ntlm=True)
                 if h.name == "hq-gw2"]
    assert not WinRMSettings.from_ansible_vars(strict.name, strict.vars).allow_ntlm


def test_templated_variables_are_resolved(tmp_path: Path) -> None:
    inv = tmp_path / "inv.yml"
    inv.write_text(yaml.safe_dump({"all": {"hosts": {"g1": {
        "ansible_host": "10.0.0.5", "gwctl_gateway_url": "https://{{ ansible_host }}/api"}}}}))
    (host,) = load_inventory(str(inv))
    assert host.vars["gwctl_gateway_url"] == "https://10.0.0.5/api"


def test_missing_inventory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such inventory file"):
        load_inventory(str(tmp_path / "nope.yml"))


def test_vaulted_password_works_and_never_shows(sim_site: SimSite, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from ansible.parsing.vault import VaultLib, VaultSecret

    _, password = sim_site.windows_admin
    vault_pw = tmp_path / "vault-pass.txt"
    vault_pw.write_text("correct horse battery staple\n")
    lib = VaultLib([("default", VaultSecret(b"correct horse battery staple"))])
    ciphertext = lib.encrypt(password).decode()
    text = sim_site.inventory_path.read_text().replace(
        f"ansible_password: {password}",
        "ansible_password: !vault |\n" + "".join(
            f"            {line}\n" for line in ciphertext.splitlines()).rstrip("\n"))
    assert password not in text
    inv = tmp_path / "inventory.yml"
    inv.write_text(text)
    code = main(["diff", "-f", str(sim_site.fleet_path), "-i", str(inv),
                 "--vault-password-file", str(vault_pw)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "2 gateway(s): 0 to create, 0 to change, 2 in sync, 0 unreachable/failed" in out
    assert password not in out + err


def test_plugin_inventories_still_reach_the_auto_plugin(tmp_path: Path) -> None:
    # gwctl tries the static formats first; a plugin configuration must still load
    inv = tmp_path / "gateways.yml"
    inv.write_text("plugin: ansible.builtin.generator\n"
                   "hosts:\n  name: \"{{ site }}-gw1\"\n"
                   "layers:\n  site: [hq, branch]\n")
    names = sorted(h.name for h in load_inventory(str(inv)))
    assert names == ["branch-gw1", "hq-gw1"]


def test_vaulted_values_without_a_password_say_what_to_do(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ansible.parsing.vault import VaultLib, VaultSecret

    monkeypatch.delenv("ANSIBLE_VAULT_PASSWORD_FILE", raising=False)
    ciphertext = VaultLib([("default", VaultSecret(b"right"))]).encrypt("s3cret").decode()
    inv = tmp_path / "inventory.yml"
    inv.write_text("all:\n  hosts:\n    g1:\n      ansible_password: !vault |\n" + "".join(
        f"        {line}\n" for line in ciphertext.splitlines()))
    with pytest.raises(InputError, match="ansible_password of host g1 is vault-encrypted and "
                       "no vault password was given: pass --vault-password-file FILE or set "
                       "ANSIBLE_VAULT_PASSWORD_FILE"):
        load_inventory(str(inv))
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("wrong\n")
    with pytest.raises(InputError, match="cannot be decrypted with the given vault password"):
        load_inventory(str(inv), vault_password_file=str(wrong))


def test_devices_are_neither_inventories_nor_password_files(tmp_path: Path) -> None:
    inv = tmp_path / "inventory.yml"
    inv.write_text("all:\n  hosts:\n    g1: {}\n")
    with pytest.raises(InputError, match="not an inventory file or directory"):
        load_inventory("/dev/zero")
    with pytest.raises(InputError, match="vault password file: is not a regular file"):
        load_inventory(str(inv), vault_password_file="/dev/zero")
