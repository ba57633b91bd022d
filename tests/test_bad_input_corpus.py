"""A generated corpus of bad input, run through the CLI in-process.

Families: devices and other non-files, huge numbers, encodings (UTF-16/32 with and
without a byte-order mark, invalid UTF-8, NUL bytes), control characters, deep nesting,
path tricks (``..``, UNC, relative, reserved characters and names, symlinks), hostile
YAML and XML, schema-invalid fleets, unreadable secrets -- across ``validate`` (text, json
and github output), ``lint-file``, ``render`` and ``effective``.

Every case must exit 1 (or 64), never 0; print no traceback and no "internal error";
name the file it blames, with a line where that file has lines (the exact line where
the case knows it); and ``render`` must write nothing at all.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import re
import socket
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gwctl.cli.main import main
from gwctl.errors import shown_file

FLEET = """\
apiVersion: gwctl/v1
sites:
  s:
    management_server: {host: h, version: "2025 R2", encryption: true}
    gateways:
      g:
        host: h
        settings:
          logging:
            levels: {Default: Information}
"""
#: appsettings and nlog.config that lint clean, for the cases that break only the other
OVERRIDE = '{\n  "Logging": {\n    "LogLevel": {\n      "Default": "Information"\n    }\n  }\n}\n'
NLOG = """\
<?xml version="1.0" encoding="utf-8"?>
<nlog xmlns="http://www.nlog-project.org/schemas/NLog.xsd"
      xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <targets>
    <target name="logfile" xsi:type="File" fileName="C:\\Logs\\gateway.log" />
  </targets>
  <rules>
    <logger name="*" minlevel="Info" writeTo="logfile" />
  </rules>
