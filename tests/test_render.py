"""Renderers: deterministic strict JSON, only declared sections, secrets, nlog.config."""

from __future__ import annotations

import json
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gwctl import api
from gwctl.errors import InputError, SecretError
from gwctl.fleet.model import Fleet, build_fleet
from gwctl.fleet.secrets import SecretResolver
from gwctl.fleet.source import combine
from gwctl.fleet.yaml_reader import load_yaml_text
from gwctl.netjson.parser import parse
from gwctl.render.appsettings import overlay, render_appsettings
from gwctl.render.files import render_gateway, write_rendered
from gwctl.render.jsonout import dumps
from gwctl.render.nlog import RenderError, render_nlog

ROOT = Path(__file__).resolve().parent.parent


def fleet_from(text: str, base_dir: Path | None = None) -> Fleet:
    source = combine([load_yaml_text(text, file="fleet.yaml")], base_dir or Path("."))
    fleet, problems = build_fleet(source)
    assert fleet is not None, problems
    return fleet


SITE = """
sites:
  s:
    management_server: {{host: ms, version: "{version}", encryption: true}}
    settings:
{settings}
    gateways:
      g1: {{host: ms}}
"""


def one(settings_yaml: str, version: str = "2025 R2") -> Fleet:
    indented = "\n".join("      " + line for line in settings_yaml.strip("\n").splitlines())
    return fleet_from(SITE.format(settings=indented, version=version))


def test_only_declared_sections_are_rendered() -> None:
    fleet = one("logging:\n  levels: {Yarp: Information}")
    assert render_appsettings(fleet.gateway("g1")) == {"Logging": {"LogLevel":
                                                                  {"Yarp": "Information"}}}


def test_cors_lists_become_comma_separated_strings() -> None:
    fleet = one("cors:\n  enabled: true\n  allow_origins: [https://a.example, https://b.example]")
    assert render_appsettings(fleet.gateway("g1"))["CORS"] == {
        "Enabled": True, "Access-Control-Allow-Origin": "https://a.example,https://b.example"}


def test_bytes_are_deterministic_crlf_utf8_without_bom(tmp_path: Path) -> None:
    fleet = api.load(ROOT / "examples" / "fleet.yaml").fleet
    assert fleet is not None
    env = {"HQ_TURN_CREDENTIAL": "s3cret"}
    first = [render_gateway(gw, SecretResolver(fleet.base_dir, env)) for gw in fleet.gateways()]
    second = [render_gateway(gw, SecretResolver(fleet.base_dir, env)) for gw in fleet.gateways()]
    assert [[f.content for f in fs] for fs in first] == [[f.content for f in fs] for fs in second]
    content = first[0][0].content
    assert not content.startswith(b"\xef\xbb\xbf")
    assert content.endswith(b"}\r\n") and b"\n" not in content.replace(b"\r\n", b"")
    parse(content.decode(), file="out", strict=True)
    written = write_rendered(tmp_path, fleet.gateway("hq-gw1"), first[0])
    assert [p.name for p in written] == ["appsettings.Production.json", "nlog.config"]
    assert written[0].read_bytes() == content


def test_rendered_files_are_private_and_no_planted_link_is_followed(tmp_path: Path) -> None:
    fleet = api.load(ROOT / "examples" / "fleet.yaml").fleet
    assert fleet is not None
    resolver = SecretResolver(fleet.base_dir, {"HQ_TURN_CREDENTIAL": "s3cret"})
    out = tmp_path / "out"
    gw = fleet.gateway("hq-gw1")
    target = out / gw.site_name / gw.name
    target.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    (target / ".appsettings.Production.json.tmp").symlink_to(victim)  # the old temp name
    (target / "nlog.config").symlink_to(victim)
    written = write_rendered(out, gw, render_gateway(gw, resolver))
    assert victim.read_text() == "untouched"
    for path in written:
        assert not path.is_symlink() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"s3cret" in written[0].read_bytes()
    assert sorted(p.name for p in target.iterdir()) == [
        ".appsettings.Production.json.tmp", "appsettings.Production.json", "nlog.config"]
    # a linked gateway directory is refused, not written through
    other = fleet.gateway("hq-gw2")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / other.site_name / other.name).symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(InputError, match="symbolic link"):
        write_rendered(out, other, render_gateway(other, resolver))
    assert list(elsewhere.iterdir()) == []


