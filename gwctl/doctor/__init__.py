"""``gwctl doctor``: the manual's troubleshooting chapter as checks against a live host.

Each symptom the 2025 R2 administrator manual lists becomes checks that read the live
host and the gateway, and print cause and remedy with the manual's section:

- *API Gateway doesn't answer requests* (502/503): the answer of ``/.well-known/uris``,
  the app pool's state, the live files linted as the gateway reads them, recent errors in
  the gateway's log, the ASP.NET Core Module's start-up failures in the Application event
  log (`events`);
- who changed the host: gwctl's audit records in its Application event log (`events`);
- *CORS errors*: CORS enabled at all, origins a browser can match (``scheme://host``),
  no wildcard;
- *No WebRTC connection*: ICE servers configured, each STUN/TURN server reachable (and
  TURN credentials accepted), the mDNS hint for local networks;
- certificates of https gateways: expiry and the host name;
- version mismatch: the installed gateway against its management server.
"""