</nlog>
"""
APPSETTINGS = "appsettings.Production.json"
#: the line is not known in advance, but there must be one
SOME_LINE = -1


@dataclass(frozen=True)
class Link:
    """A symbolic link to `to` (relative to the case directory unless absolute)."""

    to: str


@dataclass(frozen=True)
class Special:
    """A FIFO, a socket, a directory or a sparse file of `size` bytes."""

    kind: str
    size: int = 0


Content = bytes | Link | Special


@dataclass(frozen=True)
class Case:
    id: str
    command: str
    #: the file given to the command: a name in `files`, or an absolute path
    target: str
    files: dict[str, Content] = field(default_factory=dict)
    #: the line the message must name (in the target); SOME_LINE: any line; None: the file
    #: has no lines
    line: int | None = SOME_LINE


def run_command(command: str, target: str, out_dir: Path, case_dir: Path) -> list[str]:
    good_fleet, good_override = str(case_dir / "good.yaml"), str(case_dir / APPSETTINGS)
    return {
        "validate": ["validate", "-f", target],
        "validate-json": ["validate", "-f", target, "--output", "json"],
        "validate-github": ["validate", "-f", target, "--output", "github"],
        "render": ["render", "-f", target, "-o", str(out_dir)],
        "effective": ["effective", "-f", target, "--gateway", "g"],
        "lint-file": ["lint-file", target],
        "lint-file-json": ["lint-file", target, "--output", "json"],
        "lint-file-github": ["lint-file", target, "--output", "github"],
        "lint-file-base": ["lint-file", good_override, "--base", target],
        "effective-base": ["effective", "-f", good_fleet, "--gateway", "g", "--base", target],
    }[command]


FLEET_COMMANDS = ("validate", "validate-json", "validate-github", "render", "effective")
RULE_COMMANDS = ("validate", "validate-github", "render")
JSON_COMMANDS = ("lint-file", "lint-file-json", "lint-file-github", "lint-file-base",
                 "effective-base")
NLOG_COMMANDS = ("lint-file", "lint-file-github")


# -- the corpus ----------------------------------------------------------------------------


def rotate(commands: tuple[str, ...], i: int, n: int = 1) -> tuple[str, ...]:
    """`n` of `commands`, a different choice for each `i`: families with many inputs
    spread over the commands instead of multiplying with them."""
    return tuple(commands[(i + k) % len(commands)] for k in range(n))


def fleet_cases(family: str, name: str, text: str | bytes, line: int | None = SOME_LINE,
                commands: tuple[str, ...] = FLEET_COMMANDS,
                file: str = "fleet.yaml") -> Iterator[Case]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    for command in commands:
        yield Case(f"{family}-{name}-{command}", command, file, {file: data}, line=line)


def json_cases(family: str, name: str, text: str | bytes, line: int | None = SOME_LINE,
               commands: tuple[str, ...] = JSON_COMMANDS) -> Iterator[Case]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    for command in commands:
        target = "appsettings.json" if command.endswith("-base") else APPSETTINGS
        yield Case(f"{family}-{name}-{command}", command, target, {target: data}, line=line)


def nlog_cases(family: str, name: str, text: str | bytes, line: int | None = SOME_LINE,
               commands: tuple[str, ...] = NLOG_COMMANDS) -> Iterator[Case]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    for command in commands:
        yield Case(f"{family}-{name}-nlog-{command}", command, "nlog.config",
                   {"nlog.config": data}, line=line)


def with_settings(settings: str) -> str:
    """The fleet with `settings` (YAML at the gateway's settings level) added."""
    indented = "".join(f"          {row}\n" for row in settings.splitlines())
    return FLEET + indented


def devices() -> Iterator[Case]:
    targets: list[tuple[str, dict[str, Content], str]] = [
        (path, {}, path.rsplit("/", 1)[1])
        for path in ("/dev/zero", "/dev/urandom", "/dev/null", "/dev/full")
        if os.path.exists(path)
    ]
    targets += [
        ("fifo.yaml", {"fifo.yaml": Special("fifo")}, "fifo"),
        ("sock.yaml", {"sock.yaml": Special("socket")}, "socket"),
        ("dir.yaml", {"dir.yaml": Special("directory")}, "directory"),
        ("big.yaml", {"big.yaml": Special("sparse", 17 * 1024 * 1024)}, "17MiB"),
        ("zero.yaml", {"zero.yaml": Link("/dev/zero")}, "link-to-zero"),
        ("loop.yaml", {"loop.yaml": Link("loop.yaml")}, "link-loop"),
        ("dangling.yaml", {"dangling.yaml": Link("missing.yaml")}, "link-dangling"),
    ]
    commands = (*FLEET_COMMANDS, "lint-file", "lint-file-github", "lint-file-base",
                "effective-base")
    for target, files, name in targets:
        for command in commands:
            yield Case(f"device-{name}-{command}", command, target, files, line=None)


def secrets() -> Iterator[Case]:
    fleet = FLEET.replace("        settings:\n", "        settings:\n          webrtc:\n"
                          "            ice_servers:\n"
                          "              - {url: 'turns:t.example.com:5349', username: u,\n"
                          "                 credential: 'file:secret.txt'}\n")
    bad: dict[str, Content] = {
        "device": Link("/dev/zero"), "urandom": Link("/dev/urandom"), "fifo": Special("fifo"),
        "directory": Special("directory"), "big": b"x" * (64 * 1024 + 1),
        "latin1": "gehéim\n".encode("latin-1"), "utf16": "secret".encode("utf-16"),
        "invalid": b"\xff\xfe\xfd", "loop": Link("secret.txt"), "dangling": Link("nowhere"),
        "sparse": Special("sparse", 1 << 30),
    }
    for name, content in bad.items():
        yield Case(f"secret-{name}-render", "render", "fleet.yaml",
                   {"fleet.yaml": fleet.encode(), "secret.txt": content}, line=12)


def huge_numbers() -> Iterator[Case]:
    for digits in (1001, 4301, 100_001):
        n = "9" * digits
        for form, number in (("int", n), ("negative", "-" + n), ("fraction", "1." + n),
                             ("exponent", n + "e5")):
            yield from json_cases("json-number", f"{form}{digits}",
                                  '{\n  "Kestrel": {\n    "Limit": ' + number + "\n  }\n}\n",
                                  line=3, commands=("lint-file", "lint-file-base",
                                                    "effective-base"))
        for form, number in (("int", n), ("negative", "-" + n), ("float", n + ".5"),
                             ("hex", "0x" + "f" * digits)):
            yield from fleet_cases("yaml-number", f"{form}{digits}", with_settings(
                f"appsettings:\n  Kestrel: {{Limit: {number}}}"), line=12,
                commands=("validate", "render", "effective"))


def encodings() -> Iterator[Case]:
    transforms: dict[str, Callable[[str], bytes]] = {
        "utf16le-nobom": lambda t: t.encode("utf-16-le"),
        "utf16be-nobom": lambda t: t.encode("utf-16-be"),
        "utf32le-nobom": lambda t: t.encode("utf-32-le"),
        "utf16-bom-truncated": lambda t: codecs.BOM_UTF16_LE + t.encode("utf-16-le")[:-1],
        "utf16-bom-lone-surrogate": lambda t: codecs.BOM_UTF16_LE + t.encode("utf-16-le")
        + b"\x00\xd8",
        "utf8-bom-invalid": lambda t: codecs.BOM_UTF8 + t.encode() + b"\xff",
        # "Info" is in all three files
        "latin1": lambda t: t.replace("Info", "Infó").encode("latin-1"),
        "lone-continuation": lambda t: t.encode().replace(b"Info", b"In\x80fo"),
        "overlong-slash": lambda t: t.encode().replace(b"Info", b"In\xc0\xaffo"),
        "surrogate-utf8": lambda t: t.encode().replace(b"Info", b"In\xed\xa0\x80"),
        "five-byte": lambda t: t.encode().replace(b"Info", b"In\xf8\x88\x80\x80\x80"),
        "truncated-sequence": lambda t: t.encode() + b"\xe2\x82",
    }
    for i, (name, transform) in enumerate(transforms.items()):
        yield from fleet_cases("encoding", name, transform(FLEET),
                               commands=rotate(FLEET_COMMANDS, i, 2))
        yield from json_cases("encoding", name, transform(OVERRIDE),
                              commands=rotate(JSON_COMMANDS, i, 2))
        if "nobom" not in name:
            # .NET's XML reader detects UTF-16 and UTF-32 from '<?xml' as the XML
            # specification says: such an nlog.config is read correctly
            yield from nlog_cases("encoding", name, transform(NLOG), commands=rotate(
                NLOG_COMMANDS, i))
    for row in (1, 4, 10):
        lines = FLEET.splitlines(keepends=True)
        lines[row - 1] = lines[row - 1][:5] + "\x00" + lines[row - 1][5:]
        yield from fleet_cases("nul", f"line{row}", "".join(lines), line=row,
                               commands=("validate", "validate-github", "render"))
    yield from json_cases("nul", "in-string", OVERRIDE.replace("Information", "Info\x00"),
                          line=4, commands=("lint-file", "lint-file-json", "effective-base"))
    yield from nlog_cases("nul", "in-attribute", NLOG.replace("logfile\"", "log\x00file\""),
                          line=5)


def control_characters() -> Iterator[Case]:
    controls = [chr(c) for c in range(32) if chr(c) not in "\t\n\r"]
    controls += ["\x7f", "\x80", "\x9f", "\ufffe", "\uffff"]
    rotation = ("validate", "validate-json", "validate-github", "render", "effective")
    for i, char in enumerate(controls):
        name = f"u{ord(char):04x}"
        raw = FLEET.replace("Information", f"Info{char}rmation")
        yield from fleet_cases("control-raw", name, raw, line=10,
                               commands=(rotation[i % len(rotation)],))
        if char < " ":
            yield from json_cases("control-json", name,
                                  OVERRIDE.replace("Information", f"Info{char}"), line=4,
                                  commands=(JSON_COMMANDS[i % len(JSON_COMMANDS)],))
            xml = NLOG.replace('name="*"', f'name="*{char}"')
            yield from nlog_cases("control-xml", name, xml, line=8,
                                  commands=rotate(NLOG_COMMANDS, i))
    escaped = {"host": ('"h\\n"', 4), "url": ('"https://h/\\x01api"', 8)}
    for key, (value, line) in escaped.items():
        text = FLEET.replace("host: h, version", f"host: {value}, version") if key == "host" \
            else FLEET.replace("        host: h\n", f"        host: h\n        url: {value}\n")
        yield from fleet_cases("control-escaped", key, text, line=line)
    for setting in ("log_directory", "archive_directory"):
        for char in ("\\r\\n", "\\t", "\\x01"):
            yield from fleet_cases("control-nlog", f"{setting}-{char[1:]}", with_settings(
                f'nlog: {{{setting}: "C:\\\\Logs{char}x"}}'), line=11)
    for char in ("\\x01", "\\x08", "\\x0b", "\\x1f", "\\uffff"):
        yield from fleet_cases("control-layout", char[1:], with_settings(
            f'nlog: {{layout: "${{message}}{char}"}}'), line=11, commands=RULE_COMMANDS)


def deep_nesting() -> Iterator[Case]:
    for depth in (101, 150, 3000):
        block = "".join("  " * i + f"k{i}:\n" for i in range(depth)) + "  " * depth + "v\n"
        yield from fleet_cases("deep-yaml-block", str(depth), "sites:\n" + "".join(
            "  " + row + "\n" for row in block.splitlines()), line=101)
        seq = "".join("  " * i + "-\n" for i in range(depth)) + "  " * depth + "v\n"
        yield from fleet_cases("deep-yaml-seq", str(depth), "sites:\n" + seq, line=SOME_LINE)
    for depth in (120, 1001, 5000):
        yield from fleet_cases("deep-yaml-flow", str(depth),
                               "sites: " + "[" * depth + "]" * depth + "\n", line=1)
    for depth in (65, 93):
        nest = "{}"
        for i in range(depth - 2, 0, -1):
            nest = f"{{L{i}: {nest}}}"
        yield from fleet_cases("deep-appsettings", str(depth), with_settings(
            f"appsettings:\n  Deep: {nest}"), line=12, commands=RULE_COMMANDS)
    for i, depth in enumerate((65, 1000, 100_000)):
        yield from json_cases("deep-json", f"objects{depth}",
                              '{"a":' * depth + "1" + "}" * depth, line=1,
                              commands=rotate(JSON_COMMANDS, i, 5 - 2 * i))
        yield from json_cases("deep-json", f"arrays{depth}",
                              "{\"a\":" + "[" * depth + "]" * depth + "}", line=1,
                              commands=("lint-file", "effective-base"))


def path_tricks() -> Iterator[Case]:
    paths = [r"C:\gw\..\Windows", r"C:\gw\.\x", r"\\server\share", "//server/share",
             r"relative\gw", r"\no\drive", "C:", r"C:\gw<1>", r"C:\gw|x", r"C:\gw?", r"C:\g*",
             r"C:\gw\x:stream", r"C:\gw.\x", r"C:\gw \x", r"C:\gw\NUL", r"C:\gw\com1.txt",
             r"C:\gw\AUX\x"]
    for i, path in enumerate(paths):
        quoted = "'" + path.replace("'", "''") + "'"
        key = ("install_dir", "backup_dir")[i % 2]
        text = FLEET.replace("        host: h\n", f"        host: h\n        {key}: {quoted}\n")
        yield from fleet_cases("path", f"{key}-{i}", text, line=8,
                               commands=rotate(FLEET_COMMANDS, i, 2))
        ms = FLEET.replace("encryption: true}", f"encryption: true, server_config: {quoted}}}")
        yield from fleet_cases("path", f"server_config-{i}", ms, line=4,
                               commands=rotate(FLEET_COMMANDS, i + 2))
        defaults = FLEET.replace("sites:\n", f"defaults:\n  {key}: {quoted}\nsites:\n", 1)
        yield from fleet_cases("path", f"defaults-{key}-{i}", defaults, line=3,
                               commands=("validate-github",))
    for target in ("/dev/zero", "../../../../../../dev/zero", "missing.j2", "."):
        yield from fleet_cases("nlog-template", target.replace("/", "_"), with_settings(
            f"nlog: {{template: '{target}'}}"), line=SOME_LINE, commands=RULE_COMMANDS)


HOSTILE_YAML = {
    "billion-laughs": "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n"
        for i in range(9)) + "sites: {}\n",
    "recursive-alias": "a: &a [*a]\nsites: {}\n",
    "undefined-alias": "sites: *nowhere\n",
    "python-object": "sites: !!python/object:os.system ls\n",
    "python-name": "sites: !!python/name:os.system\n",
    "binary-tag": "sites: !!binary aGVsbG8=\n",
    "set-tag": "sites: !!set {a, b}\n",
    "omap-tag": "sites: !!omap [a: 1]\n",
    "custom-tag": "sites: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n",
    "merge-key": "base: &b {x: 1}\nsites:\n  <<: *b\n",
    "two-documents": "sites: {}\n---\nsites: {}\n",
    "duplicate-key": "sites: {}\nsites: {}\n",
    "complex-key": "? [a, b]\n: 1\nsites: {}\n",
    "null-key": "~: 1\nsites: {}\n",
    "bool-key": "sites:\n  true: {}\n",
    "tab-indent": "sites:\n\ts: {}\n",
    "unclosed-flow": "sites: {s: [\n",
    "unclosed-quote": "sites: \"s\n",
    "bad-int-tag": "sites: !!int abc\n",
    "bad-bool-tag": "sites: !!bool maybe\n",
    "bad-float-tag": "sites: !!float x\n",
    "list-top": "- sites\n",
    "scalar-top": "just text\n",
    "empty": "",
    "only-comment": "# nothing\n",
    "infinity": "sites:\n  s:\n    management_server: {host: h, version: .inf}\n",
    "nan": "sites:\n  s: .nan\n",
    "directive": "%YAML 9.9\n---\nsites: {}\n",
    "anchor-bomb-keys": "a: &a {" + ", ".join(f"k{i}: {i}" for i in range(200)) + "}\n"
    + "".join(f"b{i}: *a\n" for i in range(600)) + "sites: {}\n",
}