def test_secrets_resolve_only_when_asked_and_are_masked_otherwise(tmp_path: Path) -> None:
    (tmp_path / "turn.txt").write_text("from-file\n")
    fleet = fleet_from(SITE.format(version="2025 R2", settings="""      webrtc:
        ice_servers:
          - {url: "turns:t.example:5349", username: u, credential: "file:turn.txt"}
          - {url: "turns:t2.example:5349", username: u, credential: "env:T2"}"""), tmp_path)
    gw = fleet.gateway("g1")
    resolved = render_gateway(gw, SecretResolver(tmp_path, {"T2": "from-env"}))[0]
    assert b'"credential": "from-file"' in resolved.content
    assert b'"credential": "from-env"' in resolved.content
    assert "from-file" not in resolved.display and "(secret file:turn.txt)" in resolved.display
    masked = render_gateway(gw, None)[0]
    assert b"from-" not in masked.content
    with pytest.raises(SecretError, match="T2 is not set") as info:
        render_gateway(gw, SecretResolver(tmp_path, {}))
    assert info.value.file == "fleet.yaml" and info.value.line == 9


def test_references_resolve_in_raw_appsettings_routes_and_nlog_attributes(
        tmp_path: Path) -> None:
    from gwctl.rules.runner import validate_fleet

    (tmp_path / "client.txt").write_text("client-from-file\n")
    fleet = fleet_from(SITE.format(version="2025 R2", settings="""      appsettings:
        Auth: {ClientSecret: "file:client.txt", Docs: "file:///C:/docs/index.html"}
      reverse_proxy:
        clusters:
          vendor: {Destinations: {d1: {Address: "env:VENDOR_ADDRESS"}}}
      nlog:
        extra_targets:
          - {name: db, type: Database, attributes: {connectionString: "env:NLOG_DB"}}"""),
        tmp_path)
    gw = fleet.gateway("g1")
    env = {"VENDOR_ADDRESS": "https://u:pw-from-env@vendor.example/", "NLOG_DB": "Pwd=db-pw"}
    appsettings, nlog = render_gateway(gw, SecretResolver(tmp_path, env))
    data = json.loads(appsettings.content)
    assert data["Auth"] == {"ClientSecret": "client-from-file",
                            "Docs": "file:///C:/docs/index.html"}  # a URL, not a reference
    assert data["ReverseProxy"]["Clusters"]["vendor"]["Destinations"]["d1"] == {
        "Address": "https://u:pw-from-env@vendor.example/"}
    assert b'connectionString="Pwd=db-pw"' in nlog.content
    for shown in (appsettings.display, nlog.display):
        for secret in ("client-from-file", "pw-from-env", "db-pw"):
            assert secret not in shown
    assert "(secret env:NLOG_DB)" in nlog.display
    # a reference is known only when rendering: no rule judges its masked form
    assert [p.rule for p in validate_fleet(fleet) if p.rule.startswith("cluster")] == []


def test_single_stun_form_for_2023_r1() -> None:
    fleet = one("webrtc:\n  ice_servers: [{url: 'stun:s.example:3478'}]", version="2023 R1")
    assert render_appsettings(fleet.gateway("g1"))["WebRTC"] == {
        "STUN": {"Hostname": {"Address": "stun:s.example:3478"}}}


def test_raw_escape_hatch_is_underneath_modelled_keys() -> None:
    fleet = one("cors: {enabled: true}\nappsettings:\n  cors: {Enabled: false, Extra: x}\n"
                "  Kestrel: {Limits: {MaxRequestBodySize: 10}}")
    out = render_appsettings(fleet.gateway("g1"))
    assert out == {"Kestrel": {"Limits": {"MaxRequestBodySize": 10}},
                   "CORS": {"Enabled": True, "Extra": "x"}}


def test_layering_defaults_site_gateway_lists_replace() -> None:
    fleet = fleet_from("""
defaults:
  settings:
    cors: {enabled: true, allow_origins: [https://a.example], allow_headers: [Authorization]}
sites:
  s:
    management_server: {host: ms, version: "2025 R2"}
    settings:
      cors: {allow_origins: [https://b.example, https://c.example]}
    gateways:
      g1:
        host: ms
        settings:
          cors: {allow_origins: [https://d.example]}
      g2: {host: other}
""")
    g1, g2 = fleet.gateway("g1"), fleet.gateway("g2")
    assert g1.settings["cors"] == {"enabled": True, "allow_origins": ["https://d.example"],
                                   "allow_headers": ["Authorization"]}
    assert g2.settings["cors"]["allow_origins"] == ["https://b.example", "https://c.example"]
    assert g1.colocated and not g2.colocated
    assert g1.locate_setting("/cors/allow_origins/0").line == 14
    assert g2.locate_setting("/cors/allow_headers").line == 4


