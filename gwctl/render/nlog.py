"""``nlog.config`` from a Jinja2 template (built-in, or the user's own).

Values are XML-escaped by the template engine, tabs and line breaks as character
references (an XML parser turns them into spaces inside an attribute otherwise);
characters XML cannot carry at all are refused at the setting that holds them, and
attribute names of extra targets are checked to be XML names (they cannot be escaped).
The result is parsed back as XML, its variables and extra targets must read back as
declared, and its rules are checked against its targets before anyone writes it to a
host: NLog keeps its old configuration when a reload fails, so a broken file would
silently stop logging changes from taking effect.
An extra target's attribute value may be a secret reference (``env:NAME``,
``file:PATH``: a database target's connection string, a mail target's password),
resolved only when the file is rendered for a host.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import jinja2
import jinja2.sandbox
from markupsafe import Markup, escape

from gwctl.errors import InputError
from gwctl.fleet.defaults import DEFAULT_LOG_DIRECTORY as DEFAULT_LOG_DIRECTORY
from gwctl.fleet.model import Gateway
from gwctl.fleet.secrets import Secret, SecretResolver, is_reference
from gwctl.problems import escape_pointer_token, pointer
from gwctl.textio import read_text

NLOG_NS = "{http://www.nlog-project.org/schemas/NLog.xsd}"
#: the manual's default layout with its ``[{threadid...}]`` typo fixed (a missing ``$``
#: prints the text literally instead of the thread id)
DEFAULT_LAYOUT = (r"${date:format=yyyy-MM-dd HH\:mm\:ss.fffzzz} [${threadid:padding=6}] "
                  r"${level:uppercase=true:padding=-10} - ${message} "
                  r"${exception:format=tostring}")
_XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
#: characters XML 1.0 cannot carry, not even as character references
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
#: whitespace an XML parser normalises to a space inside attribute values
_ATTRIBUTE_WHITESPACE = {"\t": "&#9;", "\n": "&#10;", "\r": "&#13;"}
#: <variable> names of the built-in template and the settings they carry
_VARIABLES = {"logDirectory": "log_directory", "archiveDirectory": "archive_directory",
              "defaultLayout": "layout"}


class RenderError(InputError):
    pass


@dataclass(frozen=True)
class NlogArchive:
    every: str | None
    above_size: int | None
    max_files: int | None
    on_startup: bool
    numbering: str | None
    suffix_format: str | None


def has_references(gw: Gateway) -> bool:
    """Whether rendering `gw`'s nlog.config needs secrets resolved."""
    targets = (gw.settings.get("nlog") or {}).get("extra_targets") or []
    return any(isinstance(v, str) and is_reference(v)
               for t in targets for v in (t.get("attributes") or {}).values())


def nlog_context(gw: Gateway, resolver: SecretResolver | None = None) -> dict[str, Any]:
    """The template's variables; secret references resolved with `resolver`, else masked."""
    n: dict[str, Any] = gw.settings.get("nlog") or {}
    _refuse_non_xml(gw, n, "/nlog")
    a: dict[str, Any] = n.get("archive") or {}
    version = int(n.get("version", 5))
    min_level = n.get("min_level", "Debug")
    rules = [
        {"logger": r.get("logger", "*"), "min_level": r.get("min_level"),
         "max_level": r.get("max_level"), "write_to": r["write_to"],
         "final": bool(r.get("final", False))}
        for r in n.get("rules") or [{"logger": "*", "min_level": min_level,
                                     "write_to": "logfile"}]
    ]
    extra = []
    for i, t in enumerate(n.get("extra_targets") or []):
        attrs = []
        for key, value in (t.get("attributes") or {}).items():
            if not _XML_NAME.match(key) or key in ("name", "type"):
                loc = gw.locate_setting(f"/nlog/extra_targets/{i}/attributes")
                raise RenderError(f"nlog target {t['name']!r}: {key!r} is not a usable "
                                  "attribute name", file=loc.file, line=loc.line,
                                  column=loc.column, rule="nlog-render")
            if isinstance(value, str) and is_reference(value):
                secret = Secret(value, gw.locate_setting(
                    pointer("nlog", "extra_targets", i, "attributes", key)))
                value = resolver.resolve(secret) if resolver else secret.masked()
            attrs.append((key, _xml_value(value)))
        extra.append({"name": t["name"], "type": t["type"], "attributes": attrs})
    return {
        "gateway_id": gw.id,
        "nlog_version": version,
        "log_directory": n.get("log_directory", DEFAULT_LOG_DIRECTORY),
        "archive_directory": n.get("archive_directory", r"${var:logDirectory}\Archive"),
        "layout": n.get("layout", DEFAULT_LAYOUT),
        "internal_log_level": n.get("internal_log_level", "Warn"),
        "internal_log_file": n.get("internal_log_file", "internal-nlog.txt"),
        "archive": NlogArchive(
            every=a.get("every", "Day"),
            above_size=a.get("above_size", 1_000_000),
            max_files=a.get("max_files", 20),
            on_startup=bool(a.get("on_startup", True)),
            numbering=a.get("numbering", "Rolling" if version == 5 else None),
            suffix_format=a.get("suffix_format"),
        ),
        "rules": rules,
        "extra_targets": extra,
    }