def hostile_yaml() -> Iterator[Case]:
    for i, (name, text) in enumerate(HOSTILE_YAML.items()):
        yield from fleet_cases("hostile-yaml", name, text,
                               line=None if name in ("empty", "only-comment") else SOME_LINE,
                               commands=rotate(FLEET_COMMANDS, i, 2))


HOSTILE_XML = {
    "doctype-entities": '<?xml version="1.0"?>\n<!DOCTYPE nlog [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {chr(98 + i)} "' + f"&{chr(97 + i)};" * 10 + '">' for i in range(8))
    + ']>\n<nlog>&i;</nlog>\n',
    "external-entity": '<?xml version="1.0"?>\n<!DOCTYPE nlog [<!ENTITY x SYSTEM '
    '"file:///etc/passwd">]>\n<nlog>&x;</nlog>\n',
    "unclosed": "<nlog>\n  <targets>\n</nlog>\n",
    "two-roots": "<nlog/>\n<nlog/>\n",
    "deep-unclosed": "<nlog>\n" + "<a>" * 20_000 + "\n",
    "bad-name": "<nlog>\n  <1target/>\n</nlog>\n",
    "undefined-entity": "<nlog>&nope;</nlog>\n",
    "lt-in-attribute": '<nlog>\n  <variable name="a" value="<" />\n</nlog>\n',
    "empty": "",
    "text-only": "not xml at all\n",
}