def test_nlog_values_are_xml_escaped_and_parse_back() -> None:
    fleet = one("nlog:\n  layout: '${message} <&> \"q\"'\n  log_directory: 'D:\\Logs & Stuff'")
    text = render_nlog(fleet.gateway("g1"))
    root = ET.fromstring(text)
    values = {v.get("name"): v.get("value") for v in root.iter(
        "{http://www.nlog-project.org/schemas/NLog.xsd}variable")}
    assert values["defaultLayout"] == '${message} <&> "q"'
    assert values["logDirectory"] == "D:\\Logs & Stuff"


def test_nlog_line_breaks_and_tabs_survive_as_character_references() -> None:
    # an XML parser reads a raw line break or tab in an attribute as a space
    fleet = one('nlog:\n  layout: "a\\r\\nb\\t${message}"\n'
                "  extra_targets:\n    - {name: c, type: Console, attributes: "
                '{header: "x\\ny"}}')
    text = render_nlog(fleet.gateway("g1"))
    assert 'value="a&#13;&#10;b&#9;${message}"' in text and 'header="x&#10;y"' in text
    root = ET.fromstring(text)
    ns = "{http://www.nlog-project.org/schemas/NLog.xsd}"
    values = {v.get("name"): v.get("value") for v in root.iter(f"{ns}variable")}
    assert values["defaultLayout"] == "a\r\nb\t${message}"
    assert next(root.iter(f"{ns}target")).get("name") == "logfile"


def test_nlog_values_must_read_back_as_declared(monkeypatch: pytest.MonkeyPatch) -> None:
    from gwctl.render import nlog

    monkeypatch.setattr(nlog, "_ATTRIBUTE_WHITESPACE", {})  # as before the escaping
    fleet = one('nlog:\n  log_directory: "C:\\\\Logs\\nD"')
    with pytest.raises(RenderError, match=r"variable logDirectory reads back as 'C:\\\\Logs D'"):
        render_nlog(fleet.gateway("g1"))


def test_characters_xml_cannot_carry_are_refused_at_their_setting() -> None:
    fleet = one('nlog:\n  layout: "${message}\\x01"')
    with pytest.raises(RenderError, match=r"cannot be written to nlog\.config") as caught:
        render_nlog(fleet.gateway("g1"))
    assert (caught.value.file, caught.value.line) == ("fleet.yaml", 7)


def test_nlog6_has_no_archive_numbering() -> None:
    text = render_nlog(one("nlog: {version: 6}").gateway("g1"))
    assert "archiveNumbering" not in text
    assert "archiveNumbering=\"Rolling\"" in render_nlog(one("nlog: {}").gateway("g1"))


def test_user_template_is_sandboxed_and_checked(tmp_path: Path) -> None:
    (tmp_path / "t.j2").write_text('<nlog><targets><target name="a"/></targets><rules>'
                                   '<logger name="*" writeTo="b"/></rules></nlog>')
    fleet = fleet_from(SITE.format(version="2025 R2", settings="      nlog: {template: t.j2}"),
                       tmp_path)
    with pytest.raises(RenderError, match="unknown target 'b'"):
        render_nlog(fleet.gateway("g1"))
    (tmp_path / "t.j2").write_text("<nlog>{{ log_directory }}</nlo")
    _user_template_cache_clear()
    with pytest.raises(RenderError, match="not well-formed"):
        render_nlog(fleet.gateway("g1"))


def _user_template_cache_clear() -> None:
    from gwctl.render import nlog

    nlog._user_template.cache_clear()


def test_extra_target_attribute_names_are_checked() -> None:
    fleet = one("nlog:\n  extra_targets:\n    - {name: c, type: Console, attributes: "
                "{'bad name': x}}")
    with pytest.raises(RenderError, match="not a usable attribute name"):
        render_nlog(fleet.gateway("g1"))


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=6)),
    lambda c: st.one_of(st.lists(c, max_size=3),
                        st.dictionaries(st.text(min_size=1, max_size=5), c, max_size=3)),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=6), json_values, max_size=4))
def test_render_parse_render_is_stable(data: dict[str, object]) -> None:
    once = dumps(data)
    again = dumps(json.loads(once))
    assert once == again
    parse(once, file="h", strict=True)


def test_overlay_matches_keys_ignoring_case() -> None:
    assert overlay({"a": {"X": 1, "y": 2}}, {"A": {"x": 3}}) == {"A": {"x": 3, "y": 2}}
