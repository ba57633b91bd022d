"""What NLog does with the gateway's ``nlog.config``.

One model, two users: the rules report what NLog will do with a file, and the simulator
(`gwctl.sim.logs`) does it; both read the file with `gwctl.nlog.document`, so they agree
on whether NLog loads it.
"""