def hostile_xml() -> Iterator[Case]:
    for name, text in HOSTILE_XML.items():
        yield from nlog_cases("hostile-xml", name, text,
                              line=None if name == "empty" else SOME_LINE)


#: (what, replacement, line) edits of the fleet that break its schema at a known line
SCHEMA_BREAKS = {
    "apiversion": ("apiVersion: gwctl/v1", "apiVersion: gwctl/v2", 1),
    "sites-list": ("sites:\n  s:", "sites: [s]\nunused:\n  s:", 2),
    "site-name": ("  s:\n", "  -bad name:\n", 3),
    "unknown-site-key": ("    gateways:", "    gatewayz: {}\n    gateways:", 5),
    "version-type": ('version: "2025 R2"', "version: [2025]", 4),
    "version-name": ('version: "2025 R2"', 'version: "2025 R9"', 4),
    "encryption-type": ("encryption: true", "encryption: maybe", 4),
    "gateway-host-type": ("        host: h\n", "        host: 7\n", 7),
    "gateway-host-missing": ("        host: h\n", "        colocated: true\n", 6),
    "gateway-name": ("      g:\n", "      'g/1':\n", 6),
    "levels-type": ("levels: {Default: Information}", "levels: [Default]", 10),
    "level-value-type": ("levels: {Default: Information}", "levels: {Default: {}}", 10),
    "logging-unknown": ("          logging:\n", "          logging:\n            lvls: {}\n", 10),
    "rules-config": ("apiVersion: gwctl/v1\n", "apiVersion: gwctl/v1\nrules: {x: maybe}\n", 2),
    "gateway-url": ("        host: h\n", "        host: h\n        url: 'https://h /api'\n", 8),
}
#: settings, each written on line 9 (above logging), that the schema refuses
SETTINGS_BREAKS = {
    "settings-unknown": "loging: {}",
    "environment": "environment: prod",
    "cors-enabled": "cors: {enabled: 'yes'}",
    "cors-origins": "cors: {allow_origins: https://x}",
    "ice-no-url": "webrtc: {ice_servers: [{username: u}]}",
    "nlog-version": "nlog: {version: 7}",
    "nlog-archive": "nlog: {archive: {above_size: 0}}",
    "nlog-rule": "nlog: {rules: [{}]}",
    "appsettings-type": "appsettings: []",
}


