"""What IIS, the ASP.NET Core Module (ANCM) and ASP.NET Core's host decide from a host's
own files: ``web.config``, ``applicationHost.config``, the machine environment,
``app_offline.htm`` and directory ACLs.

`hostinfo` is the typed model of what the ``read_host`` operation returns; `behaviour`
holds the decisions drawn from it (the effective environment, what a configuration that
does not load answers, whether NLog can write). The rules, the engine, doctor and the
simulator all ask these modules, so the linter and the simulator cannot disagree.
"""
