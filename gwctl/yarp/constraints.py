"""ASP.NET Core's inline route constraints (``{id:int}``, ``{n:range(1,9)}``).

The route-pattern parser only splits a parameter into name, constraints and default
(dotnet/aspnetcore src/Http/Routing/src/Patterns/RoutePatternParser.cs); a constraint
*name* is resolved, and its arguments converted, when the endpoint matcher is built
(``DefaultParameterPolicyFactory`` / ``ParameterPolicyActivator``,
src/Http/Routing/src/DefaultParameterPolicyFactory.cs and
src/Http/Routing/src/ParameterPolicyActivator.cs). YARP builds that matcher lazily, on
the first request: the gateway starts, and then the matcher build throws for every
request -- every route, the gateway's own included, answers 500.
"""

from __future__ import annotations

import re

#: what every request answers once a constraint cannot be resolved
UNRESOLVED_STATUS = 500

#: the built-in constraint map (RouteOptions) -> allowed argument counts
KNOWN: dict[str, tuple[int, ...]] = {
    "int": (0,), "bool": (0,), "datetime": (0,), "decimal": (0,), "double": (0,),
    "float": (0,), "guid": (0,), "long": (0,), "alpha": (0,), "required": (0,),
    "file": (0,), "nonfile": (0,), "minlength": (1,), "maxlength": (1,), "length": (1, 2),
    "min": (1,), "max": (1,), "range": (2,), "regex": (1,),
}
_INT_ARG = re.compile(r"^\s*-?\d+\s*$")


def split(text: str) -> tuple[str, str | None]:
    """``name(args)`` -> (name, args); args None without parentheses."""
    m = re.fullmatch(r"([^(]*)(?:\((.*)\))?", text, re.DOTALL)
    if m is None:
        return text.strip(), None
    return m.group(1).strip(), m.group(2)


def problem(name: str, args: str | None) -> str | None:
    """Why the matcher cannot build constraint `name(args)` (None: it can)."""
    counts = KNOWN.get(name.lower())
    if counts is None:
        return (f"the constraint reference {name!r} could not be resolved to a type "
                f"(known: {', '.join(sorted(KNOWN))})")
    if name.lower() == "regex":
        if args is None:
            return "the regex constraint needs a pattern: regex(...)"
        try:
            re.compile(args)
        except re.error as exc:
            return f"the regex constraint's pattern {args!r} is invalid: {exc}"
        return None
    given = 0 if args is None else len(args.split(","))
    if given not in counts:
        want = " or ".join(str(c) for c in counts)
        return f"the constraint {name!r} takes {want} argument(s), got {given}"
    if args is not None and not all(_INT_ARG.match(a) for a in args.split(",")):
        return f"the constraint {name!r} takes integer arguments, not {args!r}"
    return None
