"""No secret leaves gwctl: every command, every output format, with --debug, over NTLM and
over Basic, against the simulator.

Secrets sit everywhere a real installation has them: in the fleet (TURN credentials as env:
and file: references, a connection string and a client secret in the raw appsettings, an
nlog mail target's password), in the inventory (the WinRM password, also vault-encrypted),
in the health check's IDP password, and in the live files of a hand-edited host (a
ClientSecret, a token, a shared secret, a private key, a connection string, a URL with a
password in its user information, a bearer token a route sends, a TURN credential, an SMTP
password), and in its web.config (a connection string and an API key among the
`<environmentVariables>`, which diff and doctor read). Every byte gwctl prints or logs,
every JSON document, the imported YAML, the files `render --mask-secrets` writes and the
Ansible role's result are searched for each secret -- raw, base64 at every alignment,
UTF-16LE, hex -- and for NTLM message material: the NTLMSSP signature and the NTLMv2
responses the client actually sent (recorded at the simulator's acceptor). Over Kerberos (a
real MIT KDC on loopback) the same holds for the Kerberos password and for the AP-REQ
tokens (ticket and authenticator) and AP-REP answers that crossed the wire. Rendered files
must be private (mode 0600).
"""

from __future__ import annotations

import base64
import logging
import stat
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

import pytest
import yaml

from gwctl.cli.main import main

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite

pytestmark = pytest.mark.timeout(120)

GW = "demo-gw1"
FLEET_SECRETS = {
    "GWCTL_LEAK_TURN": "Fleet-Turn-Env-7Q2w",
    "GWCTL_LEAK_DB": "Server=db.example.com;User Id=gw;Password=Fleet-Db-Pw-8K3m;",
    "GWCTL_LEAK_SMTP": "Fleet-Smtp-Pw-4R6t",
}
FILE_SECRETS = {"turn.txt": "Fleet-Turn-File-4Z9x", "client-secret.txt": "Fleet-Client-9V1c"}
HEALTH_PASSWORD_ENV = "GWCTL_HEALTH_PASSWORD"
VAULT_PASSWORD = "Vault-Pass-Phrase-2H8j"
LIVE_SECRETS = {
    "client_secret": "Live-Client-Secret-1A5b",
    "token": "Live-Token-6T1y",
    "shared": "Live-Shared-3S8u",
    "private_key": "Live-Private-Key-9P0o",
    "db_password": "Live-Db-Pw-2D4f",
    "url_password": "Live-Url-Pw-5U7i",
    "bearer": "Live-Bearer-Tok3n-4G5h",
    "turn": "Live-Turn-Cred-0C6v",
    "smtp": "Live-Smtp-Pw-7M2n",
}
#: secrets of the host's IIS side: web.config variables (read_host returns them masked)
HOST_SECRETS = {"ConnectionStrings__Events": "Server=db;Password=Host-Web-Db-Pw-6Y3r",
                "Events__ApiKey": "Host-Web-Api-Key-1J9k"}
LIVE_APPSETTINGS = Template("""{
  // edited by hand on the host
  "Auth": {"ClientSecret": "$client_secret", "ApiToken": "$token",
           "sharedSecret": "$shared", "PrivateKey": "$private_key",
           "Upstream": "https://svc:$url_password@upstream.example.com/api",},
  "ConnectionStrings": {"Audit": "Server=sql01;Database=audit;Pwd=$db_password;"},
  "WebRTC": {"iceServers": [{"url": "turn:t.example.com:3478", "username": "u",
                             "credential": "$turn"}]},
  "ReverseProxy": {"Routes": {"vendor": {
      "ClusterId": "managementserver", "Match": {"Path": "/vendor/{**rest}"},
      "Transforms": [{"RequestHeader": "Authorization", "Set": "Bearer $bearer"}]}}},
}
""").substitute(LIVE_SECRETS)
MAIL_TARGET = (f'    <target name="mail" xsi:type="Mail" smtpServer="smtp.example.com" '
               f'smtpUserName="gw" smtpPassword="{LIVE_SECRETS["smtp"]}" />\n')


