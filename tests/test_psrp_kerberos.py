"""--configuration-name over Kerberos: pypsrp logs on to the simulator's endpoint with a
ticket from the tests' MIT KDC (`tests/kdc.py`), as the WinRM transport does.

Skipped only when the KDC binaries or the kerberos extra are not installed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kdc as kdc_mod
import pytest
from test_kerberos import fleet_with_cors, kerberos_inventory, ksite, production

from gwctl.cli.main import main

__all__ = ["ksite"]  # the fixture, used by name

pytestmark = pytest.mark.timeout(300)


def install_endpoint(site: Any, tmp_path: Path) -> None:
    out = tmp_path / "endpoint"
    assert main(["host-setup", "--output", str(out), "--operators", "CONTOSO\\ops"]) == 0
    for name in site.state.hosts:
        site.install_jea_module(name, out / "GwctlOperations")


def test_diff_apply_rollback_through_the_endpoint_over_kerberos(
        ksite: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    install_endpoint(ksite, tmp_path)
    inventory = str(kerberos_inventory(ksite, tmp_path / "inv.yml"))
    fleet = str(fleet_with_cors(ksite, tmp_path / "fleet.yaml", ["hq-gw1"]))
    jea = ["--configuration-name", "gwctl", "--no-ntlm", "--gateway", "hq-gw1"]
    before = production(ksite, "hq-gw1")
    capsys.readouterr()
    assert main(["diff", "-f", fleet, "-i", inventory, "--detailed-exitcode", *jea]) == 2
    assert main(["apply", "-f", fleet, "-i", inventory, "--yes", *jea]) == 0
    assert b"https://portal.example.com" in (production(ksite, "hq-gw1") or b"")
    assert main(["rollback", "-f", fleet, "-i", inventory, *jea]) == 0
    assert production(ksite, "hq-gw1") == before
    logons = ksite.wsman.kerberos_logons
    assert logons and {entry["user"] for entry in logons} == {kdc_mod.ALICE}


def test_a_wrong_password_fails_naming_host_and_configuration(
        ksite: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    install_endpoint(ksite, tmp_path)
    inventory = str(kerberos_inventory(ksite, tmp_path / "inv.yml",
                                       ansible_password="not-" + kdc_mod.ALICE_PASSWORD))
    fleet = str(fleet_with_cors(ksite, tmp_path / "fleet.yaml", ["hq-gw1"]))
    before = production(ksite, "hq-gw1")
    capsys.readouterr()
    code = main(["apply", "-f", fleet, "-i", inventory, "--yes", "--gateway", "hq-gw1",
                 "--configuration-name", "gwctl"])
    out = capsys.readouterr()
    text = out.out + out.err
    assert code == 1, text
    # the site lock on the management server's host is the first connection an apply makes
    endpoint = ksite.wsman.url_for("hq-ms")
    assert (f"error: hq-ms ({endpoint}, session configuration gwctl): opening session "
            f"configuration 'gwctl': Kerberos logon as {kdc_mod.ALICE} failed: wrong "
            "password") in text, text
    assert "Traceback" not in text
    assert production(ksite, "hq-gw1") == before
