"""Plan reporters: what ``diff``, ``plan`` and ``apply`` print, in every ``--output`` format.

Each reporter takes the stable plan document (docs/json-output.md: ``version``,
``gateways``, ``summary``, and for apply ``results``) and writes it to a stream, so a
format added here works for every command that prints plans. Secrets were masked when the
document was made; reporters only arrange it.

* ``text``: one line per gateway (``~`` drift, ``=`` in sync, ``!`` unreachable), the
  unified diffs and the semantic changes; colour on a terminal (``NO_COLOR`` turns it
  off, ``FORCE_COLOR`` on); terraform-style counts at the end.
* ``json``: the document itself.
* ``markdown``: a pull-request comment: the counts, a table, and each changing gateway's
  diffs in a collapsible ``<details>`` block.
* ``github``: GitHub Actions annotations (a notice per changing gateway, an error per
  unreachable one) with each diff in a collapsible log group.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

PlanDoc = Mapping[str, Any]

_SIGN = {"added": "+", "removed": "-", "changed": "~"}
_RESET = "\033[0m"
_COLOURS = {"+": "\033[32m", "-": "\033[31m", "~": "\033[33m", "!": "\033[31;1m",
            "@": "\033[36m", "=": "\033[2m"}


def use_colour(out: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Colour on a terminal; ``NO_COLOR`` (https://no-color.org) wins over everything,
    ``FORCE_COLOR`` asks for it when piped."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR"):
        return True
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty())


def kind(gw: Mapping[str, Any]) -> str:
    """``create`` (every changing file is new), ``change``, ``in-sync``, ``error`` or
    ``blocked`` (a host condition apply cannot fix)."""
    if gw.get("status") in ("error", "blocked"):
        return str(gw["status"])
    if gw.get("status") != "drift":
        return "in-sync"
    actions = {f["action"] for f in gw.get("files", []) if f["action"] != "unchanged"}
    return "create" if actions == {"create"} and not gw.get("pending_activation") \
        else "change"


def counts(doc: PlanDoc) -> dict[str, int]:
    kinds = [kind(g) for g in doc.get("gateways", [])]
    return {k: kinds.count(k) for k in ("create", "change", "in-sync", "error", "blocked")}


def counts_line(doc: PlanDoc) -> str:
    """``2 to create, 3 to change, 4 in sync, 0 unreachable/failed`` (terraform's way)."""
    c = counts(doc)
    blocked = f", {c['blocked']} blocked (apply cannot fix)" if c["blocked"] else ""
    return (f"{c['create']} to create, {c['change']} to change, {c['in-sync']} in sync, "
            f"{c['error']} unreachable/failed{blocked}")


def condition_lines(gw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(mark, text) per host condition: ``!`` for those apply cannot fix, ``~`` else."""
    return [("!" if c.get("blocks_apply") else "~",
             f"{'cannot take effect' if c.get('blocks_apply') else 'host'}: {c['message']}; "
             f"remedy: {c['remedy']} [{c['rule']}]")
            for c in gw.get("conditions") or []]


def _semantic_line(c: Mapping[str, Any]) -> str:
    if c["action"] == "changed":
        value = f"{c['old']!r} -> {c['new']!r}"
    else:
        value = repr(c["new"] if c["action"] == "added" else c["old"])
    return f"{_SIGN[c['action']]} {c['key']}: {value}"


def _in_sync_notes(gw: Mapping[str, Any]) -> str:
    """One note for the files that differ only in form (said once, naming the files)."""
    cosmetic = [f["name"] for f in gw.get("files", []) if f.get("cosmetic") and f.get("note")
                and f.get("old_sha256") is not None]
    absent = [f["name"] for f in gw.get("files", []) if f.get("cosmetic") and f.get("note")
              and f.get("old_sha256") is None]
    notes = []
    if cosmetic:
        notes.append(f"formatting differs only in {', '.join(cosmetic)}; the gateway would "
                     "run the same configuration")
    if absent:
        notes.append(f"nothing to override: {', '.join(absent)} stays absent")
    return f" ({'; '.join(notes)})" if notes else ""


def report_text(doc: PlanDoc, out: TextIO, *, colour: bool | None = None) -> None:
    paint = use_colour(out) if colour is None else colour

    def line(text: str, mark: str | None = None) -> None:
        key = mark if mark is not None else text.lstrip()[:1]
        if paint and key in _COLOURS:
            out.write(f"{_COLOURS[key]}{text}{_RESET}\n")
        else:
            out.write(text + "\n")

    for gw in doc.get("gateways", []):
        who = f"{gw['gateway']} ({gw['host']})"
        k = kind(gw)
        if k == "error":
            line(f"! {who}: unreachable or failed: {gw['error']}")
            continue
        if k == "in-sync":
            line(f"= {who}: in sync{_in_sync_notes(gw)}")
            for mark, text in condition_lines(gw):
                line(f"  {text}", mark)
            continue
        if k == "blocked":
            line(f"! {who}: blocked: drift that apply cannot fix")
        else:
            line(f"~ {who}: {'recycle needed' if gw['recycle'] else 'no recycle needed'}")
        for mark, text in condition_lines(gw):
            line(f"  {text}", mark)
        pending = gw.get("pending_activation")
        if pending:
            line(f"  configuration on disk not yet active: {pending['detail']}; apply "
                 "completes it", "~")
        for f in gw.get("files", []):
            if f["action"] == "unchanged":
                continue
            line(f"  {f['action']} {f['path']}" + (f"  ({f['note']})" if f.get("note") else ""),
                 "")
            for d in f.get("diff", "").splitlines():
                mark = d[:1] if not d.startswith(("---", "+++")) else ""
                line(f"    {d}", mark)
        if gw.get("semantic"):
            line("  effective configuration:", "")
            for c in gw["semantic"]:
                line(f"    {_semantic_line(c)}")
    total = len(doc.get("gateways", []))
    line(f"{total} gateway(s): {counts_line(doc)}", "")


def report_json(doc: PlanDoc, out: TextIO) -> None:
    out.write(json.dumps(doc, indent=2) + "\n")


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fence(body: str, lang: str) -> str:
    """A code block whose fence no backtick run inside the body can close."""
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{body.rstrip(chr(10))}\n{fence}\n"


_OUTCOME_ICON = {"changed": "✅", "unchanged": "=", "rolled back": "↩️", "failed": "❌",
                 "skipped": "⏭️"}


def report_markdown(doc: PlanDoc, out: TextIO) -> None:
    """A pull-request comment."""
    gateways = doc.get("gateways", [])
    title = "gwctl apply" if "results" in doc else "gwctl plan"
    out.write(f"### {title}: {counts_line(doc)}\n\n")
    if gateways:
        out.write("| gateway | host | plan | recycle |\n|---|---|---|---|\n")
        label = {"create": "➕ create", "change": "✏️ change", "in-sync": "in sync",
                 "error": "❗ unreachable/failed", "blocked": "⛔ blocked (apply cannot fix)"}
        for gw in gateways:
            out.write(f"| `{_md_cell(gw['gateway'])}` | {_md_cell(gw['host'])} | "
                      f"{label[kind(gw)]} | {'yes' if gw.get('recycle') else 'no'} |\n")
        out.write("\n")
    for gw in gateways:
        k = kind(gw)
        if k == "error":
            out.write(f"**❗ `{_md_cell(gw['gateway'])}`**: {_md_html(str(gw['error']))}\n\n")
            continue
        if k == "in-sync":
            continue
        summary = (f"<code>{_md_html(gw['gateway'])}</code> ({_md_html(gw['host'])}): {k}"
                   + (", recycle needed" if gw.get("recycle") else ""))
        out.write(f"<details><summary>{summary}</summary>\n\n")
        for _, text in condition_lines(gw):
            out.write(f"- {_md_html(text)}\n")
        if gw.get("conditions"):
            out.write("\n")
        pending = gw.get("pending_activation")
        if pending:
            out.write(f"Configuration on disk not yet active: {_md_html(pending['detail'])}; "
                      "apply completes it.\n\n")
        if gw.get("semantic"):
            out.write("Effective configuration:\n\n")
            out.write(_fence("\n".join(_semantic_line(c) for c in gw["semantic"]), "diff"))
            out.write("\n")
        for f in gw.get("files", []):
            if f["action"] != "unchanged" and f.get("diff"):
                out.write(f"`{_md_cell(f['name'])}` ({f['action']}):\n\n")
                out.write(_fence(f["diff"], "diff"))
                out.write("\n")
        out.write("</details>\n\n")
    results = doc.get("results")
    if results:
        out.write("| gateway | outcome | recycled | detail |\n|---|---|---|---|\n")
        for r in results:
            icon = _OUTCOME_ICON.get(r["outcome"], "")
            out.write(f"| `{_md_cell(r['gateway'])}` | {icon} {r['outcome']} | "
                      f"{'yes' if r.get('recycled') else 'no'} | "
                      f"{_md_cell(str(r.get('detail') or ''))} |\n")
        out.write("\n")


def _gh(text: str, *, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def report_github(doc: PlanDoc, out: TextIO) -> None:
    """Workflow commands: an annotation per gateway that changes or fails; the diffs in
    collapsible groups of the job log."""
    for gw in doc.get("gateways", []):
        k = kind(gw)
        who = f"{gw['gateway']} ({gw['host']})"
        if k == "error":
            out.write(f"::error title={_gh('gwctl: unreachable', prop=True)}::"
                      f"{_gh(who + ': ' + str(gw['error']))}\n")
        elif k == "blocked":
            for _, text in condition_lines(gw):
                out.write(f"::error title={_gh('gwctl: blocked', prop=True)}::"
                          f"{_gh(who + ': ' + text)}\n")
        elif k in ("create", "change"):
            files = [f["name"] for f in gw.get("files", []) if f["action"] != "unchanged"]
            what = (f"{k}: {', '.join(files) or 'pending activation'}"
                    + ("; recycle needed" if gw.get("recycle") else ""))
            out.write(f"::notice title={_gh('gwctl: drift', prop=True)}::"
                      f"{_gh(who + ': ' + what)}\n")
            out.write(f"::group::{_gh(who)}\n")
            single = {**doc, "gateways": [gw]}
            single.pop("results", None)
            buf = io.StringIO()
            report_text(single, buf, colour=False)
            # the diff shows live files' text: a line in them must not become a command
            token = secrets.token_hex(16)
            out.write(f"::stop-commands::{token}\n")
            out.write("".join(line for line in buf.getvalue().splitlines(keepends=True)
                              if not line.startswith("1 gateway(s)")))
            out.write(f"::{token}::\n::endgroup::\n")
    out.write(f"gwctl: {counts_line(doc)}\n")


PlanReporter = Callable[[PlanDoc, TextIO], None]

#: ``--output`` format -> plan reporter
PLAN_REPORTERS: dict[str, PlanReporter] = {
    "text": lambda doc, out: report_text(doc, out),
    "json": report_json,
    "markdown": report_markdown,
    "github": report_github,
}
PLAN_FORMATS: Sequence[str] = tuple(PLAN_REPORTERS)