def _base64_cores(data: bytes) -> set[str]:
    """The base64 text of `data` wherever it sits in a longer base64 stream: at each of
    the three alignments, the part that depends on `data` alone."""
    cores = set()
    for skip in range(3):
        part = data[skip:]
        part = part[:len(part) // 3 * 3]
        if len(part) >= 6:
            text = base64.b64encode(part).decode()
            cores |= {text, text.replace("+", "-").replace("/", "_")}
    return cores


def leak_forms(secret: str) -> set[str]:
    raw, utf16 = secret.encode(), secret.encode("utf-16-le")
    return {secret, utf16.decode("latin-1"), raw.hex(), utf16.hex(),
            *_base64_cores(raw), *_base64_cores(utf16)}


class LogonRecorder:
    """The logons clients make at the simulator: NTLM and Kerberos tokens, Basic logons."""

    def __init__(self) -> None:
        self.tokens: list[bytes] = []
        self.answers: list[bytes] = []
        self.basic = 0

    def kerberos(self) -> list[bytes]:
        """The Kerberos AP-REQ tokens clients sent and the AP-REP answers they got."""
        from gwctl.sim.wsman.auth import is_kerberos_token

        return [t for t in self.tokens if is_kerberos_token(t)] + self.answers

    def responses(self) -> list[bytes]:
        """The NtChallengeResponse (NTLMv2 response) of each AUTHENTICATE message."""
        out = []
        for token in self.tokens:
            if token.startswith(b"NTLMSSP\0") and token[8:12] == b"\3\0\0\0":
                length = int.from_bytes(token[20:22], "little")
                offset = int.from_bytes(token[24:28], "little")
                out.append(token[offset:offset + length])
        return out


@pytest.fixture
def logons(monkeypatch: pytest.MonkeyPatch) -> LogonRecorder:
    from gwctl.sim.wsman import auth

    recorder = LogonRecorder()
    step, check_basic = auth.NtlmSession.step, auth.check_basic

    def recording_step(self: auth.NtlmSession, token: bytes) -> bytes | None:
        recorder.tokens.append(token)
        out = step(self, token)
        if self.answer:
            recorder.answers.append(self.answer)
        return out

    def recording_check_basic(value: str, users: Mapping[str, str]) -> str:
        recorder.basic += 1
        return check_basic(value, users)

    monkeypatch.setattr(auth.NtlmSession, "step", recording_step)
    monkeypatch.setattr(auth, "check_basic", recording_check_basic)
    return recorder


def live_site(sim_factory: Callable[..., SimSite], keytab: Path | None = None) -> SimSite:
    site = sim_factory(production_files={GW: LIVE_APPSETTINGS}, kerberos_keytab=keytab)
    nlog = site.install_dir(GW) / "nlog.config"
    nlog.write_text(nlog.read_text().replace("  </targets>", MAIL_TARGET + "  </targets>"))
    from gwctl.sim.hostenv import Staging

    # diff, apply and doctor read web.config with read_host: its variables stay masked
    for name, value in HOST_SECRETS.items():
        site.stage_host(GW, Staging(web_variable=(name, value)))
    return site


def write_fleet(site: SimSite, directory: Path) -> Path:
    for name, value in FILE_SECRETS.items():
        (directory / name).write_text(value + "\n")
    doc = yaml.safe_load(site.fleet_path.read_text())
    (site_doc,) = doc["sites"].values()
    site_doc["gateways"][GW]["settings"] = {
        "webrtc": {"ice_servers": [
            {"url": "turns:turn.example.com:5349", "username": "gw",
             "credential": "env:GWCTL_LEAK_TURN"},
            {"url": "turn:turn2.example.com:3478", "username": "gw2",
             "credential": "file:turn.txt"}]},
        "appsettings": {"ConnectionStrings": {"Db": "env:GWCTL_LEAK_DB"},
                        "Auth": {"ClientSecret": "file:client-secret.txt"}},
        "nlog": {"extra_targets": [{"name": "mail", "type": "Mail", "attributes": {
            "smtpServer": "smtp.example.com", "smtpUserName": "gw",
            "smtpPassword": "env:GWCTL_LEAK_SMTP"}}],
                 "rules": [{"logger": "*", "min_level": "Debug", "write_to": "logfile"},
                           {"logger": "*", "min_level": "Error", "write_to": "mail"}]},
    }
    path = directory / "fleet.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def logon_account(site: SimSite, transport: str) -> tuple[str, str]:
    if transport == "kerberos":
        import kdc

        return kdc.ALICE, kdc.ALICE_PASSWORD
    return site.windows_admin


def write_inventory(site: SimSite, directory: Path, transport: str, *,
                    vault: bool = False) -> Path:
    text = site.inventory_path.read_text().replace("ansible_winrm_transport: ntlm",
                                                   f"ansible_winrm_transport: {transport}")
    assert f"ansible_winrm_transport: {transport}" in text
    user, password = logon_account(site, transport)
    admin, admin_password = site.windows_admin
    text = text.replace(f"ansible_user: {admin}", f"ansible_user: {user}").replace(
        f"ansible_password: {admin_password}", f"ansible_password: {password}")
    if vault:
        from ansible.parsing.vault import VaultLib, VaultSecret

        lib = VaultLib([("default", VaultSecret(VAULT_PASSWORD.encode()))])
        block = "".join(f"            {line}\n"
                        for line in lib.encrypt(password).decode().splitlines())
        text = text.replace(f"ansible_password: {password}",
                            "ansible_password: !vault |\n" + block.rstrip("\n"))
        assert password not in text
    path = directory / f"inventory-{transport}{'-vault' if vault else ''}.yml"
    path.write_text(text)
    return path


class Outputs:
    """Every text gwctl produced, by label."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.texts: list[tuple[str, str]] = []

    def gwctl(self, *args: str, expect: tuple[int, ...] = (0,)) -> str:
        code = main(["--debug", *args])
        out, err = self.capsys.readouterr()
        self.texts.append((" ".join(args), out + err))
        assert code in expect, f"gwctl {' '.join(args)} -> {code}\n{out}{err}"
        return out

    def add(self, label: str, text: str) -> None:
        self.texts.append((label, text))

    def assert_clean(self, secrets: list[str], logons: LogonRecorder) -> None:
        forbidden = {form: secret for secret in secrets for form in leak_forms(secret)}
        forbidden.update({marker: "NTLM message" for marker in
                          ("TlRMTVNTUA", "NTLMSSP\0", "NTLMSSP\\x00", "4e544c4d53535000")})
        for response in logons.responses():
            forbidden.update({form: "NTLMv2 response" for form in
                              (response.hex(), *_base64_cores(response[:48]))})
        for token in logons.kerberos():
            # the encrypted parts (ticket, authenticator, AP-REP) sit past the headers
            middle = token[len(token) // 2:][:48]
            forbidden.update({form: "Kerberos token" for form in
                              (token.hex(), middle.hex(), *_base64_cores(middle))})
        for label, text in self.texts:
            for form, what in forbidden.items():
                assert form not in text, f"{what!r} leaked (as {form!r}) in: {label}"


def _modes(directory: Path) -> Iterator[tuple[Path, int]]:
    for path in directory.rglob("*"):
        if path.is_file() and not path.is_symlink():
            yield path, stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("transport", ["ntlm", "basic", "kerberos"])
def test_no_secret_leaves_any_command(
        transport: str, sim_factory: Callable[..., SimSite], tmp_path: Path,
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch, logons: LogonRecorder,
        request: pytest.FixtureRequest) -> None:
    keytab = None
    if transport == "kerberos":
        request.getfixturevalue("krb_env")
        keytab = request.getfixturevalue("kdc").keytab
    site = live_site(sim_factory, keytab)
    for name, value in FLEET_SECRETS.items():
        monkeypatch.setenv(name, value)
    health_user, health_password = next(iter(site.users.items()))
    monkeypatch.setenv(HEALTH_PASSWORD_ENV, health_password)
    fleet = str(write_fleet(site, tmp_path))
    inv = str(write_inventory(site, tmp_path, transport))
    vaulted = str(write_inventory(site, tmp_path, transport, vault=True))
    vault_file = tmp_path / "vault-pass.txt"
    vault_file.write_text(VAULT_PASSWORD + "\n")
    live_file = tmp_path / "live-appsettings.json"
    live_file.write_text(LIVE_APPSETTINGS)
    caplog.set_level(logging.DEBUG)
    audit_log = tmp_path / "audit.jsonl"
    monkeypatch.setenv("GWCTL_AUDIT_LOG", str(audit_log))
    run = Outputs(capsys)
    selection = ("-f", fleet, "-i", inv, "--gateway", GW)

    for fmt in ("text", "json", "github"):
        run.gwctl("validate", "-f", fleet, "--output", fmt)
        run.gwctl("lint-file", str(live_file), "--output", fmt, expect=(0, 1))
    for fmt in ("json", "flat"):
        run.gwctl("effective", "-f", fleet, "--gateway", GW, "--format", fmt)
        run.gwctl("effective", "-f", fleet, "--gateway", GW, "--format", fmt,
                  "--base", str(live_file))

    # the hand-edited host: imported (with a clear and a vaulted password), diffed
    imported = run.gwctl("import", "--host", GW, "-i", inv)
    assert imported == run.gwctl("import", "--host", GW, "-i", vaulted,
                                 "--vault-password-file", str(vault_file))
    assert imported.count("# SECRET: set DEMO_GW1_") == len(LIVE_SECRETS)
    for fmt in ("text", "json"):
        out = run.gwctl("diff", *selection, "--output", fmt)
        assert "(secret" in out
    assert '"ConnectionStrings__Events": "(masked)"' in out  # the host was read
    run.gwctl("diff", *selection, "-i", vaulted, "--vault-password-file", str(vault_file))

    from gwctl.ansible.bridge import converge
    from gwctl.hosts.inventory import load_inventory
    from gwctl.hosts.targets import open_transport

    (host,) = [h for h in load_inventory(inv) if h.name == GW]
    # the role's result as the action plugin gets it (over gwctl's own transport here;
    # tests/test_ansible_role.py runs it over Ansible's winrm connection)
    role = converge(fleet=fleet, host=GW, groups=host.groups, host_vars=host.vars,
                    transports=open_transport, check=True, want_diff=True)
    assert role["changed"] and role["diff"]
    run.add("ansible role result", repr(role))

    run.gwctl("apply", *selection, "--yes", "--health-user", health_user, "--output", "json")
    run.gwctl("rollback", "--gateway", GW, "-f", fleet, "-i", inv)
    run.gwctl("apply", *selection, "--yes", "--health-user", health_user)
    monkeypatch.setenv("GWCTL_LEAK_TURN", "Fleet-Turn-Rotated-5N0b")
    assert "(secret, changed)" in run.gwctl("diff", *selection)
    for fmt in ("markdown", "github"):
        assert "(secret, changed)" in run.gwctl("diff", *selection, "--output", fmt)
    # a saved plan is reviewed and kept: it holds references, never a secret
    plan_file = tmp_path / "plan.json"
    run.gwctl("plan", *selection, "-o", str(plan_file))
    run.add("saved plan file", plan_file.read_text())
    run.gwctl("apply", str(plan_file), "--yes", "--output", "markdown")
    assert "Fleet-Turn-Rotated-5N0b" in (site.install_dir(GW) / "appsettings.Production.json"
                                         ).read_text()
    monkeypatch.setenv("GWCTL_LEAK_TURN", FLEET_SECRETS["GWCTL_LEAK_TURN"])
    run.gwctl("apply", *selection, "--yes")
    for fmt in ("text", "json"):
        run.gwctl("versions", "-f", fleet, "-i", inv, "--output", fmt)
    for fmt in ("text", "json", "github"):
        run.gwctl("check-versions", "-f", fleet, "-i", inv, "--output", fmt, expect=(0, 1))

    # the proof commands read the live secrets (TURN credentials, tokens) and must not show
    # them: verify and doctor probe the ICE servers with them, probe records exchanges
    case = tmp_path / "case"
    for fmt in ("text", "json"):
        run.gwctl("verify", *selection, "--health-user", health_user, "--output", fmt,
                  expect=(0, 1))
        run.gwctl("doctor", "-i", inv, "--gateway", GW, "--output", fmt, expect=(0, 1))
        run.gwctl("probe", "webrtc", "-i", inv, "--gateway", GW, "--health-user",
                  health_user, "--sessions", "2", "--cameras", "2", "--output", fmt,
                  "--report", str(case / fmt))
    for path in sorted(case.rglob("*")):
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    run.add(f"probe bundle {path}:{member}",
                            archive.read(member).decode("utf-8"))
        elif path.is_file():
            run.add(f"probe bundle {path}", path.read_text("utf-8"))

    # the audit trail: the controller's log and the host's Application event log
    import json

    records = [json.loads(line) for line in audit_log.read_text().splitlines()]
    assert [r["action"] for r in records] == ["apply", "rollback", "apply", "apply", "apply"]
    principals = {r["kerberos_principal"] for r in records}
    assert principals == ({None} if transport != "kerberos" else principals - {None})
    run.add("audit log", audit_log.read_text())
    events = (site.host_root(GW) / ".host" / "eventlog.jsonl").read_text()
    assert events.count('"source":"gwctl"') == 5
    run.add("host event log", events)

    rendered, masked = tmp_path / "rendered", tmp_path / "masked"
    run.gwctl("render", "-f", fleet, "-o", str(rendered))
    run.gwctl("render", "-f", fleet, "-o", str(masked), "--mask-secrets")
    assert {mode for _, mode in _modes(rendered)} == {0o600}
    written = (rendered / "demo" / GW / "appsettings.Production.json").read_text()
    assert FILE_SECRETS["client-secret.txt"] in written  # resolved where it belongs ...
    for path, _ in _modes(masked):
        run.add(f"rendered with --mask-secrets: {path}", path.read_text())
    run.add("log records", caplog.text)

    # the secrets did reach the host (so the checks above looked at real secret traffic)
    live_now = (site.install_dir(GW) / "appsettings.Production.json").read_text()
    assert FLEET_SECRETS["GWCTL_LEAK_TURN"] in live_now
    assert FLEET_SECRETS["GWCTL_LEAK_SMTP"] in \
        (site.install_dir(GW) / "nlog.config").read_text()
    # the transport under test is the one that logged on
    assert bool(logons.responses()) == (transport == "ntlm")
    assert bool(logons.basic) == (transport == "basic")
    assert bool(logons.kerberos()) == (transport == "kerberos")
    _, windows_password = logon_account(site, transport)
    run.assert_clean([*FLEET_SECRETS.values(), "Fleet-Db-Pw-8K3m", "Fleet-Turn-Rotated-5N0b",
                      *FILE_SECRETS.values(), *LIVE_SECRETS.values(), windows_password,
                      "Host-Web-Db-Pw-6Y3r", HOST_SECRETS["Events__ApiKey"],
                      health_password, VAULT_PASSWORD], logons)
    assert "eyJhbGciOi" not in "\n".join(text for _, text in run.texts)  # no IDP token


def test_doctor_event_log_checks_show_no_secret(
        sim_factory: Callable[..., SimSite], tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        logons: LogonRecorder) -> None:
    # doctor reads the host's audit records and ANCM's start-up failure (the exception the
    # gateway printed about a file full of secrets): what it prints names none of them
    from gwctl.sim.hostenv import Staging

    site = live_site(sim_factory)
    site.stage_host(GW, Staging(hosting_model="inprocess"))
    for name, value in FLEET_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GWCTL_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    fleet = str(write_fleet(site, tmp_path))
    inv = str(write_inventory(site, tmp_path, "ntlm"))
    run = Outputs(capsys)
    run.gwctl("apply", "-f", fleet, "-i", inv, "--gateway", GW, "--yes", "--change-ref",
              "CHG-77")
    # a hand edit that does not load: the duplicate key sits among the live secrets
    site.production_path(GW).write_text(
        LIVE_APPSETTINGS.replace('"ApiToken"', '"clientsecret": "x", "ApiToken"'), "utf-8")
    site.recycle(GW)
    for fmt in ("text", "json"):
        out = run.gwctl("doctor", "-i", inv, "--gateway", GW, "--output", fmt, expect=(1,))
        assert "CHG-77" in out  # the audit record was read
        assert "ASPNETCORE_EVENT_INPROCESS_THREAD_EXIT_STDOUT" in out  # and ANCM's event
    _, windows_password = logon_account(site, "ntlm")
    run.assert_clean([*FLEET_SECRETS.values(), "Fleet-Db-Pw-8K3m", *FILE_SECRETS.values(),
                      *LIVE_SECRETS.values(), windows_password, "Host-Web-Db-Pw-6Y3r",
                      HOST_SECRETS["Events__ApiKey"]], logons)


def test_import_makes_references_that_render_the_live_files(
        sim_factory: Callable[..., SimSite], tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    site = live_site(sim_factory)
    inv = str(site.inventory_path)
    assert main(["import", "--host", GW, "-i", inv]) == 0
    imported, _ = capsys.readouterr()
    doc = yaml.safe_load(imported)
    settings = doc["sites"]["demo"]["gateways"][GW]["settings"]
    assert settings["appsettings"]["Auth"]["ClientSecret"] == "env:DEMO_GW1_AUTH_CLIENTSECRET"
    assert settings["appsettings"]["ConnectionStrings"]["Audit"] == \
        "env:DEMO_GW1_CONNECTIONSTRINGS_AUDIT"
    mail = settings["nlog"]["extra_targets"][0]["attributes"]
    assert mail["smtpPassword"] == "env:DEMO_GW1_NLOG_MAIL_SMTPPASSWORD"
    assert "# SECRET: set DEMO_GW1_AUTH_CLIENTSECRET to the value of Auth:ClientSecret" \
        in imported
    assert "rendering the import would change" not in imported
    # with the variables set, the imported fleet is in sync with the host, secrets included
    values = {
        "DEMO_GW1_AUTH_CLIENTSECRET": LIVE_SECRETS["client_secret"],
        "DEMO_GW1_AUTH_APITOKEN": LIVE_SECRETS["token"],
        "DEMO_GW1_AUTH_SHAREDSECRET": LIVE_SECRETS["shared"],
        "DEMO_GW1_AUTH_PRIVATEKEY": LIVE_SECRETS["private_key"],
        "DEMO_GW1_AUTH_UPSTREAM":
            f"https://svc:{LIVE_SECRETS['url_password']}@upstream.example.com/api",
        "DEMO_GW1_CONNECTIONSTRINGS_AUDIT":
            f"Server=sql01;Database=audit;Pwd={LIVE_SECRETS['db_password']};",
        "DEMO_GW1_ICE_0_CREDENTIAL": LIVE_SECRETS["turn"],
        "DEMO_GW1_REVERSEPROXY_ROUTES_VENDOR_TRANSFORMS_0_SET":
            f"Bearer {LIVE_SECRETS['bearer']}",
        "DEMO_GW1_NLOG_MAIL_SMTPPASSWORD": LIVE_SECRETS["smtp"],
    }
    assert {line.split()[3] for line in imported.splitlines()
            if line.startswith("# SECRET:")} == set(values)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    fleet = yaml.safe_load(site.fleet_path.read_text())
    fleet["sites"]["demo"]["gateways"][GW]["settings"] = settings
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(fleet))
    code = main(["diff", "-f", str(path), "-i", inv, "--gateway", GW, "--detailed-exitcode"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "in sync" in out
