"""gwctl cannot render a gateway's nlog.config from its settings (or its own template).

Reported by ``gwctl validate`` when the built-in template or the fleet's ``nlog.template``
fails to render, or renders something that is not well-formed XML. Nothing is deployed
for such a gateway until it is fixed.

PASS::

    settings:
      nlog:
        extra_targets:
          - {name: console, type: Console, attributes: {layout: "${message}"}}

FAIL (an attribute name that cannot be an XML name)::

    settings:
      nlog:
        extra_targets:
          - {name: console, type: Console, attributes: {"bad name": x}}
"""

from __future__ import annotations

from typing import Any, Final

from gwctl.problems import Level

ID: Final = "nlog-render"
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}
