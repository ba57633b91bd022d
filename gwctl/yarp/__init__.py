"""What YARP (microsoft/reverse-proxy) does with the gateway's ``ReverseProxy`` section.

One model, two users: the rules (`gwctl.rules`) say what a configuration will do, and
the simulator (`gwctl.sim`) does it; both ask this package, so the linter and the
simulator cannot disagree about a fact encoded here.

- `gwctl.yarp.destination`: when a destination ``Address`` stops the gateway and when it
  only fails the requests sent to it.
- `gwctl.yarp.constraints`: ASP.NET Core's inline route constraints, resolved when the
  endpoint matcher is first built (the first request), not at start.
"""
