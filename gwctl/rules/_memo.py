"""Per-run caches for answers about configuration objects that many gateways share.

A fleet's rendered overrides share their route and cluster objects between the gateways
of a site, and the reference base shares its sections between every gateway of a
release; a rule that asks the same question of the same object a thousand times asks it
once. A cache outlives no run (it lives in ``Target.shared``), and holds each object it
answered for, so that no other object can take over that object's ``id`` meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class ByIdentity(Generic[T]):
    """Answers keyed by object identity (for objects that are shared, not merely equal)."""

    def __init__(self) -> None:
        self._hits: dict[int, tuple[Any, T]] = {}

    def get(self, node: Any, compute: Callable[[Any], T]) -> T:
        hit = self._hits.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1]
        value = compute(node)
        self._hits[id(node)] = (node, value)
        return value


def by_identity(shared: dict[Any, Any], name: Hashable) -> ByIdentity[Any]:
    """The run's identity cache called `name` (created on first use)."""
    memo: ByIdentity[Any] | None = shared.get(name)
    if memo is None:
        memo = shared[name] = ByIdentity()
    return memo
