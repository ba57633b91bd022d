"""The published JSON Schema of the fleet file, and validation against it."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any

from gwctl.fleet.source import FleetSource
from gwctl.problems import Level, Problem, escape_pointer_token

RULE = "schema"


def schema_text() -> str:
    return resources.files("gwctl.data").joinpath("fleet.schema.json").read_text("utf-8")


@lru_cache(maxsize=1)
def fleet_schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(schema_text())
    return data


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(fleet_schema())


@lru_cache(maxsize=1)
def _fast_validator() -> Any:
    import fastjsonschema

    # formats are annotations for editors; the precise validator below ignores them too
    return fastjsonschema.compile(fleet_schema(), use_formats=False)


def validate_source(source: FleetSource) -> list[Problem]:
    """Problems with locations; empty when the document is valid.

    A compiled validator answers "valid?" an order of magnitude faster than jsonschema
    on a large fleet; jsonschema then explains only the documents that are not.
    """
    import fastjsonschema

    try:
        _fast_validator()(source.data)
        return []
    except fastjsonschema.JsonSchemaException as exc:
        fallback = Problem(RULE, Level.ERROR, str(exc)).at(source.locate(""))
    problems = []
    for err in _validator().iter_errors(source.data):
        ptr = "".join("/" + escape_pointer_token(p) for p in err.absolute_path)
        if "propertyNames" in err.schema_path and isinstance(err.instance, str):
            ptr += "/" + escape_pointer_token(err.instance)  # the key, not its mapping
        message = _message(err)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = set(err.schema.get("properties", {}))
            extra = [k for k in err.instance if k not in allowed]
            for key in extra:
                kptr = f"{ptr}/{escape_pointer_token(key)}"
                hint = f" (allowed: {', '.join(sorted(allowed))})" if allowed else ""
                problems.append(Problem(RULE, Level.ERROR, f"unknown key {key!r}{hint}",
                                        path=kptr).at(source.locate(kptr)))
            continue
        problems.append(Problem(RULE, Level.ERROR, message, path=ptr).at(source.locate(ptr)))
    return sorted(problems or [fallback], key=Problem.sort_key)


def _message(err: Any) -> str:
    where = err.absolute_path[-1] if err.absolute_path else None
    label = f"{where!r}" if isinstance(where, str) else "value"
    v = err.validator
    if v == "type":
        expected = err.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"{label} must be {_article(expected)}, found {_json_type(err.instance)}"
    if v == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        return f"missing required key {missing!r}"
    if v == "enum":
        return f"{label} must be one of {', '.join(map(str, err.validator_value))}"
    if v == "const":
        return f"{label} must be {err.validator_value!r}"
    if v == "pattern":
        return _pattern_message(label, err.validator_value, err.instance)
    return f"{label}: {err.message}"


def _pattern_message(label: str, pattern: str, value: str) -> str:
    defs = fleet_schema()["$defs"]
    # Windows paths read better with their backslashes single; repr only shows controls
    shown = repr(value) if re.search(r"[\x00-\x1f]", value) else f"'{value}'"
    if pattern == defs["hostPath"]["pattern"]:
        return f"{label} {shown} {host_path_problem(value)}"
    if pattern == defs["windowsPath"]["pattern"]:
        return f"{label} {shown} holds a control character (a line break or tab?)"
    if pattern == defs["hostName"]["pattern"]:
        return (f"{label} {shown} is not a host name or address (no spaces, control "
                "characters or URL parts)")
    if pattern == defs["gateway"]["properties"]["url"]["pattern"]:
        return f"{label} {shown} is not a URL (it holds spaces or control characters)"
    return f"{value!r} is not a valid name (letters, digits, '.', '_', '-')"


def host_path_problem(path: str) -> str:
    """Why `path` is not an absolute, normalised local Windows path (the remote
    operations refuse anything else, code ``bad_params``)."""
    if path.startswith(("\\\\", "//", "\\/", "/\\")):
        return "is a UNC path: give a directory on the host's own drives (C:\\...)"
    if not re.match(r"[A-Za-z]:[\\/]", path):
        return "is not an absolute Windows path: start it with the drive (C:\\...)"
    if bad := re.search(r'[<>:"|?*\x00-\x1f]', path[2:]):
        return f"holds {bad.group()!r}, which no Windows file name can"
    for part in re.split(r"[\\/]+", path[3:]):
        if part in (".", ".."):
            return f"has a {part!r} component: give the normalised path"
        if part != part.rstrip(". "):
            return f"has the component {part!r}, whose trailing dot or space Windows drops"
        if re.match(r"(?:CON|PRN|AUX|NUL|COM[1-9]|LPT[1-9])(?:\.|$)", part, re.IGNORECASE):
            return f"has the component {part!r}, which Windows reads as a device"
    return "is not a plain Windows path"


def _article(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list):
        return "a list"
    return "a mapping"
