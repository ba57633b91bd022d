"""Keeping secrets out of everything a person, a log or a pipeline sees.

One classification decides what is secret, and every output path applies it: plans and
diffs (text and JSON), ``effective``, problem messages, ``import`` (which turns secrets
into ``env:`` references) and logs.

- **Keys**: a value is secret when the last name of its key says so -- it contains
  ``password``, ``passwd``, ``passphrase``, ``pwd``, ``secret``, ``credential``, ``token``,
  ``connectionstring`` or an ``apikey``/``privatekey``/``accesskey``-like compound (in any
  case and spelling: ``ClientSecret``, ``sharedSecret``, ``api_key``,
  ``ansible_password``), or has ``pass``, ``pw`` or ``sig`` as a word of its own
  (``ansible_become_pass``) -- unless the name ends
  in a word that names metadata rather than the secret (``TokenEndpoint``,
  ``PasswordFile``, ``CredentialType``, ``SecretName``). ``true``/``false`` and empty
  values are not secrets.
- **Values**, whatever their key: ``name=value`` pairs whose name is secret (connection
  strings' ``Password=``/``Pwd=``, ``AccountKey=``, query strings' ``access_token=``),
  the password of a URL's user information (``scheme://user:PASSWORD@host``), the
  credentials of an HTTP ``Authorization`` value (``Bearer ...``, ``Basic ...``), PEM
  private keys, and NTLM messages (``TlRMTVNTUA...``, ``NTLMSSP\\0``).
- **Known values**: every secret gwctl resolved or read (fleet references, inventory
  passwords) is registered, and any text leaving gwctl is scrubbed of it as a last line
  of defence.

A masked value reads ``(secret)``; where a change is shown it reads
``(secret, changed)`` or ``(secret, unchanged)``; a fleet reference keeps its name
(``(secret env:NAME)``).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gwctl.netjson.config import SEP

MASK = "(secret)"
CHANGED = "(secret, changed)"
UNCHANGED = "(secret, unchanged)"

#: what a key name containing one of these holds is secret
_SECRET_PART = re.compile(
    r"password|passwd|passphrase|pwd|secret|credential|token|connectionstring"
    r"|(?:api|access|private|secret|signing|encryption|account|sharedaccess|client|master"
    r"|subscription)key"
)
#: ... unless the name ends in a word naming metadata about the secret
_METADATA_END = re.compile(
    r"(?:url|uri|endpoint|path|file|dir|directory|type|name|names|id|lifetime|expiry"
    r"|expiration|expires|length|timeout|enabled|required|policy|mode|format|header"
    r"|location|provider|store)$"
)
_SECRET_WORDS = frozenset({"pass", "pw", "sig"})
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_NOT_SECRET_VALUES = frozenset({"", "true", "false"})
_MASKED = re.compile(r"\(secret(?:[ ,][^()]*)?\)")


def is_secret_name(name: str) -> bool:
    """Whether a key name (``ClientSecret``, ``ansible_password``) names a secret."""
    compact = re.sub(r"[^a-z0-9]", "", name.lower())
    if _SECRET_PART.search(compact):
        return not _METADATA_END.search(compact)
    return any(w.lower() in _SECRET_WORDS for w in _WORD.findall(name))


def is_secret_key(key: str) -> bool:
    """Whether a configuration key (``Section:Sub:Leaf``, array indices skipped) is secret."""
    for part in reversed(key.split(SEP)):
        if not part.isdigit():
            return is_secret_name(part)
    return False


def is_masked(value: str) -> bool:
    return _MASKED.fullmatch(value) is not None


def _secret_value(value: str) -> bool:
    return value.strip().lower() not in _NOT_SECRET_VALUES and not is_masked(value)


# -- secrets inside values --------------------------------------------------------------

#: the ``name=`` of a ``name=value`` pair (connection strings, query strings, XML)
_PAIR_NAME = re.compile(r"(?<![\w-])(?P<name>[A-Za-z_][\w-]*(?: [A-Za-z_][\w-]*)?)\s*=\s*")
#: its value: quoted, in a URL query (to ``&``), or to ``;`` or the end of the line
#: (XML entities such as ``&amp;`` included)
_QUOTED_VALUE = re.compile(r"'(?P<q1>[^'\r\n]*)'?|\"(?P<q2>[^\"\r\n]*)\"?")
_PLAIN_VALUE = re.compile(r"(?:&#?\w+;|[^;\r\n])+")
_QUERY_VALUE = re.compile(r"[^&#\s\"'<>]+")
_USERINFO = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^/?#\s:@\"'<>]*:(?P<secret>[^/?#\s\"'<>]+)@")
_AUTHORIZATION = re.compile(
    r"(?i)\b(?:basic|bearer|negotiate|ntlm|kerberos|digest)\s+"
    r"(?P<secret>(?=[\w.~+/-]*[\d+/])[\w.~+/-]{8,}=*)"
)
_NTLM = re.compile(r"TlRMTVNTUA[A-Za-z0-9+/]*={0,2}|4e544c4d53535000[0-9a-fA-F]*"
                   r"|NTLMSSP(?:\x00|\\x00|\\0)[^'\"\s]*")
_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?"
                  r"(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.DOTALL)


def secret_spans(text: str) -> list[tuple[int, int]]:
    """Where `text` holds secret material by its shape (see the module's documentation),
    as sorted, non-overlapping (start, end) pairs."""
    spans: list[tuple[int, int]] = []
    for m in _PAIR_NAME.finditer(text):
        if is_secret_name(m["name"]):
            in_query = m.start() > 0 and text[m.start() - 1] in "?&"
            span = _pair_value(text, m.end(), in_query=in_query)
            if span is not None:
                spans.append(span)
    for pattern in (_USERINFO, _AUTHORIZATION):
        spans.extend(m.span("secret") for m in pattern.finditer(text))
    for pattern in (_NTLM, _PEM):
        spans.extend(m.span() for m in pattern.finditer(text))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _pair_value(text: str, start: int, *, in_query: bool) -> tuple[int, int] | None:
    quoted = _QUOTED_VALUE.match(text, start)
    if quoted:
        group = "q1" if quoted["q1"] is not None else "q2"
        span = quoted.span(group)
    else:
        plain = (_QUERY_VALUE if in_query else _PLAIN_VALUE).match(text, start)
        if plain is None:
            return None
        span = plain.span()
    return span if _secret_value(text[span[0]:span[1]]) else None


def has_secret(key: str, value: str) -> bool:
    """Whether `value`, under configuration key `key`, is or holds a secret."""
    if is_secret_key(key):
        return _secret_value(value)
    return bool(secret_spans(value))


# -- known values -------------------------------------------------------------------------

_lock = threading.Lock()
_values: set[str] = set()
_pattern: re.Pattern[str] | None = None


def register(value: str) -> None:
    """Scrub `value` from all later output (short values would mask too much: skip them)."""
    global _pattern
    if len(value) < 4:
        return
    with _lock:
        if value in _values:
            return
        _values.add(value)
        _pattern = re.compile("|".join(re.escape(v) for v in sorted(_values, key=len,
                                                                      reverse=True)))


def register_all(variables: Mapping[str, Any]) -> None:
    """Register the string values of `variables` whose names are secret (host variables)."""
    for name, value in variables.items():
        if isinstance(value, str) and is_secret_name(name):
            register(value)


def _scrub_known(text: str) -> str:
    pattern = _pattern
    return pattern.sub(MASK, text) if pattern is not None else text


# -- masking --------------------------------------------------------------------------------


def _replace_spans(text: str, spans: list[tuple[int, int]],
                   marker: Callable[[str], str]) -> str:
    out, last = [], 0
    for start, end in spans:
        out.append(text[last:start])
        out.append(marker(text[start:end]))
        last = end
    out.append(text[last:])
    return "".join(out)


def scrub(text: str, previous: str | None = None) -> str:
    """Free text (a message, a log line, an XML file) with its secrets masked.

    With `previous` (the text before a change), a secret that `previous` does not hold
    reads ``(secret, changed)``, so that a diff still shows the change.
    """
    before = None
    if previous is not None:
        before = {previous[s:e] for s, e in secret_spans(previous)}

    def marker(secret: str) -> str:
        return MASK if before is None or secret in before else CHANGED

    return _scrub_known(_replace_spans(text, secret_spans(text), marker))


def mask_value(key: str, value: str | None) -> str | None:
    """A configuration value, as it may be shown."""
    if value is None or is_masked(value):
        return value
    if is_secret_key(key) and _secret_value(value):
        return MASK
    return scrub(value)


def mask_change(key: str, value: str | None, other: str | None) -> str | None:
    """`value` as a change from (or to) `other` shows it: secrets read
    ``(secret, changed)`` or ``(secret, unchanged)``."""
    if value is None or is_masked(value):
        return value
    if is_secret_key(key) and _secret_value(value):
        return UNCHANGED if value == other else CHANGED
    others = {other[s:e] for s, e in secret_spans(other)} if other is not None else set()
    masked = _replace_spans(value, secret_spans(value),
                            lambda secret: UNCHANGED if secret in others else CHANGED)
    return _scrub_known(masked)


def mask_tree(node: Any, name: str = "") -> Any:
    """A nested configuration (dicts, lists, leaves) with its secrets masked; a list's
    items are judged by the list's name."""
    if isinstance(node, dict):
        return {k: mask_tree(v, str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [mask_tree(v, name) for v in node]
    if isinstance(node, str):
        return mask_value(name, node)
    if isinstance(node, int | float) and not isinstance(node, bool) and is_secret_name(name):
        return MASK
    return node


# -- JSON text, possibly broken ---------------------------------------------------------------

_JSON_TOKEN = re.compile(r'"(?:[^"\\\r\n]|\\.)*"?|//[^\n]*|/\*.*?(?:\*/|\Z)|[{}\[\]:,]'
                         r'|[^\s{}\[\]:,"/]+|/', re.DOTALL)


@dataclass
class _Container:
    path: tuple[str, ...]
    is_object: bool
    member: str = ""
    index: int = 0
    expect_member: bool = True

    def slot(self) -> tuple[str, ...]:
        return (*self.path, self.member.lower() if self.is_object else str(self.index))


@dataclass
class _JsonMasker:
    """Walks JSON text token by token, tracking where each value sits, so that a secret
    is judged by its own key even when the text does not parse (comments, trailing
    commas, a half-edited file)."""

    text: str
    on_secret: Callable[[tuple[str, ...], str], str]
    stack: list[_Container] = field(default_factory=list)

    def run(self) -> str:
        out, last = [], 0
        for m in _JSON_TOKEN.finditer(self.text):
            out.append(self.text[last:m.start()])
            out.append(self._token(m.group()))
            last = m.end()
        out.append(self.text[last:])
        return "".join(out)

    def _slot(self) -> tuple[tuple[str, ...], str]:
        """The path of the value at the current position, and the name it is judged by."""
        if not self.stack:
            return (), ""
        top = self.stack[-1]
        path = top.slot()
        name = next((p for p in reversed(path) if not p.isdigit()), "")
        return path, name

    def _token(self, token: str) -> str:
        top = self.stack[-1] if self.stack else None
        if token in ("{", "["):
            self.stack.append(_Container(self._slot()[0], token == "{"))
        elif token in ("}", "]"):
            if self.stack:
                self.stack.pop()
        elif token == ":":
            if top is not None:
                top.expect_member = False
        elif token == ",":
            if top is not None:
                top.expect_member = True
                top.index += 1
        elif token.startswith("/"):
            return scrub(token)
        elif top is not None and top.is_object and top.expect_member:
            if token.startswith('"'):
                top.member = _decode(token)
        else:
            return self._value(token)
        return token

    def _value(self, token: str) -> str:
        path, name = self._slot()
        if not token.startswith('"'):
            if is_secret_name(name) and token.lstrip("-")[:1].isdigit():
                return f'"{self.on_secret(path, token)}"'
            return token
        value = _decode(token)
        if is_secret_name(name) and _secret_value(value):
            return f'"{self.on_secret(path, token)}"'
        spans = secret_spans(value)
        if not spans:
            return token
        counter = iter(range(len(spans)))
        masked = _replace_spans(value, spans,
                                lambda s: self.on_secret((*path, f"#{next(counter)}"), s))
        return json.dumps(masked, ensure_ascii=False)


def _decode(token: str) -> str:
    try:
        value = json.loads(token)
    except ValueError:
        return token.strip('"')
    return value if isinstance(value, str) else token.strip('"')


def _json_secrets(text: str) -> dict[tuple[str, ...], str]:
    found: dict[tuple[str, ...], str] = {}

    def record(path: tuple[str, ...], secret: str) -> str:
        found[path] = secret
        return MASK

    _JsonMasker(text, record).run()
    return found


def mask_json_text(text: str, previous: str | None = None) -> str:
    """JSON text (comments and errors allowed) with its secrets masked; formatting kept.

    With `previous` (the text before a change), a secret that differs from the one at
    the same place in `previous` reads ``(secret, changed)``.
    """
    before = _json_secrets(previous) if previous is not None else None

    def marker(path: tuple[str, ...], secret: str) -> str:
        return MASK if before is None or before.get(path) == secret else CHANGED

    return _scrub_known(_JsonMasker(text, marker).run())
