"""A key of the raw ``appsettings`` escape hatch collides with a key gwctl renders.

``settings.appsettings`` is merged *under* the modelled settings (``cors``, ``webrtc``,
``logging``, ``reverse_proxy``), matching keys ignoring case, so the modelled value wins
and the raw one silently disappears from the rendered file (a modelled list, such as
``ice_servers``, replaces the raw list as a whole). Declare each value once: in the
modelled setting when there is one.

PASS::

    settings:
      cors: {enabled: true, allow_origins: [https://portal.example.com]}
      appsettings:
        Kestrel: {Limits: {MaxRequestBodySize: 1048576}}

FAIL (``cors.enabled`` wins; the raw ``Enabled`` is dropped)::

    settings:
      cors: {enabled: true}
      appsettings:
        Cors: {Enabled: false}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem, pointer
from gwctl.rules import _cfg
from gwctl.rules._cfg import Key
from gwctl.rules._shared import dotted
from gwctl.rules.base import FLEET_ONLY, Options
from gwctl.rules.target import FleetTarget, Target, resolve_setting, settings_candidates

ID: Final = "raw-key-collision"
LEVEL: Final = Level.WARNING
OPTIONS: Final[dict[str, Any]] = {}
MODES: Final = FLEET_ONLY


def _leaves(node: Any, key: Key = ()) -> Iterator[tuple[Key, Any]]:
    if isinstance(node, dict | list):
        for k, v in _cfg.items(node):
            yield from _leaves(v, (*key, k))
    elif key:
        yield key, node


def check(target: Target, options: Options) -> Iterator[Problem]:
    if not isinstance(target, FleetTarget) or target.override is None:
        return
    settings = target.gateway.settings
    raw = settings.get("appsettings")
    if not raw:
        return
    for written, value in _leaves(raw):
        config_key = tuple(part for k in written for part in k.split(":"))
        rendered = _cfg.walk(target.override, config_key)
        if rendered is not None and _cfg.text(rendered) == _cfg.text(value):
            continue
        if value is None and _cfg.exists(target.override, config_key):
            continue  # a null is rendered as written; the runtime decides what it reads as
        modelled = settings_candidates(config_key, None)[0]
        winner = ""
        if modelled[0] != "appsettings":
            found = resolve_setting(settings, modelled)
            if len(found) >= 2:
                winner = f" by the modelled setting {'.'.join(found)}"
        message = (f"raw appsettings key {dotted(config_key)} is overridden{winner}: gwctl "
                   "renders the modelled value and drops this one")
        yield from target.report_setting(ID, LEVEL, message, pointer("appsettings", *written))
