"""One TLS context per trust setting, shared by the HTTP clients a rollout opens.

httpx builds a new `ssl.SSLContext` for every `httpx.Client` and loads the whole CA bundle
into it. A rollout opens one client per gateway for the version gate's
``/.well-known/uris`` and one per health check, so on a 100-gateway apply that loading
was the largest piece of the controller's CPU (measured on this project's loaded 2-core
machine: 88 ms per client, 3.6 ms with a context built once; bench/ansible_vs_gwctl.py
shows the effect on wall time). An `ssl.SSLContext` may be shared by threads once built.
"""

from __future__ import annotations

import os
import ssl
import threading

import httpx

_lock = threading.Lock()
_contexts: dict[tuple[bool | str, str | None, str | None], ssl.SSLContext] = {}


def tls_context(verify: bool | str) -> ssl.SSLContext:
    """The context httpx would build for ``verify=`` (True: certifi's bundle, or
    ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set; a path: that CA file or directory;
    False: no verification), built once per setting."""
    # the environment is part of the key: a test or a wrapper that changes it gets its own
    key = (verify, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    with _lock:
        ctx = _contexts.get(key)
        if ctx is None:
            if isinstance(verify, str):
                # httpx warns that verify=<path> is deprecated; this is its replacement
                ctx = (ssl.create_default_context(capath=verify) if os.path.isdir(verify)
                       else ssl.create_default_context(cafile=verify))
            else:
                ctx = httpx.create_ssl_context(verify=verify)
            _contexts[key] = ctx
        return ctx