def schema_invalid() -> Iterator[Case]:
    edits = dict(SCHEMA_BREAKS)
    for name, setting in SETTINGS_BREAKS.items():
        edits[name] = ("          logging:\n", f"          {setting}\n          logging:\n", 9)
    for i, (name, (old, new, line)) in enumerate(edits.items()):
        assert old in FLEET, name
        yield from fleet_cases("schema", name, FLEET.replace(old, new, 1), line=line,
                               commands=rotate(FLEET_COMMANDS, i, 2))


def file_names() -> Iterator[Case]:
    broken = FLEET.replace("encryption: true", "encryption: maybe").encode()
    for name in ("fleet\n.yaml", "fleet\r.yaml", "fle\x1bet.yaml", "fleet\u2028.yaml",
                 "-fleet.yaml", " fleet.yaml", "fleet.yaml "):
        yield from fleet_cases("file-name", repr(name), broken, line=4, file=name,
                               commands=("validate", "validate-json", "validate-github"))


def corpus() -> list[Case]:
    cases = [*devices(), *secrets(), *huge_numbers(), *encodings(), *control_characters(),
             *deep_nesting(), *path_tricks(), *hostile_yaml(), *hostile_xml(),
             *schema_invalid(), *file_names()]
    dupes = [name for name, count in Counter(c.id for c in cases).items() if count > 1]
    assert not dupes, dupes
    return cases


