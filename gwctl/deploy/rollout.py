"""Rolling order: a canary first, then batches; stop when failures exceed the budget.

Expired logon credentials (a Kerberos ticket) stop the rollout after their wave whatever
the budget: every further gateway would fail its logon alike.

Only gateways whose plan changes something take part in the order; unchanged ones are
reported as such without touching their hosts. Failed and rolled-back gateways both
count as failures: either way the change did not land there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from gwctl.deploy.apply import GatewayResult
from gwctl.deploy.gateway_plan import GatewayPlan
from gwctl.errors import UsageError
from gwctl.hosts.targets import Target

Applier = Callable[[Target, GatewayPlan], GatewayResult]
Report = Callable[[GatewayResult], None]
#: told before each wave starts: its label ("canary 1/2", "batch 3/5") and gateway ids
WaveReport = Callable[[str, list[str]], None]


def parse_batch(text: str, total: int) -> int:
    """``25%`` or ``10`` -> a batch size of at least 1."""
    try:
        if text.endswith("%"):
            pct = float(text[:-1])
            if not 0 < pct <= 100:
                raise ValueError
            return max(1, math.ceil(total * pct / 100))
        n = int(text)
        if n < 1:
            raise ValueError
        return n
    except ValueError:
        raise UsageError(f"--batch {text!r}: expected a positive number or a percentage "
                         "like 25%") from None


def waves(count: int, canary: int, batch: int) -> list[range]:
    """Index ranges: the canary wave(s) one gateway at a time, then batches."""
    out: list[range] = [range(i, i + 1) for i in range(min(canary, count))]
    start = min(canary, count)
    while start < count:
        out.append(range(start, min(count, start + batch)))
        start += batch
    return out


def rollout(items: Sequence[tuple[Target, GatewayPlan]], apply_one: Applier, *,
            canary: int = 1, batch: str = "25%", max_failures: int = 0,
            report: Report | None = None, on_wave: WaveReport | None = None,
            stop: Callable[[], str | None] | None = None) -> list[GatewayResult]:
    """Apply in waves. `stop` is asked before each wave; a reason (e.g. an interrupt)
    ends the rollout there: the wave in flight has finished, the rest are skipped
    untouched with that reason."""
    results: dict[int, GatewayResult] = {}
    moving = [i for i, (_, plan) in enumerate(items)
              if plan.changed or plan.error or plan.blockers]
    for i, (t, plan) in enumerate(items):
        if i not in moving:
            results[i] = GatewayResult(plan.gateway, t.name, "unchanged")
            if report:
                report(results[i])
    size = parse_batch(batch, len(moving)) if moving else 1
    failures = 0
    stopped: str | None = None
    all_waves = waves(len(moving), canary, size)
    canaries = sum(1 for w in all_waves if w.start < canary)
    for n, wave in enumerate(all_waves):
        idx = [moving[k] for k in wave]
        if stopped is None and stop is not None:
            stopped = stop()
        if stopped is not None:
            for i in idx:
                t, plan = items[i]
                results[i] = GatewayResult(plan.gateway, t.name, "skipped", stopped)
                if report:
                    report(results[i])
            continue
        if on_wave:
            label = (f"canary {n + 1}/{canaries}" if n < canaries
                     else f"batch {n - canaries + 1}/{len(all_waves) - canaries}")
            on_wave(label, [items[i][1].gateway for i in idx])
        with ThreadPoolExecutor(max_workers=len(idx)) as pool:
            done = list(pool.map(lambda i: apply_one(*items[i]), idx))
        for i, res in zip(idx, done, strict=True):
            results[i] = res
            if report:
                report(res)
            if res.outcome in ("failed", "rolled back"):
                failures += 1
            if res.credentials_expired:
                stopped = "rollout stopped: the logon credentials expired"
        if failures > max_failures and stopped is None:
            stopped = "rollout stopped after failures"
    return [results[i] for i in range(len(items))]
