"""The parts of a schema-invalid fleet that the semantic rules can still judge.

A schema error used to hide every semantic problem until it was fixed: one typo in one
gateway, and a CORS wildcard elsewhere went unreported. `salvage` removes what the schema
refused -- the offending key, or the mapping a required key is missing from -- and
checks again, until what is left is schema-valid (the model and the rules only ever see
schema-valid data). Removing a gateway can make its site look incomplete; the caller
drops semantic problems about a removed part or one of its ancestors (`related`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from gwctl.fleet.source import FleetSource
from gwctl.problems import Problem

#: each round removes at least one node; a document this broken is not worth salvaging
MAX_ROUNDS = 50


@dataclass(frozen=True)
class Salvaged:
    source: FleetSource
    #: JSON pointers of the parts removed
    removed: tuple[str, ...]


def _tokens(pointer: str) -> list[str]:
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]


def _remove(data: Any, pointer: str) -> bool:
    """Remove the node at `pointer` from `data`; False when it is the root or absent."""
    tokens = _tokens(pointer)
    if not tokens:
        return False
    node = data
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False
    last = tokens[-1]
    if isinstance(node, dict) and last in node:
        del node[last]
        return True
    if isinstance(node, list) and last.isdigit() and int(last) < len(node):
        del node[int(last)]
        return True
    return False


def salvage(source: FleetSource, problems: list[Problem]) -> Salvaged | None:
    """`source` without the parts `problems` (schema problems) blame, or None when the
    document as a whole is wrong (an error at its root or in ``apiVersion``) or nothing
    valid is left."""
    from gwctl.fleet.schema import validate_source

    # merged documents share subtrees between layers: work on a copy of our own
    data = copy.deepcopy(source.data)
    removed: list[str] = []
    current = problems
    for _ in range(MAX_ROUNDS):
        pointers = sorted({p.path for p in current}, key=len, reverse=True)
        # another apiVersion is another format: judging it by this one's rules is a guess
        if not pointers or "" in pointers or "/apiVersion" in pointers:
            return None
        if not any([_remove(data, ptr) for ptr in pointers]):
            return None
        removed.extend(pointers)
        candidate = FleetSource(data, source.files, source.base_dir)
        if not data.get("sites"):
            return None
        current = validate_source(candidate)
        if not current:
            return Salvaged(candidate, tuple(dict.fromkeys(removed)))
    return None


def related(problem: Problem, removed: tuple[str, ...]) -> bool:
    """Whether `problem` is about a removed part, inside one, or about a part containing
    one (a site whose gateway was removed may look as if it had none)."""
    path = problem.path
    for ptr in removed:
        if path == ptr or path.startswith(ptr + "/") or ptr.startswith(path + "/") \
                or not path:
            return True
    return False
