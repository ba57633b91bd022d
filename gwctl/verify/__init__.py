"""Proof that a gateway works for its users: ``gwctl verify``.

Per gateway, each check is one line with pass, fail or skip, how long it took and, when it
fails, what to do: the well-known URIs answer with the expected product version; the
health user gets an IDP token and reads the REST API; every declared CORS origin's
preflights are sent for real and their answers judged as a browser judges them
(`gwctl.verify.cors_judge`); WebRTC signalling (session, ICE candidates, answer) completes;
every configured ICE server answers a STUN binding request, and TURN servers grant an
authenticated allocation with the configured credentials (aioice, `gwctl.verify.ice`).
"""
