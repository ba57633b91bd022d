"""Keeping secrets out of everything a person, a log or a pipeline sees.

Two mechanisms, both always on: values under secret-looking keys are masked by key
(``credential``, ``password``, ...) wherever configuration is displayed, and every
resolved secret value is registered here so that any text leaving gwctl -- diffs,
messages, logs -- is scrubbed of it as a last line of defence.
"""

from __future__ import annotations

import logging
import re
import threading

from gwctl.netjson.config import SEP, fold

SECRET_KEYS = frozenset({"credential", "password", "secret", "clientsecret", "apikey",
                         "ansible_password"})
MASK = "(secret)"

_lock = threading.Lock()
_values: set[str] = set()
_pattern: re.Pattern[str] | None = None

#: a JSON member whose name is a secret key, in any spelling: its string value is masked
_JSON_SECRET = re.compile(
    r'("(?:' + "|".join(sorted(SECRET_KEYS)) + r')"\s*:\s*)"(?:[^"\\]|\\.)*"',
    re.IGNORECASE,
)


def is_secret_key(key: str) -> bool:
    return fold(key.rsplit(SEP, 1)[-1]) in SECRET_KEYS


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


def scrub(text: str) -> str:
    pattern = _pattern
    return pattern.sub(MASK, text) if pattern is not None else text


def mask_json_text(text: str, replacement: str = MASK) -> str:
    """Mask secret-keyed string values in JSON text without parsing it (it may be broken)."""
    masked = _JSON_SECRET.sub(lambda m: f'{m.group(1)}"{replacement}"', text)
    return scrub(masked)


class ScrubFilter(logging.Filter):
    """Attach to handlers: log records are scrubbed before they are written."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = ()
        return True


def install_log_filter() -> None:
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, ScrubFilter) for f in handler.filters):
            handler.addFilter(ScrubFilter())
