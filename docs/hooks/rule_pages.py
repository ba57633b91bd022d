"""mkdocs hook: a page per semantic rule, generated at build time from the rule itself --
its docstring, effect, options and PASS/FAIL examples as ``gwctl rules ID`` shows them
(`gwctl.rules.rule_doc`), rendered to Markdown by `gwctl.output.ruledoc` -- and an index
of every rule. Nothing generated is committed, so the site cannot drift from the rules."""

from __future__ import annotations

from typing import Any


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def on_files(files: Any, config: Any) -> Any:
    import textwrap

    from mkdocs.structure.files import File

    from gwctl.output.ruledoc import to_markdown
    from gwctl.rules import all_rules, rule_doc

    rows = []
    for rule in all_rules():
        body = to_markdown(rule_doc(rule.ID)).partition("\n")[2]  # drop "id (level)"
        page = f"# {rule.ID}\n\nLevel: **{rule.LEVEL}**\n{body}"
        files.append(File.generated(config, f"rules/{rule.ID}.md", content=page))
        summary = textwrap.dedent(rule.__doc__ or "").strip().partition("\n")[0]
        rows.append(f"| [{rule.ID}]({rule.ID}.md) | {rule.LEVEL} | "
                    f"{_cell(to_markdown(summary).strip())} |")
    index = ("# Rules\n\nEvery semantic rule of `gwctl validate` and `gwctl lint-file`, "
             "generated from the rules themselves (as `gwctl rules ID` prints them). "
             "Configure them per fleet under `rules:`, or suppress one finding with "
             "`# gwctl: disable=rule-id -- reason` on its line.\n\n"
             "| rule | level | summary |\n|---|---|---|\n" + "\n".join(rows) + "\n")
    files.append(File.generated(config, "rules/index.md", content=index))
    return files
