"""A live nlog.config is not well-formed XML: NLog keeps its old configuration.

nlog.config has ``autoReload="true"``: a change takes effect without a restart, and a
reload that fails keeps the *previous* configuration. A broken file therefore looks
harmless while every later logging change silently does nothing. NLog's XML reader also
prohibits DTDs, so a ``<!DOCTYPE>`` is reported here too.

PASS::

    <nlog xmlns="http://www.nlog-project.org/schemas/NLog.xsd">
      <targets><target name="logfile" xsi:type="File" fileName="C:\\Logs\\gw.log"
        xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" /></targets>
    </nlog>

FAIL (an unescaped ``&`` in an attribute)::

    <variable name="logDirectory" value="C:\\Logs\\R&D" />
"""

from __future__ import annotations

from typing import Any, Final

from gwctl.problems import Level

ID: Final = "xml-syntax"
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}
