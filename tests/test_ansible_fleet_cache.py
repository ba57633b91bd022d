"""The role's fleet cache: Ansible forks a worker per host and task; the fleet is validated
by the first of them and read by the others, and validated again once it changes."""

from __future__ import annotations

import copy
import multiprocessing
from pathlib import Path
from typing import Any

import pytest
import yaml

from gwctl.ansible import fleet_cache

FLEET: dict[str, Any] = {"apiVersion": "gwctl/v1", "sites": {"north": {
    "management_server": {"host": "north-ms", "version": "2025 R2"},
    "gateways": {"north-ms": {"host": "north-ms", "colocated": True},
                 "north-gw1": {"host": "north-gw1"}}}}}


def _load_and_count(fleet: str, cache: str, log: str) -> None:
    real = fleet_cache.validate

    def counting(path: str) -> Any:
        with open(log, "a") as f:
            f.write("validated\n")
        return real(path)

    fleet_cache.validate = counting  # this forked worker only
    loaded, errors = fleet_cache.load(fleet, cache)
    assert loaded is not None and not errors
    assert {g.id for g in loaded.gateways()} == {"north/north-ms", "north/north-gw1"}


def _run_workers(fleet: Path, cache: Path, log: Path, n: int) -> None:
    ctx = multiprocessing.get_context("fork")  # as Ansible starts its workers
    workers = [ctx.Process(target=_load_and_count, args=(str(fleet), str(cache), str(log)))
               for _ in range(n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0


def test_forked_workers_validate_the_fleet_once(tmp_path: Path) -> None:
    fleet, cache, log = tmp_path / "fleet.yaml", tmp_path / "cache", tmp_path / "log"
    cache.mkdir(mode=0o700)
    fleet.write_text(yaml.safe_dump(FLEET))
    _run_workers(fleet, cache, log, 4)
    assert log.read_text() == "validated\n"
    (cached,) = cache.glob("*.pickle")
    assert cached.stat().st_mode & 0o077 == 0

    changed = copy.deepcopy(FLEET)
    changed["sites"]["north"]["gateways"]["north-gw1"]["settings"] = {
        "logging": {"levels": {"Default": "Warning"}}}
    fleet.write_text(yaml.safe_dump(changed))
    _run_workers(fleet, cache, log, 3)
    assert log.read_text() == "validated\n" * 2
    assert len(list(cache.glob("*.pickle"))) == 2


def test_an_invalid_fleet_is_cached_as_its_errors(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.yaml"
    bad = copy.deepcopy(FLEET)
    bad["sites"]["north"]["settings"] = {"cors": {"enabled": True, "allow_origins": ["*"]}}
    fleet.write_text(yaml.safe_dump(bad))
    for _ in range(2):
        loaded, errors = fleet_cache.load(str(fleet), tmp_path)
        assert loaded is None
        assert any("cors-wildcard-origin" in e for e in errors)


@pytest.mark.parametrize("cache", [None, "missing-dir"])
def test_without_a_cache_directory_the_process_cache_serves(tmp_path: Path,
                                                           cache: str | None) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump(FLEET))
    where = None if cache is None else str(tmp_path / cache)
    first, _ = fleet_cache.load(str(fleet), where)
    assert first is not None and fleet_cache.load(str(fleet), where)[0] is first