CORPUS = corpus()


def test_the_corpus_is_large_and_covers_every_command() -> None:
    assert len(CORPUS) >= 300
    assert {c.command for c in CORPUS} == {
        "validate", "validate-json", "validate-github", "render", "effective", "lint-file",
        "lint-file-json", "lint-file-github", "lint-file-base", "effective-base"}


# -- running a case ------------------------------------------------------------------------


def materialise(case_dir: Path, files: dict[str, Content], stack: contextlib.ExitStack) -> None:
    (case_dir / "good.yaml").write_text(FLEET)
    if APPSETTINGS not in files:
        (case_dir / APPSETTINGS).write_text(OVERRIDE)
    for name, content in files.items():
        path = case_dir / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, Link):
            path.symlink_to(content.to)
        elif content.kind == "fifo":
            os.mkfifo(path)
        elif content.kind == "directory":
            path.mkdir()
        elif content.kind == "sparse":
            with path.open("wb") as handle:
                handle.truncate(content.size)
        else:
            # socket paths are short (108 bytes): bind in a short directory, link to it
            short = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gw")))
            server = stack.enter_context(socket.socket(socket.AF_UNIX))
            server.bind(str(short / "s"))
            path.symlink_to(short / "s")


def snapshot(root: Path) -> set[str]:
    found = set()
    for directory, dirs, names in os.walk(root):
        for name in [*dirs, *names]:
            found.add(os.path.relpath(os.path.join(directory, name), root))
    return found


def gh_escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A") \
        .replace(":", "%3A").replace(",", "%2C")


def assert_located(case: Case, output: str, blame: str) -> None:
    if case.command.endswith("-json"):
        problems = json.loads(output)["problems"]
        assert any(p["file"] == blame and p["level"] == "error" and (
            isinstance(p["line"], int) if case.line == SOME_LINE else p["line"] == case.line)
            for p in problems), problems
        return
    if case.command.endswith("-github"):
        where = rf"::error file={re.escape(gh_escape(blame))},"
        line = r"\d+" if case.line == SOME_LINE else str(case.line)
        assert re.search(where + (rf"[^:]*line={line}\b" if case.line else ""), output), output
        return
    where = re.escape(shown_file(blame))
    if case.line is None:
        assert re.search(where + r"(:\d+)*: ", output), output
    else:
        line = r"\d+" if case.line == SOME_LINE else str(case.line)
        assert re.search(rf"{where}:{line}[:\s]", output), output


@pytest.mark.parametrize("case", CORPUS, ids=[c.id for c in CORPUS])
def test_bad_input(case: Case, capsys: pytest.CaptureFixture[str]) -> None:
    with contextlib.ExitStack() as stack:
        # not pytest's tmp_path: it costs more than most cases take to run
        tmp_path = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gwctl-")))
        case_dir = tmp_path / "case"
        case_dir.mkdir()
        out_dir = tmp_path / "out"
        materialise(case_dir, case.files, stack)
        before = snapshot(tmp_path)
        target = case.target if case.target.startswith("/") else str(case_dir / case.target)
        code = main(run_command(case.command, target, out_dir, case_dir))
        out, err = capsys.readouterr()
        after = snapshot(tmp_path)
        out_dir_exists = out_dir.exists()
    text = out + err
    assert code in (1, 64), text
    assert "Traceback" not in text and "internal error" not in text, text
    assert "internal-error" not in text, text
    assert_located(case, out if case.command.endswith(("-json", "-github")) else text, target)
    assert after == before, after ^ before  # render wrote nothing, anywhere
    assert not out_dir_exists
