"""``nlog.config`` from a Jinja2 template (built-in, or the user's own).

Values are XML-escaped by the template engine; attribute names of extra targets are
checked to be XML names (they cannot be escaped). The result is parsed back as XML and
its rules are checked against its targets before anyone writes it to a host: NLog keeps
its old configuration when a reload fails, so a broken file would silently stop
logging changes from taking effect. An extra target's attribute value may be a secret
reference (``env:NAME``, ``file:PATH``: a database target's connection string, a mail
target's password), resolved only when the file is rendered for a host.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox

from gwctl.errors import InputError
from gwctl.fleet.model import Gateway
from gwctl.fleet.secrets import Secret, SecretResolver, is_reference
from gwctl.problems import pointer

NLOG_NS = "{http://www.nlog-project.org/schemas/NLog.xsd}"
DEFAULT_LOG_DIRECTORY = r"C:\ProgramData\Milestone\ApiGateway\Logs"
#: the manual's default layout with its ``[{threadid...}]`` typo fixed (a missing ``$``
#: prints the text literally instead of the thread id)
DEFAULT_LAYOUT = (r"${date:format=yyyy-MM-dd HH\:mm\:ss.fffzzz} [${threadid:padding=6}] "
                  r"${level:uppercase=true:padding=-10} - ${message} "
                  r"${exception:format=tostring}")
_XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


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


def _xml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@lru_cache(maxsize=1)
def _builtin_template() -> jinja2.Template:
    env = jinja2.Environment(autoescape=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    text = resources.files("gwctl.templates").joinpath("nlog.config.j2").read_text("utf-8")
    return env.from_string(text)


@lru_cache(maxsize=32)
def _user_template(path: str) -> jinja2.Template:
    env = jinja2.sandbox.SandboxedEnvironment(autoescape=True, keep_trailing_newline=True,
                                              undefined=jinja2.StrictUndefined)
    try:
        text = Path(path).read_text("utf-8-sig")
        return env.from_string(text)
    except OSError as exc:
        raise RenderError(f"cannot read nlog template: {exc.strerror}", file=path,
                          rule="nlog-render") from None
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
    try:
        text = template.render(**nlog_context(gw, resolver))
    except jinja2.TemplateError as exc:
        raise RenderError(f"rendering for {gw.id}: {exc}", file=path,
                          rule="nlog-render") from None
    if check:
        check_rendered_nlog(text, source=path, gateway=gw.id)
    else:
        _parse_rendered(text, source=path, gateway=gw.id)
    return text


def _parse_rendered(text: str, *, source: str, gateway: str) -> ET.Element:
    try:
        return ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as exc:
        line, col = exc.position
        raise RenderError(f"rendered nlog.config for {gateway} is not well-formed XML: {exc}",
                          file=source, line=line, column=col + 1, rule="nlog-render") from None


def check_rendered_nlog(text: str, *, source: str, gateway: str) -> None:
    """Parse back; every rule must write to a declared target."""
    root = _parse_rendered(text, source=source, gateway=gateway)
    targets = {t.get("name", "").lower() for t in root.iter(f"{NLOG_NS}target")}
    targets |= {t.get("name", "").lower() for t in root.iter("target")}
    for logger in [*root.iter(f"{NLOG_NS}logger"), *root.iter("logger")]:
        for name in (logger.get("writeTo") or "").split(","):
            if name.strip() and name.strip().lower() not in targets:
                raise RenderError(f"rendered nlog.config for {gateway}: rule writes to "
                                  f"unknown target {name.strip()!r}", file=source,
                                  rule="nlog-render")
