"""SARIF 2.1.0 (``--output sarif``) for code scanning: GitHub, GitLab and Azure DevOps
show each problem on the line of the file it is about.

Built with sarif-pydantic's typed SARIF 2.1.0 object model (imported only when SARIF is
asked for). One run, tool ``gwctl``; each rule that reported is described once in
``tool.driver.rules`` (its summary, and its documentation as text and Markdown); each
problem is a result with ``ruleId``, ``level`` (error/warning), the message, and the
file as a URI relative to the working directory (code scanning matches paths against
the repository) with line and column. The problem's JSON pointer and gateway travel in
``properties``; an inline or fleet-level suppression becomes a SARIF ``suppressions``
entry with its reason, so code scanning shows it as suppressed instead of hiding it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

from gwctl import __version__
from gwctl.output.ruledoc import for_terminal, to_markdown
from gwctl.problems import Level, Problem

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"


@dataclass(frozen=True)
class RuleMeta:
    """What SARIF says about a rule: from the rule's module (``gwctl rules ID``)."""

    id: str
    level: str
    summary: str
    doc: str


def _uri(file: str) -> str:
    """A relative POSIX URI when the file is under the working directory, else file://."""
    path = Path(file)
    try:
        rel = Path(os.path.relpath(path.resolve(), Path.cwd()))
    except ValueError:  # another drive on Windows
        return path.resolve().as_uri()
    if rel.parts and rel.parts[0] == "..":
        return path.resolve().as_uri()
    return str(PurePosixPath(*rel.parts))


def sarif_document(problems: Sequence[Problem],
                   rules: Mapping[str, RuleMeta] | None = None) -> dict[str, Any]:
    from sarif_pydantic import (
        ArtifactLocation,
        Location,
        Message,
        PhysicalLocation,
        Region,
        ReportingConfiguration,
        ReportingDescriptor,
        Result,
        Run,
        Sarif,
        Tool,
        ToolDriver,
    )
    from sarif_pydantic import Level as SarifLevel

    rules = rules or {}
    ids = list(dict.fromkeys(p.rule for p in problems))
    index = {rule_id: i for i, rule_id in enumerate(ids)}
    descriptors = []
    for rule_id in ids:
        meta = rules.get(rule_id)
        if meta is None:
            descriptors.append(ReportingDescriptor(id=rule_id))
            continue
        descriptors.append(ReportingDescriptor(
            id=rule_id,
            short_description=Message(
                text=for_terminal(meta.summary).strip()),
            full_description=Message(text=for_terminal(meta.doc).strip()),
            help=Message(text=for_terminal(meta.doc).strip(),
                                          markdown=to_markdown(meta.doc).strip()),
            default_configuration=ReportingConfiguration(
                level="error" if meta.level == "error" else "warning")))
    results = []
    for p in problems:
        locations = None
        if p.file:
            region = (Region(start_line=p.line, start_column=p.column)
                      if p.line is not None and p.line >= 1 else None)
            locations = [Location(physical_location=PhysicalLocation(
                artifact_location=ArtifactLocation(uri=_uri(p.file)), region=region))]
        properties: dict[str, Any] = {"path": p.path}
        if p.subject:
            properties["subject"] = p.subject
        result = Result(
            rule_id=p.rule, rule_index=index[p.rule],
            level=SarifLevel.ERROR if p.level is Level.ERROR else SarifLevel.WARNING,
            message=Message(text=p.message + (f" [{p.subject}]" if p.subject else "")),
            locations=locations, properties=properties)
        if p.suppressed is not None:
            # SARIF's result.suppressions is an array; sarif-pydantic models a singular
            # 'suppression', so the spec's member is set as an extra field
            result.suppressions = [{"kind": "inSource", "justification": p.suppressed}]
        results.append(result)
    log = Sarif(version="2.1.0", schema_uri=SCHEMA_URI, runs=[Run(
        tool=Tool(driver=ToolDriver(name="gwctl", version=__version__,
                                    rules=descriptors)),
        results=results)])
    doc: dict[str, Any] = log.model_dump(mode="json", by_alias=True, exclude_none=True)
    return doc


def report_sarif(problems: Sequence[Problem], out: TextIO,
                 rules: Mapping[str, RuleMeta] | None = None) -> None:
    out.write(json.dumps(sarif_document(problems, rules), indent=2) + "\n")
