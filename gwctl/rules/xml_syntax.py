"""A live nlog.config is not well-formed XML: NLog logs nothing, or keeps its old config.

At start, NLog's loader catches the parse error and installs an *empty* configuration:
every log line of the gateway is silently dropped, and the broken file's own internal-log
settings (``internalLogFile``) never apply, so nothing says why
(NLog/NLog src/NLog/Config/LoggingConfigurationFileLoader.cs); that empty configuration
watches the file only when the broken text holds ``autoReload="true"`` (a raw text
search, ``ScanForBooleanParameter``), else a fix waits for the next recycle. nlog.config
has ``autoReload="true"``: a change that fails to load later keeps the *previous*
configuration (src/NLog/Config/LoggingConfigurationWatchableFileLoader.cs), so a broken
edit looks harmless until the next app-pool recycle. NLog's
XML reader also prohibits DTDs, so a ``<!DOCTYPE>`` is reported here too.

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
EFFECT: Final = "silent"
OPTIONS: Final[dict[str, Any]] = {}