def _refuse_non_xml(gw: Gateway, value: Any, ptr: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_non_xml(gw, key, ptr)
            _refuse_non_xml(gw, item, f"{ptr}/{escape_pointer_token(key)}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _refuse_non_xml(gw, item, f"{ptr}/{i}")
    elif isinstance(value, str) and (bad := _NOT_XML.search(value)):
        loc = gw.locate_setting(ptr)
        raise RenderError(f"{bad.group()!r} cannot be written to nlog.config (XML has no "
                          "such character)", file=loc.file, line=loc.line, column=loc.column,
                          rule="nlog-render")


def _finalize(value: object) -> object:
    """Every value printed by a template: escaped for an attribute (or element text)."""
    if isinstance(value, Markup):
        return value  # marked safe by the template's author
    text = str(escape(value))
    for char, reference in _ATTRIBUTE_WHITESPACE.items():
        text = text.replace(char, reference)
    return Markup(text)


def _xml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@lru_cache(maxsize=1)
def _builtin_template() -> jinja2.Template:
    env = jinja2.Environment(autoescape=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined, finalize=_finalize)
    text = resources.files("gwctl.templates").joinpath("nlog.config.j2").read_text("utf-8")
    return env.from_string(text)


@lru_cache(maxsize=32)
def _user_template(path: str) -> jinja2.Template:
    env = jinja2.sandbox.SandboxedEnvironment(autoescape=True, keep_trailing_newline=True,
                                              undefined=jinja2.StrictUndefined,
                                              finalize=_finalize)
    try:
        return env.from_string(read_text(path))
    except InputError as exc:
        raise RenderError(f"cannot read nlog template {path}: {exc.message}", file=path,
                          line=exc.line, rule="nlog-render") from None
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"template syntax: {exc.message}", file=path, line=exc.lineno,
                          rule="nlog-render") from None


def render_nlog(gw: Gateway, *, check: bool = True,
                resolver: SecretResolver | None = None) -> str:
    """The nlog.config text (LF line endings; the writer converts), secrets resolved with
    `resolver`, else masked.

    ``check=False`` skips the check that rules name declared targets (the rules engine
    renders unchecked so that its finding can point at the offending rule); the result
    must still be well-formed XML."""
    template_name = (gw.settings.get("nlog") or {}).get("template")
    if template_name:
        path = str((gw.source.base_dir / template_name).resolve())
        template = _user_template(path)
    else:
        path = "<built-in nlog.config template>"
        template = _builtin_template()
    context = nlog_context(gw, resolver)
    try:
        text = template.render(**context)
    except jinja2.TemplateError as exc:
        raise RenderError(f"rendering for {gw.id}: {exc}", file=path,
                          rule="nlog-render") from None
    root = _parse_rendered(text, source=path, gateway=gw.id)
    if not template_name:
        # a user's template may use the values in its own way; the built-in one must
        # carry them verbatim
        _check_values(root, context, source=path, gateway=gw.id)
    if check:
        _check_targets(root, source=path, gateway=gw.id)
    return text


def _parse_rendered(text: str, *, source: str, gateway: str) -> ET.Element:
    try:
        return ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as exc:
        line, col = exc.position
        raise RenderError(f"rendered nlog.config for {gateway} is not well-formed XML: {exc}",
                          file=source, line=line, column=col + 1, rule="nlog-render") from None


def _check_values(root: ET.Element, context: dict[str, Any], *, source: str,
                  gateway: str) -> None:
    """Variables and extra targets must read back as declared: NLog uses what it reads."""
    expected: list[tuple[str, ET.Element, str, str]] = [
        ("internalLogFile", root, "internalLogFile", context["internal_log_file"]),
        ("internalLogLevel", root, "internalLogLevel", context["internal_log_level"]),
    ]
    for el in _elements(root, "variable"):
        setting = _VARIABLES.get(el.get("name", ""))
        if setting is not None:
            expected.append((f"variable {el.get('name')}", el, "value", context[setting]))
    targets = {t.get("name"): t for t in _elements(root, "target")}
    for extra in context["extra_targets"]:
        target = targets.get(extra["name"])
        if target is not None:
            expected.extend((f"target {extra['name']!r}", target, key, value)
                            for key, value in extra["attributes"])
    for what, el, attr, declared in expected:
        read = el.get(attr)
        if read is not None and read != declared:
            raise RenderError(f"rendered nlog.config for {gateway}: {what} reads back as "
                              f"{read!r}, not the declared {declared!r}", file=source,
                              rule="nlog-render")


def _elements(root: ET.Element, tag: str) -> list[ET.Element]:
    return [*root.iter(f"{NLOG_NS}{tag}"), *root.iter(tag)]


def check_rendered_nlog(text: str, *, source: str, gateway: str) -> None:
    """Parse back; every rule must write to a declared target."""
    _check_targets(_parse_rendered(text, source=source, gateway=gateway), source=source,
                   gateway=gateway)


def _check_targets(root: ET.Element, *, source: str, gateway: str) -> None:
    targets = {t.get("name", "").lower() for t in _elements(root, "target")}
    for logger in _elements(root, "logger"):
        for name in (logger.get("writeTo") or "").split(","):
            if name.strip() and name.strip().lower() not in targets:
                raise RenderError(f"rendered nlog.config for {gateway}: rule writes to "
                                  f"unknown target {name.strip()!r}", file=source,
                                  rule="nlog-render")
